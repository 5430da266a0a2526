// tests/node/tickerplant.js: a kdb+tick tickerplant (tick.q with u.q) written on node-q's
// codec, not on smfs's, for the stream tests. It behaves as tick.q does where smfs can
// tell: logins, .u.sub (r.q's form and smfs's), .u `i`L, upd fan-out to the subscribers
// of each table, a -11! log of every update (written before it is published), .u.end
// with the log rolled to the next day, .u.upd from any client (how smfs publishes
// _prtnEnd and _reload), and batch mode (-t: log now, publish on a timer).
//
//   node tickerplant.js PORT LOGDIR CTLPORT [--date YYYY.MM.DD] [--batch MS] [--users FILE]
// (port 0: any free port; once listening it prints {"port":P,"ctl":C} on stdout)
//
// The test drives it over HTTP on CTLPORT (POST / with one JSON command):
//   {"cmd":"publish","table":"trade","batches":B,"rows":R,"form":"cols"|"table"|"row",
//    "late":L}                              rows stamped L days before the tickerplant's
//   {"cmd":"run","every_ms":M,"rows":R}    publish trade and quote every M ms, forms in turn
//   {"cmd":"halt"}                          stop "run"
//   {"cmd":"blast","batches":B,"rows":R}    B updates of R rows per table, as fast as it
//                                           can (the same rows each time: for benchmarks)
//   {"cmd":"end"}                           .u.end to every subscriber, roll the log
//   {"cmd":"hostile","kind":K}              K: badtype unknown fewcols notupd garbage
//   {"cmd":"badlog"}                        log and publish an update of the wrong types
//   {"cmd":"stats"}                         {date, log, i, j, rows, subscribers, received}
// Its tables are smfs's embedded default assembly's (trade, quote) and the stream
// signals'. Rows are a function of their sequence number per table (trade's size,
// quote's bsize), so a test can check every value of every row it reads back.
"use strict";
const fs = require("fs");
const net = require("net");
const http = require("http");
const path = require("path");
const Long = require("long");
const nodeq = require("node-q");
const c = require("node-q/lib/c.js");

const argv = process.argv.slice(2);
const [PORT, LOGDIR, CTLPORT] = [Number(argv[0]), argv[1], Number(argv[2])];
const opt = (name) => { const i = argv.indexOf(name); return i > 0 ? argv[i + 1] : undefined; };
let date = opt("--date") || "2026.02.18";
const BATCH = Number(opt("--batch") || 0);
const USERS = opt("--users") ? fs.readFileSync(opt("--users"), "utf8").split("\n").filter((l) => l) : null;

// ---- q bytes, from node-q's serializer ----------------------------------------------
const body = (x) => c.serialize(x).slice(8);              // an object without the IPC header
const i32 = (n) => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; };
const list = (items) => Buffer.concat([Buffer.from([0, 0]), i32(items.length), ...items]);
const table = (names, cols) => Buffer.concat([Buffer.from([98, 0, 99]), body(nodeq.symbols(names)), list(cols)]);
const qerror = (s) => Buffer.concat([Buffer.from([0x80]), Buffer.from(s, "latin1"), Buffer.from([0])]);
function frame(type, b) {                                  // 0 async, 2 response
  const h = Buffer.from([1, type, 0, 0, 0, 0, 0, 0]);
  h.writeUInt32LE(8 + b.length, 4);
  return Buffer.concat([h, b]);
}
const sym = (s) => body(nodeq.symbol(s));

// ---- the schema: smfs's embedded default assembly (smctl config default) ---------------
const SYMS = ["AAPL", "MSFT", "IBM", "GOOG", "VOD.L", "BP.L", "7203.T"];
const COLS = {
  trade: ["sym", "time", "price", "size", "ex", "cond"],
  quote: ["sym", "time", "bid", "ask", "bsize", "asize", "ex", "mode"],
  _prtnEnd: ["time", "sym", "signal", "endTS", "opts"],
  _reload: ["time", "sym", "mount", "params"],
};
const TABLES = Object.keys(COLS);
const Typed = require("node-q/lib/typed.js").Typed;
const emptyTyped = (t) => body(new Typed("typedlist", [], t));
function schema(t) {
  const e = { time: "timestamp", sym: "symbol", price: "float", size: "long", bid: "float", ask: "float",
              bsize: "long", asize: "long", ex: "char", signal: "symbol", endTS: "timestamp", mount: "symbol" };
  const cols = COLS[t].map((n) => {
    if (t[0] === "_" && n === "time") return emptyTyped("timespan");
    if (!e[n]) return list([]);                            // cond, mode, opts, params: untyped ()
    const b = emptyTyped(e[n]);
    if (n === "sym") b[1] = 4;                             // `g# as tick.q's schemas carry
    return b;
  });
  return table(COLS[t], cols);
}

// Row `seq` of table t, one JS value per column; size (trade) and bsize (quote) are
// the row's sequence number, so a reader can tell a missing or doubled row. Times are
// q timestamps (ns since 2000.01.01) as BigInt, written by hand below: node-q's own
// timestamp writer goes through a double and loses the last digits.
// Row s is stamped 09:00 of its day plus s milliseconds; its day is the tickerplant's
// (earlier by LATE days for late rows).
function day0(d, late) {
  const [y, m, dd] = d.split(".").map(Number);
  return BigInt(Date.UTC(y, m - 1, dd - (late || 0), 9, 0, 0) - Date.UTC(2000, 0, 1)) * 1000000n;
}
const EX = "NLQ";
let stamp = day0(date, 0);                                  // 09:00 of the day rows are made for
function rowOf(t, s) {
  const time = stamp + BigInt(s) * 1000000n;                 // a millisecond apart
  if (t === "trade")
    return [SYMS[s % 7], time, 10 + (s % 1000) * 0.25, Long.fromNumber(s), EX[s % 3], s % 11 === 0 ? "" : "c" + (s % 13)];
  const bid = 10 + (s % 800) * 0.125;
  return [SYMS[(s * 3) % 7], time, bid, bid + 0.25, Long.fromNumber(s), Long.fromNumber((s % 200) + 2), EX[(s + 1) % 3],
          "m" + (s % 5)];
}
const KIND = { trade: ["symbols", "timestamps", "floats", "longs", "chars", "strings"],
               quote: ["symbols", "timestamps", "floats", "floats", "longs", "longs", "chars", "strings"] };
function timestamps(vals) {                                 // type 12, attribute 0, count, int64s
  const b = Buffer.alloc(6 + 8 * vals.length);
  b[0] = 12;
  b.writeInt32LE(vals.length, 2);
  vals.forEach((v, k) => b.writeBigInt64LE(v, 6 + 8 * k));
  return b;
}
function timestampAtom(v) {
  const b = Buffer.alloc(9);
  b[0] = 0xf4;                                               // -12
  b.writeBigInt64LE(v, 1);
  return b;
}
function column(kind, vals) {
  if (kind === "strings") return list(vals.map((s) => body(s)));  // a general list of char vectors
  if (kind === "timestamps") return timestamps(vals);
  return body(nodeq[kind](vals));
}
function colsOf(t, seqs) {
  const rows = seqs.map((s) => rowOf(t, s));
  return KIND[t].map((k, j) => column(k, rows.map((r) => r[j])));
}
function atomsOf(t, s) {
  const atom = { symbols: "symbol", floats: "float", longs: "long", chars: "char" };
  return list(rowOf(t, s).map((v, j) => KIND[t][j] === "strings" ? body(v)
                                 : KIND[t][j] === "timestamps" ? timestampAtom(v) : body(nodeq[atom[KIND[t][j]]](v))));
}

// ---- state ------------------------------------------------------------------------------
let i = 0, j = 0;                                           // .u.i (published), .u.j (logged)
const seq = { trade: 0, quote: 0 };                         // next row of each table, over days
let first = { ...seq };                                     // the first of today's
const rows = {};                                            // rows logged today, by table
const subs = new Map(TABLES.map((t) => [t, new Set()]));
const received = { _prtnEnd: [], _reload: [] };
const pending = { trade: [], quote: [] };                   // batch mode: seqs not yet published
let logPath, logFd;

function openLog() {
  logPath = path.join(LOGDIR, "sym" + date);
  const fresh = !fs.existsSync(logPath);
  logFd = fs.openSync(logPath, "a");
  if (fresh) fs.writeSync(logFd, Buffer.from([0xff, 0x01, 0, 0, 0, 0, 0, 0]));
  i = j = 0;
  for (const t of TABLES) rows[t] = 0;
  first = { ...seq };
}
fs.mkdirSync(LOGDIR, { recursive: true });
openLog();

// tick.q's .u.upd: log first (l enlist(`upd;t;x); j+:1), then publish (or, in batch
// mode, keep for the timer).
function upd(t, data, n, seqs) {
  const msg = list([sym("upd"), sym(t), data]);
  fs.writeSync(logFd, msg);
  j++;
  rows[t] = (rows[t] || 0) + n;
  if (BATCH && seqs) { pending[t].push(...seqs); return; }
  publish(t, data);
  i = j;
}
function publish(t, data) {
  const m = frame(0, list([sym("upd"), sym(t), data]));
  for (const s of subs.get(t) || []) s.write(m);
}
if (BATCH) setInterval(() => {
  for (const t of ["trade", "quote"]) {
    if (!pending[t].length) continue;
    publish(t, list(colsOf(t, pending[t])));
    pending[t] = [];
  }
  i = j;
}, BATCH);

function feed(t, n, form, late) {
  const seqs = Array.from({ length: n }, (_, k) => seq[t] + k);
  seq[t] += n;
  stamp = day0(date, late);
  if (form === "row") {
    for (const s of seqs) upd(t, atomsOf(t, s), 1, [s]);
  } else if (form === "table") {
    upd(t, table(COLS[t], colsOf(t, seqs)), n, seqs);
  } else {
    upd(t, list(colsOf(t, seqs)), n, seqs);
  }
}

// ---- the q IPC side --------------------------------------------------------------------
function answer(q, conn) {
  let m;
  if ((m = /^\(\.u\.sub\[;`\]each\(\),((?:`[\w.]+)+);`\.u `i`L;@\[value;`\.u\.t;\(\)\]\)$/.exec(q))) {
    const want = m[1].slice(1).split("`");
    const bad = want.find((t) => !COLS[t]);
    if (bad) return qerror(bad);
    want.forEach((t) => subs.get(t).add(conn));
    return list([list(want.map((t) => list([sym(t), schema(t)]))),
                 list([body(nodeq.long(Long.fromNumber(i))), sym(":" + logPath)]), body(nodeq.symbols(TABLES))]);
  }
  if (q === "(.u.sub[`;`];`.u `i`L)") {                    // r.q
    TABLES.forEach((t) => subs.get(t).add(conn));
    return list([list(TABLES.map((t) => list([sym(t), schema(t)]))),
                 list([body(nodeq.long(Long.fromNumber(i))), sym(":" + logPath)])]);
  }
  if ((m = /^\.u\.sub\[`([\w.]+);`\]$/.exec(q))) {
    if (!COLS[m[1]]) return qerror(m[1]);
    subs.get(m[1]).add(conn);
    return list([sym(m[1]), schema(m[1])]);
  }
  if (q === "`.u `i`L") return list([body(nodeq.long(Long.fromNumber(i))), sym(":" + logPath)]);
  return qerror("nyi: " + q.slice(0, 40));
}

// An async (`.u.upd;`t;x) from a client: logged and published like any update.
function clientUpd(o, raw) {
  const t = o[1];
  if (!COLS[t] || !Array.isArray(o[2])) return;
  if (received[t]) received[t].push(o[2]);
  // The data as sent: what follows the list's header, `.u.upd and `t in the raw bytes
  // (a symbol atom is its type byte, the name and a NUL).
  const data = raw.slice(8 + 6 + (2 + o[0].length) + (2 + t.length));
  upd(t, data, Array.isArray(o[2][0]) ? o[2][0].length : 1, null);
}

const server = net.createServer((conn) => {
  let buf = Buffer.alloc(0), loggedIn = false;
  conn.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    if (!loggedIn) {
      const z = buf.indexOf(0);
      if (z < 0) return;
      const cred = buf.slice(0, z - 1).toString("latin1");
      if (USERS && !USERS.includes(cred)) { conn.destroy(); return; }
      conn.write(Buffer.from([3]));
      loggedIn = true;
      buf = buf.slice(z + 1);
    }
    while (buf.length >= 8) {
      const len = buf.readUInt32LE(4);
      if (buf.length < len) return;
      const raw = buf.slice(0, len);
      buf = buf.slice(len);
      let o;
      try { o = c.deserialize(raw, false, false, false, true); } catch (e) { conn.destroy(); return; }
      if (raw[1] === 1) {
        conn.write(frame(2, typeof o === "string" ? answer(o, conn) : qerror("type")));
      } else if (Array.isArray(o) && (o[0] === ".u.upd" || o[0] === "upd")) {
        clientUpd(o, raw);
      }
    }
  });
  conn.on("error", () => {});
  conn.on("close", () => subs.forEach((s) => s.delete(conn)));
});
let ready = 0;
function announce() {                                      // both ports bound: say which
  if (++ready === 2) console.log(JSON.stringify({ port: server.address().port, ctl: ctl.address().port }));
}
server.listen(PORT, "127.0.0.1", announce);

// ---- the test's controls ---------------------------------------------------------------
let runner = null, turn = 0;
const FORMS = ["cols", "table", "row", "cols"];
function nextDate(d) {
  const [y, m, dd] = d.split(".").map(Number);
  const x = new Date(Date.UTC(y, m - 1, dd + 1));
  return `${x.getUTCFullYear()}.${String(x.getUTCMonth() + 1).padStart(2, "0")}.${String(x.getUTCDate()).padStart(2, "0")}`;
}
function hostile(kind) {
  const to = [...subs.get("trade")];
  let m;
  if (kind === "badtype") {
    const cols = colsOf("trade", [0]);
    cols[2] = body(nodeq.longs([Long.fromNumber(7)]));   // price as a long
    m = frame(0, list([sym("upd"), sym("trade"), list(cols)]));
  } else if (kind === "unknown") {
    m = frame(0, list([sym("upd"), sym("nosuch"), list(colsOf("trade", [0]))]));
  } else if (kind === "fewcols") {
    m = frame(0, list([sym("upd"), sym("trade"), list(colsOf("trade", [0]).slice(0, 3))]));
  } else if (kind === "notupd") {
    m = frame(0, list([sym("foo"), body(nodeq.longs([Long.fromNumber(1)]))]));
  } else if (kind === "garbage") {
    m = Buffer.from([1, 0, 0, 0, 20, 0, 0, 0, 0x55, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  } else throw new Error("kind " + kind);
  to.forEach((s) => s.write(m));
  return to.length;
}
function command(x) {
  switch (x.cmd) {
  case "publish":
    for (let b = 0; b < (x.batches || 1); b++) feed(x.table, x.rows, x.form || "cols", x.late || 0);
    return { ok: true };
  case "run":
    if (runner) clearInterval(runner);
    runner = setInterval(() => {
      const f = FORMS[turn++ % FORMS.length];
      feed("trade", x.rows, f);
      feed("quote", x.rows, FORMS[(turn + 1) % FORMS.length]);
    }, x.every_ms);
    return { ok: true };
  case "blast": {                                          // bench/stream: as fast as it can
    stamp = day0(date, 0);
    const data = { trade: list(colsOf("trade", Array.from({ length: x.rows }, (_, k) => k))),
                   quote: list(colsOf("quote", Array.from({ length: x.rows }, (_, k) => k))) };
    for (let b = 0; b < x.batches; b++) for (const t of ["trade", "quote"]) upd(t, data[t], x.rows, null);
    return { ok: true, bytes: data.trade.length + data.quote.length };
  }
  case "halt":
    if (runner) clearInterval(runner);
    runner = null;
    return { ok: true };
  case "end": {
    const d = date;
    const [y, m, dd] = d.split(".").map(Number);
    const q = frame(0, list([sym(".u.end"), Buffer.concat([Buffer.from([0xf2]), i32(Date.UTC(y, m - 1, dd) / 86400000 - 10957)])]));
    const all = new Set();
    subs.forEach((s) => s.forEach((x1) => all.add(x1)));
    all.forEach((s) => s.write(q));
    fs.closeSync(logFd);
    date = nextDate(date);
    openLog();
    return { ok: true, ended: d, log: logPath };
  }
  case "hostile":
    return { ok: true, sent: hostile(x.kind) };
  case "badlog": {
    const cols = colsOf("trade", [0]);
    cols[3] = body(nodeq.floats([1.5]));                   // size as a float
    const msg = list([sym("upd"), sym("trade"), list(cols)]);
    fs.writeSync(logFd, msg);
    j++;
    i = j;
    publish("trade", list(cols));
    return { ok: true };
  }
  case "stats":
    return { ok: true, date, log: logPath, i, j, rows, seq, first,
             subscribers: Object.fromEntries([...subs].map(([t, s]) => [t, s.size])), received };
  default:
    return { ok: false, error: "unknown cmd " + x.cmd };
  }
}
const ctl = http.createServer((req, res) => {
  let b = "";
  req.on("data", (d) => (b += d));
  req.on("end", () => {
    let out;
    try { out = command(JSON.parse(b)); } catch (e) { out = { ok: false, error: String(e && e.stack || e) }; }
    res.writeHead(out.ok ? 200 : 400, { "content-type": "application/json" });
    res.end(JSON.stringify(out));
  });
}).listen(CTLPORT, "127.0.0.1", announce);
process.on("SIGTERM", () => process.exit(0));
