// tests/node/ipc_conformance.js PORT UNIX_PATH: node-q, an independent q IPC
// implementation, against smfs's server (tests/helpers/ipc_testd with --users).
// Logs in with right and wrong passwords, calls functions with values of every
// type and checks what comes back, sends async messages, a large message, a call
// over the Unix socket, and receives an async callback. Prints "ok" or exits 1.
"use strict";
const nodeq = require("node-q");
const Long = require("long");
const assert = require("assert");

const port = parseInt(process.argv[2], 10);
const unixPath = process.argv[3];

function connect(params) {
  return new Promise((resolve, reject) =>
    nodeq.connect(Object.assign({ nanos2date: false }, params), (err, con) => (err ? reject(err) : resolve(con))));
}
function k(con, ...args) {
  return new Promise((resolve, reject) => con.k(...args, (err, res) => (err ? reject(err) : resolve(res))));
}
function ks(con, ...args) {
  return new Promise((resolve, reject) => con.ks(...args, (err) => (err ? reject(err) : resolve())));
}
const close = (con) => new Promise((resolve) => con.close(resolve));

async function main() {
  // Logins: a wrong password and an unknown user are refused; right ones work.
  for (const bad of [{ user: "alice", password: "nope" }, { user: "mallory", password: "x" }]) {
    let refused = false;
    try {
      const con = await connect({ host: "127.0.0.1", port, ...bad });
      // node-q may report the refusal only on first use
      try { await k(con, "echo", 1); } catch (e) { refused = true; }
      await close(con).catch(() => {});
    } catch (e) {
      refused = true;
    }
    assert.ok(refused, `login ${bad.user}:${bad.password} was accepted`);
  }
  const con = await connect({ host: "127.0.0.1", port, user: "alice", password: "secret" });
  const con2 = await connect({ host: "127.0.0.1", port, user: "bob", password: "hunter2" }); // sha256 entry
  const con3 = await connect({ host: "127.0.0.1", port, user: "carol", password: "letmein" }); // md5, as kdb+'s -u
  assert.strictEqual(await k(con3, "echo", 7.5), 7.5);
  await close(con3);

  // Types: what node-q sends is what comes back, and q's type number is right.
  const cases = [
    [nodeq.boolean(true), -1, true],
    [nodeq.guid("3a4c0dbd-f3c2-4a45-9fde-1db7d9f2c9b4"), -2, "3a4c0dbd-f3c2-4a45-9fde-1db7d9f2c9b4"],
    [nodeq.byte(100), -4, 100],
    [nodeq.short(-123), -5, -123],
    [nodeq.int(123456), -6, 123456],
    [nodeq.long(Long.fromString("9007199254740993")), -7, null],
    [nodeq.real(1.5), -8, 1.5],
    [nodeq.float(2.25), -9, 2.25],
    [nodeq.char("x"), -10, "x"],
    [nodeq.symbol("AAPL"), -11, "AAPL"],
    [nodeq.timestamp(new Date(Date.UTC(2024, 0, 2, 9, 30))), -12, null],
    [nodeq.month(new Date(Date.UTC(2024, 4, 1))), -13, null],
    [nodeq.date(new Date(Date.UTC(2024, 0, 2))), -14, null],
    [nodeq.datetime(new Date(Date.UTC(2024, 0, 2, 12))), -15, null],
    [nodeq.timespan(new Date(Date.UTC(2000, 0, 1, 0, 10))), -16, null],
    [nodeq.minute(new Date(Date.UTC(2000, 0, 1, 9, 30))), -17, null],
    [nodeq.second(new Date(Date.UTC(2000, 0, 1, 9, 30, 5))), -18, null],
    [nodeq.time(new Date(Date.UTC(2000, 0, 1, 9, 30, 5, 250))), -19, null],
    [nodeq.booleans([true, false]), 1, [true, false]],
    [nodeq.bytes([1, 2, 127]), 4, [1, 2, 127]],
    [nodeq.shorts([1, -2]), 5, [1, -2]],
    [nodeq.ints([1, -2, 3]), 6, [1, -2, 3]],
    [nodeq.longs([Long.fromInt(1), Long.fromInt(-2)]), 7, [1, -2]],
    [nodeq.reals([0.5, 0.25]), 8, [0.5, 0.25]],
    [nodeq.floats([1.5, Infinity, -Infinity]), 9, [1.5, Infinity, -Infinity]],
    ["hello", 10, "hello"],
    [nodeq.symbols(["a", "bc", ""]), 11, ["a", "bc", null]],
    [nodeq.timestamps([new Date(Date.UTC(2024, 0, 2))]), 12, null],
    [nodeq.dates([new Date(Date.UTC(2024, 0, 2)), new Date(Date.UTC(1999, 11, 31))]), 14, null],
    [nodeq.timespans([new Date(Date.UTC(2000, 0, 1, 1))]), 16, null],
    [[1.5, "x", nodeq.symbol("s")], 0, [1.5, "x", "s"]],
    [{ a: 1.5, b: "x" }, 99, { a: 1.5, b: "x" }],
  ];
  for (const [value, type, expect] of cases) {
    const t = await k(con, "type", value);
    assert.strictEqual(t, type, `type of ${JSON.stringify(value)}: got ${t}, want ${type}`);
    const back = await k(con, "echo", value);
    if (expect !== null) assert.deepStrictEqual(back, expect, `echo of type ${type}`);
    else assert.ok(back !== undefined, `echo of type ${type} returned nothing`);
  }
  // The exact values round-trip through both directions for the types node-q keeps exact.
  const ts = await k(con, "echo", nodeq.timestamp(new Date(Date.UTC(2024, 0, 2, 9, 30))));
  // node-q gives nanoseconds since 1970 as a double: exact to a microsecond here.
  assert.ok(Math.abs(ts - Date.UTC(2024, 0, 2, 9, 30) * 1e6) < 1e3, `timestamp came back as ${ts}`);
  const d = await k(con, "echo", nodeq.date(new Date(Date.UTC(2024, 0, 2))));
  assert.strictEqual(d.toISOString(), "2024-01-02T00:00:00.000Z");
  const lng = await new Promise((resolve, reject) =>
    nodeq.connect({ host: "127.0.0.1", port, user: "alice", password: "secret", long2number: false }, (err, c) => {
      if (err) return reject(err);
      c.k("echo", nodeq.long(Long.fromString("9007199254740993")), (e, r) => { c.close(() => {}); e ? reject(e) : resolve(r); });
    }));
  assert.strictEqual(lng.toString(), "9007199254740993");

  // Functions with several arguments, results of q types, errors.
  assert.strictEqual(await k(con, "add", nodeq.long(Long.fromInt(2)), nodeq.long(Long.fromInt(3))), 5);
  assert.strictEqual(await k(con2, "add", 1.5, 2.25), 3.75);
  await assert.rejects(k(con, "fail", "boom"), (e) => e.message === "boom");
  await assert.rejects(k(con, "no.such.fn", 1), (e) => e.message === "no.such.fn");
  await assert.rejects(k(con, "2+2"), (e) => /no q interpreter/.test(e.message));
  assert.strictEqual(await k(con, "count", nodeq.symbols(["a", "b", "c"])), 3);

  // Async: the server runs notify; a sync call afterwards sees it (one connection, in order).
  await ks(con, "notify", nodeq.symbol("hello"), 42.5);
  assert.deepStrictEqual(await k(con, "lastAsync", null), ["hello", 42.5]);

  // A large message (8 MB of floats) our server must accept, and a large reply.
  const n = 1000000;
  const big = new Array(n);
  for (let i = 0; i < n; i++) big[i] = i * 0.5;
  assert.strictEqual(await k(con, "count", nodeq.floats(big)), n);
  const r = await k(con, "big", nodeq.long(Long.fromInt(300000)));
  assert.strictEqual(r.length, 300000);
  assert.strictEqual(r[299999], 299999);

  // A callback arrives async on the same handle after the reply (what reload signals do).
  const got = new Promise((resolve) => con.once("upd", (x) => resolve(x)));
  assert.strictEqual(await k(con, "callback", nodeq.symbol("upd"), nodeq.symbol("trade")), "ok");
  assert.strictEqual(await got, "trade");

  // The Unix socket serves the same functions.
  const ucon = await connect({ unixSocket: unixPath, user: "alice", password: "secret" });
  assert.strictEqual(await k(ucon, "add", 1.0, 2.0), 3);
  await close(ucon);

  await close(con);
  await close(con2);
  console.log("ok");
}

main().catch((e) => {
  console.error("FAIL:", e && e.stack ? e.stack : e);
  process.exit(1);
});
