// tests/node/flood.js: hostile crowds and a canary, for t_hostile. Plain sockets, so
// the crowd behaves exactly as an attacker's script would.
//   node flood.js qflood PORT N SECONDS        N q IPC connections from 127.0.0.1 that
//                                              never log in, or log in and sit idle
//   node flood.js restflood PORT N SECONDS     N HTTP connections trickling a header
//   node flood.js regs PORT N URL              N POST /register with callback URL+i
//   node flood.js qcanary PORT SECONDS         from 127.0.0.2: log in, then a sync
//                                              ".sm.api.getStatus[]" every 50 ms
//   node flood.js restcanary PORT SECONDS      from 127.0.0.2: GET /healthz every 50 ms
// Each prints one JSON line of counts.
"use strict";
const net = require("net");
const http = require("http");

const [mode, port, a, b] = process.argv.slice(2);
const P = Number(port);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function qflood(n, secs) {
  let opened = 0, refused = 0;
  const socks = [];
  for (let i = 0; i < n; i++) {
    await new Promise((res) => {
      const s = net.connect({ port: P, host: "127.0.0.1" });
      s.on("connect", () => {
        opened++;
        // Every other one logs in and then idles; the rest never log in.
        if (i % 2) s.write(Buffer.from("idle\x03\x00", "latin1"));
        res();
      });
      s.on("error", () => { refused++; res(); });
      s.on("close", () => {});
      socks.push(s);
    });
  }
  await sleep(secs * 1000);
  const closedByServer = socks.filter((s) => s.destroyed || s.readyState !== "open").length;
  socks.forEach((s) => s.destroy());
  console.log(JSON.stringify({ opened, refused, closedByServer }));
}

async function restflood(n, secs) {
  let opened = 0, refused = 0;
  const socks = [];
  for (let i = 0; i < n; i++) {
    await new Promise((res) => {
      const s = net.connect({ port: P, host: "127.0.0.1" });
      s.on("connect", () => { opened++; s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n"); res(); });
      s.on("error", () => { refused++; res(); });
      socks.push(s);
    });
  }
  const end = Date.now() + secs * 1000;
  while (Date.now() < end) {           // a header line every 2 s: never finished
    await sleep(2000);
    socks.forEach((s) => { if (!s.destroyed) s.write("X-Slow: 1\r\n"); });
  }
  socks.forEach((s) => s.destroy());
  console.log(JSON.stringify({ opened, refused }));
}

function post(path, body) {
  return new Promise((res) => {
    const r = http.request({ host: "127.0.0.1", port: P, method: "POST", path, agent: false,
                             headers: { "content-type": "application/json" } },
      (x) => { x.resume(); x.on("end", () => res(x.statusCode)); });
    r.on("error", () => res(0));
    r.end(body);
  });
}

async function regs(n, url) {
  const by = {};
  for (let i = 0; i < n; i++) {
    const st = await post("/register", JSON.stringify({ mount: "hdb", callback: `${url}${i}` }));
    by[st] = (by[st] || 0) + 1;
  }
  console.log(JSON.stringify(by));
}

// One sync q IPC call on a logged-in socket: resolves to true on a response.
function qcall(s, text) {
  return new Promise((res) => {
    const body = Buffer.concat([Buffer.from([10, 0]), Buffer.alloc(4), Buffer.from(text, "latin1")]);
    body.writeInt32LE(text.length, 2);
    const h = Buffer.alloc(8);
    h[0] = 1; h[1] = 1;
    h.writeUInt32LE(8 + body.length, 4);
    let got = Buffer.alloc(0);
    const onData = (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 8 && got.length >= got.readUInt32LE(4)) {
        s.off("data", onData);
        res(got[1] === 2 && got[8] !== 0x80);
      }
    };
    s.on("data", onData);
    s.write(Buffer.concat([h, body]));
    setTimeout(() => { s.off("data", onData); res(false); }, 10000);
  });
}

async function qcanary(secs) {
  const s = net.connect({ port: P, host: "127.0.0.1", localAddress: "127.0.0.2" });
  await new Promise((res, rej) => { s.once("connect", res); s.once("error", rej); });
  s.write(Buffer.from("canary\x03\x00", "latin1"));
  await new Promise((res) => s.once("data", res));
  let ok = 0, failed = 0;
  const end = Date.now() + secs * 1000;
  while (Date.now() < end) {
    if (await qcall(s, ".sm.api.getStatus[]")) ok++;
    else failed++;
    await sleep(50);
  }
  s.destroy();
  console.log(JSON.stringify({ ok, failed }));
}

function get(path) {
  return new Promise((res) => {
    const r = http.request({ host: "127.0.0.1", port: P, path, localAddress: "127.0.0.2", agent: false, timeout: 10000 },
      (x) => { x.resume(); x.on("end", () => res(x.statusCode)); });
    r.on("error", () => res(0));
    r.on("timeout", () => { r.destroy(); res(0); });
    r.end();
  });
}

async function restcanary(secs) {
  let ok = 0, failed = 0;
  const end = Date.now() + secs * 1000;
  while (Date.now() < end) {
    if ((await get("/healthz")) === 200) ok++;
    else failed++;
    await sleep(50);
  }
  console.log(JSON.stringify({ ok, failed }));
}

const run = { qflood: () => qflood(Number(a), Number(b)), restflood: () => restflood(Number(a), Number(b)),
              regs: () => regs(Number(a), b), qcanary: () => qcanary(Number(a)),
              restcanary: () => restcanary(Number(a)) }[mode];
if (!run) { console.error(`flood.js: unknown mode ${mode}`); process.exit(2); }
run().catch((e) => { console.error(`flood.js ${mode}: ${e.stack || e}`); process.exit(1); });
