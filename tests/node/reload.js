// tests/node/reload.js: query processes (node-q with the thin layer in smclient.js)
// and a REST client against a running smfs.
//   node reload.js serve  Q_PORT HTTP_PORT   the whole registration / reload cycle
//   node reload.js notready Q_PORT HTTP_PORT  a daemon with nothing to serve yet
// Environment: SMCTL, ADMIN (admin socket), CFG (assembly), TDIR (scratch dir), QSOCK
// (the q IPC Unix socket).
// Prints "ok" or exits 1 with what went wrong.
"use strict";
const assert = require("assert");
const http = require("http");
const net = require("net");
const { execFileSync } = require("child_process");
const nodeq = require("node-q");
const sm = require("./smclient.js");

const [mode, qport, hport] = [process.argv[2], +process.argv[3], +process.argv[4]];
const { SMCTL, ADMIN, CFG, TDIR } = process.env;
const sym = (s) => nodeq.symbol(s);
const span = (s) => nodeq.timespan(new Date(Date.UTC(2000, 0, 1, 0, 0, s)));
const DAY = 86400000000000n;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function smctl(...args) {
  return execFileSync(SMCTL, args, { encoding: "utf8" });
}
const clients = () => JSON.parse(smctl("clients", "--admin", ADMIN, "--json")).clients;
const versions = () => JSON.parse(smctl("versions", "--admin", ADMIN, "--json")).versions.map((v) => v.version);
const status = () => JSON.parse(smctl("status", "--admin", ADMIN, "--json"));

// Add partition DATE (trade only) as a new version through the running smfs.
let nstg = 0;
function ingest(date) {
  const dir = `${TDIR}/stg${nstg++}`;
  smctl("gen-hdb", dir, "--days", "1", "--rows", "50", "--tables", "trade", "--seed", String(nstg), "--start", date);
  return smctl("ingest", "-c", CFG, "--admin", ADMIN, dir);
}
// q date "2024.01.08" → unix ns of its midnight, BigInt.
function midnight(date) {
  const [y, m, d] = date.split(".").map(Number);
  return BigInt(Date.UTC(y, m - 1, d)) * 1000000n;
}
async function until(what, f, limitS = 60) {
  for (let i = 0; i < limitS * 10; i++) {
    if (await f()) return;
    await sleep(100);
  }
  throw new Error(`gave up waiting for: ${what}`);
}
async function rejectsWith(p, re, what) {
  await assert.rejects(p, (e) => re.test(e.message) || (console.error(what + ": got " + e.message), false), what);
}
function req(method, path, body) {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: "127.0.0.1", port: hport, method, path, headers: { "content-type": "application/json" } },
      (res) => {
        let b = "";
        res.on("data", (d) => (b += d));
        res.on("end", () => resolve({ status: res.statusCode, body: b, type: res.headers["content-type"] }));
      });
    r.on("error", reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}
const connect = () => sm.connect({ host: "127.0.0.1", port: qport });

async function notready() {
  const c = await connect();
  await rejectsWith(sm.call(c, ".sm.api.register", sym("hdb"), span(60), sym("cb")), /^state$/, "register before any version");
  await rejectsWith(sm.call(c, ".sm.api.register", sym("nope"), span(60), sym("cb")), /^mount$/, "unknown mount first");
  await rejectsWith(sm.call(c, ".sm.api.getStatus", null), /^state$/, "getStatus before any version");
  await sm.close(c);
  assert.strictEqual((await req("GET", "/readyz")).status, 503);
  assert.strictEqual((await req("GET", "/status")).status, 503);
  assert.strictEqual((await req("GET", "/healthz")).status, 200);
  const r = await req("POST", "/register", JSON.stringify({ mount: "hdb", callback: "http://127.0.0.1:1/x" }));
  assert.strictEqual(r.status, 503, r.body);
  assert.match(JSON.parse(r.body).error, /not ready/);
}

async function serve() {
  const x = await connect();
  // Documented errors and wrong types; the connection keeps working after each.
  const reg = (...a) => sm.call(x, ".sm.api.register", ...a);
  await rejectsWith(reg(sym("nope"), span(60), sym("cb")), /^mount$/, "unknown mount");
  await rejectsWith(reg(sym("hdb"), span(60), sym("")), /^callback$/, "empty callback");
  await rejectsWith(reg(sym("hdb"), span(60), null), /^callback$/, "no callback");
  await rejectsWith(reg(1.5, span(60), sym("cb")), /^type: mount/, "mount as a float");
  await rejectsWith(reg("hdb", span(60), sym("cb")), /^type: mount must be a symbol, got string/, "mount as a string");
  await rejectsWith(reg(sym("hdb"), span(60), "cb"), /^type: callback/, "callback as a string");
  await rejectsWith(reg(sym("hdb"), 1.5, sym("cb")), /^type: timeout/, "timeout as a float");
  await rejectsWith(reg(sym("hdb"), span(60), 42), /^type: callback/, "callback as a long");
  await rejectsWith(reg(sym("hdb"), span(60)), /^rank/, "two arguments");
  await rejectsWith(sm.call(x, ".sm.api.reloadComplete", 1.5), /^type: ts/, "ack with a float");
  await rejectsWith(sm.call(x, ".sm.api.nope", 1), /^\.sm\.api\.nope$/, "unknown function");

  // getStatus: every mount of the assembly, with its last signal.
  const st = await sm.call(x, ".sm.api.getStatus", null);
  assert.deepStrictEqual(st.map((r) => r.mount), ["rdb", "idb", "hdb"]);
  const hdb0 = st[2].params;
  // A q user's habit, h".sm.api.getStatus[]": the call as text, parsed, never evaluated.
  const stText = await sm.call(x, ".sm.api.getStatus[]");
  assert.deepStrictEqual(stText.map((r) => r.mount), ["rdb", "idb", "hdb"]);
  await rejectsWith(sm.call(x, "1+1"), /^smfs has no q interpreter: .*expected the name of a function/, "an expression");
  await rejectsWith(sm.call(x, ".sm.api.register[`hdb;0D00:01;`cb]x"), /unexpected text after the call/, "junk after a call");
  assert.deepStrictEqual(Object.keys(hdb0), ["ts", "minTS", "maxTS"]);
  assert.deepStrictEqual(Object.keys(st[0].params), ["ts", "minTS", "startTS", "endTS", "pos"]);
  await sm.close(x);

  // A q client's login and callback symbol are bytes, not always UTF-8: the admin
  // listing shows it all the same (each bad byte as '?'), not without it. Raw bytes,
  // since node-q writes symbols as UTF-8.
  {
    const s = net.connect(qport, "127.0.0.1");
    await new Promise((r) => s.once("connect", r));
    const next = () => new Promise((r) => s.once("data", r));
    let got = next();
    s.write(Buffer.from([0xff, ...Buffer.from("user:pw"), 3, 0]));
    await got;
    const symb = (b) => Buffer.concat([Buffer.from([0xf5]), b, Buffer.from([0])]);
    const span = Buffer.alloc(9);
    span[0] = 0xf0;
    span.writeBigInt64LE(60000000000n, 1);
    const body = Buffer.concat([Buffer.from([0, 0, 4, 0, 0, 0]), symb(Buffer.from(".sm.api.register")),
      symb(Buffer.from("hdb")), span, symb(Buffer.from([0x63, 0x62, 0xff]))]);
    const head = Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]);
    head.writeUInt32LE(8 + body.length, 4);
    got = next();
    s.write(Buffer.concat([head, body]));
    const answer = await got;
    assert.strictEqual(answer[1], 2, "a sync call gets a response");
    assert.notStrictEqual(answer[8], 0x80, "the registration is taken: " + answer.slice(9).toString("latin1"));
    const c = clients();
    assert.strictEqual(c.length, 1, "the client is listed: " + JSON.stringify(c));
    assert.strictEqual(c[0].callback, "cb?");
    assert.strictEqual(c[0].user, "?user");
    s.destroy();
    await until("the raw client gone", () => clients().length === 0);
  }

  // Registrants: A acknowledges, B never does (20 s timeout), C goes away, D and E
  // use the old [mount;sync;callback] form (1b: a sync call answered; 0b: async).
  // E comes over the Unix socket.
  const [A, B, C, D] = await Promise.all([1, 2, 3, 4].map(connect));
  const E = await sm.connect({ unixSocket: process.env.QSOCK });
  const ra = await sm.call(A, ".sm.api.register", sym("hdb"), span(60), sym("onReload"));
  assert.deepStrictEqual(Object.keys(ra), ["ts", "minTS", "maxTS", "timeout"]);
  const rb = await sm.call(B, ".sm.api.register", sym("hdb"), span(20), sym("onReload"));
  await sm.call(C, ".sm.api.register", sym("hdb"), span(60), sym("onReload"));
  const rd = await sm.call(D, ".sm.api.register", sym("hdb"), true, sym("reloadD"));
  assert.deepStrictEqual(Object.keys(rd), ["ts", "minTS", "maxTS"], "the old form answers without timeout");
  await sm.call(E, ".sm.api.register", sym("hdb"), false, sym("reloadE"));
  let cl = clients();
  assert.strictEqual(cl.length, 5);
  assert.deepStrictEqual(cl.map((c) => c.timeout_ns / 1e9), [60, 20, 60, 3600, 0]);
  assert.deepStrictEqual(cl.map((c) => c.transport), ["qipc", "qipc", "qipc", "qipc-sync", "qipc"]);
  assert.strictEqual(cl[4].peer, "unix");
  assert.ok(rb.timeout !== undefined);

  // A commit: everyone gets (callback; signal) on its own handle.
  const sigs = [A, B, C, D, E].map(sm.nextSignal);
  const before = BigInt(Date.now()) * 1000000n;
  ingest("2024.01.22");
  const [sa, sb, sc, sdd, se] = await Promise.all(sigs);
  assert.strictEqual(sa.fn, "onReload");
  assert.strictEqual(sdd.fn, "reloadD");
  assert.strictEqual(se.fn, "reloadE");
  assert.ok(sdd.sync && !sa.sync && !se.sync, "D's signal is a sync message, the others async");
  assert.deepStrictEqual(Object.keys(sa.sig), ["ts", "minTS", "maxTS"]);
  assert.strictEqual(sa.sig.ts.qtype, -12);
  const ts = sa.sig.ts.v;
  assert.ok(sm.unixNs(ts) >= before - 1000000000n, "ts is when the ingest started");
  assert.strictEqual(sm.unixNs(sa.sig.maxTS.v), midnight("2024.01.22") + DAY - 1n, "maxTS: the last nanosecond of the new last day");
  assert.strictEqual(sm.unixNs(sa.sig.minTS.v), midnight("2024.01.02"), "minTS: the first day");
  assert.strictEqual(sb.sig.ts.v, ts);
  sm.ack(A, ts);         // to the nanosecond
  await sm.close(C);     // C goes away without acknowledging
  void sc;
  await until("A's ack and D's answer counted", () => {
    cl = clients();
    return cl.length === 4 && cl[0].acked === 1 && cl[2].acked === 1;
  });
  assert.deepStrictEqual(cl.map((c) => c.pending), [0, 1, 0, 0], "only B still owes an acknowledgement");
  assert.deepStrictEqual(versions(), [1, 2], "B holds version 1");
  const hz = JSON.parse((await req("GET", "/healthz")).body);
  assert.strictEqual(hz.pending_acks, 1);
  assert.strictEqual(hz.message, "Storage is lagging, waiting on 1 pending reload signals");
  assert.strictEqual(status().reload.versions_held, 1);
  // The getStatus answer moved with the commit.
  const st2 = await sm.call(A, ".sm.api.getStatus", null);
  assert.ok(st2[2].params.maxTS > hdb0.maxTS);

  // B's timeout passes: version 1 is let go and vacuumed by itself.
  await until("version 1 reclaimed after B's timeout", () => versions().join() === "2");
  cl = clients();
  assert.strictEqual(cl[1].timeouts, 1);
  assert.strictEqual(status().reload.versions_held, 0);

  // A disconnect releases at once: F holds for a minute but goes away on its signal.
  await Promise.all([B, D, E].map(sm.close));
  const F = await connect();
  await sm.call(F, ".sm.api.register", sym("hdb"), span(60), sym("onReload"));
  const [s2a, s2f] = await Promise.all([A, F].map(sm.nextSignal).concat([ingest("2024.01.23")]).slice(0, 2));
  sm.ack(A, s2a.sig.ts.v);
  assert.strictEqual(s2f.sig.ts.v, s2a.sig.ts.v);
  assert.deepStrictEqual(versions(), [2, 3], "F holds version 2");
  await sm.close(F);
  await until("version 2 reclaimed when F left", () => versions().join() === "3", 30);
  assert.strictEqual(clients().length, 1);

  // An acknowledgement of a ts nobody waits for, and garbage on another connection:
  // both leave A's connection working.
  sm.ack(A, 12345n);
  const g = net.connect(qport, "127.0.0.1");
  g.on("data", () => {});   // flowing, so the close is seen
  await new Promise((r) => g.on("connect", r));
  g.write(Buffer.from("u:p\x03\x00", "binary"));
  await sleep(50);
  g.write(Buffer.from([1, 1, 0, 0, 0xff, 0xff, 0xff, 0x7f, 9, 9, 9]));
  await new Promise((r) => g.on("close", r));
  assert.strictEqual((await sm.call(A, ".sm.api.getStatus", null)).length, 3);

  // REST: a receiver registers, gets the next signal POSTed, and the errors.
  const got = [];
  const recv = http.createServer((rq, rs) => {
    let b = "";
    rq.on("data", (d) => (b += d));
    rq.on("end", () => { got.push({ path: rq.url, body: JSON.parse(b) }); rs.end("ok"); });
  });
  await new Promise((r) => recv.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${recv.address().port}/reload`;
  let r = await req("POST", "/register", JSON.stringify({ mount: "hdb", callback: url }));
  assert.strictEqual(r.status, 200, r.body);
  const rsig = JSON.parse(r.body);
  assert.match(rsig.maxTS, /^2024\.01\.23D23:59:59\.999999999$/);
  assert.match(rsig.ts, /^\d{4}\.\d\d\.\d\dD\d\d:\d\d:\d\d\.\d{9}$/);
  r = await req("POST", "/register", JSON.stringify({ mount: "nope", callback: url }));
  assert.strictEqual(r.status, 404);
  for (const bad of ["{not json", "[]", JSON.stringify({ mount: "hdb" }), JSON.stringify({ mount: "hdb", callback: "ftp://x" }),
    JSON.stringify({ mount: 5, callback: url })]) {
    r = await req("POST", "/register", bad);
    assert.strictEqual(r.status, 400, `${bad}: ${r.body}`);
    assert.ok(JSON.parse(r.body).error, "a JSON error body");
  }
  r = await req("POST", "/register", "x".repeat(70000));
  assert.strictEqual(r.status, 413);
  assert.strictEqual((await req("GET", "/nope")).status, 404);
  assert.strictEqual((await req("GET", "/register")).status, 405);
  r = await req("GET", "/status");
  assert.deepStrictEqual(JSON.parse(r.body).map((m) => m.mount), ["rdb", "idb", "hdb"]);
  assert.strictEqual((await req("GET", "/readyz")).status, 200);

  const s3 = sm.nextSignal(A);
  ingest("2024.01.24");
  sm.ack(A, (await s3).sig.ts.v);
  await until("the REST callback", () => got.length === 1);
  assert.strictEqual(got[0].path, "/reload");
  assert.strictEqual(got[0].body.mount, "hdb");
  assert.strictEqual(got[0].body.maxTS, "2024.01.24D23:59:59.999999999");

  // /metrics: Prometheus text, every sample line well-formed, the figures right.
  r = await req("GET", "/metrics");
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  const m = {}, types = {};
  for (const line of r.body.split("\n")) {
    if (!line || line.startsWith("# HELP ")) continue;
    const t = /^# TYPE ([a-z_]+) (gauge|counter|histogram)$/.exec(line);
    if (t) {
      assert.ok(!types[t[1]], `${t[1]} typed twice`);
      types[t[1]] = t[2];
      continue;
    }
    const mm = /^([a-z_]+)(\{[a-z_]+="[^"]*"(?:,[a-z_]+="[^"]*")*\})? (-?[0-9.]+(?:e[-+]?[0-9]+)?)$/.exec(line);
    assert.ok(mm, `bad metrics line: ${line}`);
    const fam = mm[1].replace(/_(bucket|sum|count)$/, "");
    assert.ok(types[mm[1]] || types[fam] === "histogram", `${mm[1]} has no TYPE line`);
    m[mm[1] + (mm[2] || "")] = Number(mm[3]);
  }
  // No family is both a gauge and a _total counter; counters end in _total.
  for (const [name, type] of Object.entries(types)) {
    if (type === "counter") assert.ok(name.endsWith("_total"), `counter ${name} without _total`);
    else assert.ok(!types[name + "_total"], `${name} is a ${type} and ${name}_total a counter`);
  }
  assert.strictEqual(m['smfs_build_info{version="0.1.0",mode="vanilla"}'], 1);
  assert.ok(m.process_open_fds > 3 && m.process_max_fds >= m.process_open_fds);
  assert.ok(m.process_resident_memory_bytes > 1e6 && m.process_cpu_seconds_total > 0);
  assert.strictEqual(m.smfs_commit_duration_seconds_count, 3);
  assert.strictEqual(m.smfs_reload_fanout_seconds_count, 3);
  assert.strictEqual(m['smfs_commit_duration_seconds_bucket{le="+Inf"}'], 3);
  let prev = 0;
  for (const le of ["0.001", "0.01", "0.1", "1", "5", "30", "120", "+Inf"]) {
    const v = m[`smfs_commit_duration_seconds_bucket{le="${le}"}`];
    assert.ok(v >= prev, `cumulative buckets: le=${le}`);
    prev = v;
  }
  assert.ok(m['smfs_tier_bytes{tier="hdb"}'] > 0 && m['smfs_tier_files{tier="hdb"}'] > 0);
  assert.ok(m['smfs_tier_filesystem_avail_bytes{tier="hdb"}'] > 0);
  assert.strictEqual(m.smfs_commits_total, 3);
  assert.strictEqual(m.smfs_version_current, 4);
  assert.strictEqual(m['smfs_registered_clients{transport="qipc"}'], 1);
  assert.strictEqual(m['smfs_registered_clients{transport="rest"}'], 1);
  assert.strictEqual(m.smfs_pending_acks, 0);
  assert.strictEqual(m.smfs_reload_ack_timeouts_total, 1);
  assert.ok(m.smfs_reload_unmatched_acks_total >= 1);
  assert.ok(m.smfs_reload_signals_total >= 8);
  assert.strictEqual(m.smfs_rest_callbacks_total, 1);
  assert.ok(m['smfs_ipc_errors_total{kind="dropped"}'] >= 1, "the garbage connection was dropped");
  assert.ok(m['smfs_ipc_errors_total{kind="error_reply"}'] >= 9);
  assert.ok(m.smfs_ipc_connections_open >= 1);
  recv.close();
  await sm.close(A);
}

(mode === "notready" ? notready() : serve()).then(() => console.log("ok"), (e) => {
  console.error("FAIL:", e && e.stack ? e.stack : e);
  process.exit(1);
});
