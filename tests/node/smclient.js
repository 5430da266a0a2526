// tests/node/smclient.js: a query process as smfs sees one, built on node-q.
// node-q makes sync calls (con.k) well, but it emits events only for messages whose
// head is `upd` and reads timestamps as doubles (exact to about a microsecond). A
// reload signal is (callback; dict) and its ts must be echoed to the nanosecond, so
// this layer takes over the socket's input: responses go to node-q's own handlers
// (parsed by node-q), messages smfs sends of its own accord are decoded here with
// 64-bit integers kept as BigInt and emitted as "signal" events. The
// acknowledgement is written here too, with the exact ts.
"use strict";
const nodeq = require("node-q");
const libc = require("node-q/lib/c.js");

// Decode the q IPC body at buf[off..] for the few types a signal uses.
function decode(buf, off) {
  const t = buf.readInt8(off);
  off += 1;
  const atom8 = { [-7]: "long", [-12]: "timestamp", [-16]: "timespan" };
  if (atom8[t]) return [{ qtype: t, v: buf.readBigInt64LE(off) }, off + 8];
  if (t === -1) return [{ qtype: t, v: buf[off] !== 0 }, off + 1];
  if (t === -11) {
    const end = buf.indexOf(0, off);
    return [buf.toString("utf8", off, end), end + 1];
  }
  if (t === -128) {
    const end = buf.indexOf(0, off);
    return [{ error: buf.toString("utf8", off, end) }, end + 1];
  }
  if (t === 99) {
    let keys, vals;
    [keys, off] = decode(buf, off);
    [vals, off] = decode(buf, off);
    const d = {};
    keys.forEach((k, i) => { d[k] = vals[i]; });
    return [d, off];
  }
  if (t === 0 || t === 11 || t === 12 || t === 7 || t === 16) {
    const n = buf.readInt32LE(off + 1);
    off += 5;
    const out = [];
    for (let i = 0; i < n; i++) {
      if (t === 0) {
        let x;
        [x, off] = decode(buf, off);
        out.push(x);
      } else if (t === 11) {
        const end = buf.indexOf(0, off);
        out.push(buf.toString("utf8", off, end));
        off = end + 1;
      } else {
        out.push({ qtype: -t, v: buf.readBigInt64LE(off) });
        off += 8;
      }
    }
    return [out, off];
  }
  throw new Error(`smclient: type ${t} not handled`);
}

// An async (type 0) or response (type 2) message with BODY (Buffer) as its body.
function frame(type, body) {
  const h = Buffer.alloc(8);
  h[0] = 1;
  h[1] = type;
  h.writeUInt32LE(8 + body.length, 4);
  return Buffer.concat([h, body]);
}

function symAtom(s) {
  return Buffer.concat([Buffer.from([0xf5]), Buffer.from(s + "\0", "utf8")]);
}

function connect(params) {
  return new Promise((resolve, reject) => {
    nodeq.connect(Object.assign({ nanos2date: false }, params), (err, con) => {
      if (err) return reject(err);
      con.socket.removeAllListeners("data");
      let chunk = Buffer.alloc(0);
      con.socket.on("data", (data) => {
        chunk = chunk.length ? Buffer.concat([chunk, data]) : data;
        while (chunk.length >= 8) {
          const len = chunk.readUInt32LE(4);
          if (chunk.length < len) break;
          const msg = chunk.subarray(0, len);
          chunk = chunk.subarray(len);
          const type = msg[1];
          if (type === 2) {
            let o, e;
            try { o = libc.deserialize(msg, false, con.flipTables, con.emptyChar2null, con.long2number); } catch (x) { e = x; }
            const n = con.nextResponseNo;
            con.nextResponseNo += 1;
            con.emit("response:" + n, e, o);
            continue;
          }
          const [x] = decode(msg, 8);
          con.emit("signal", { fn: x[0], sig: x[1], sync: type === 1 });
          // A sync message wants an answer: the old [mount;1b;callback] form takes
          // the answer as the acknowledgement.
          if (type === 1 && con.autoRespond !== false) con.socket.write(frame(2, Buffer.from([0x65, 0])));
        }
      });
      resolve(con);
    });
  });
}

// neg[.z.w](`.sm.api.reloadComplete; ts) with ts exactly as received (BigInt).
function ack(con, ts) {
  const b = Buffer.alloc(9);
  b[0] = 0xf4;   // -12 timestamp
  b.writeBigInt64LE(ts, 1);
  const body = Buffer.concat([Buffer.from([0, 0]), Buffer.alloc(4), symAtom(".sm.api.reloadComplete"), b]);
  body.writeInt32LE(2, 2);
  con.socket.write(frame(0, body));
}

function call(con, ...args) {
  return new Promise((resolve, reject) => con.k(...args, (err, res) => (err ? reject(err) : resolve(res))));
}

const close = (con) => new Promise((resolve) => con.close(resolve));
const nextSignal = (con) => new Promise((resolve) => con.once("signal", resolve));

// q timestamps: ns since 2000.01.01 (BigInt) <-> ns since 1970.
const Q_EPOCH_NS = 946684800000000000n;
const unixNs = (q) => q + Q_EPOCH_NS;

module.exports = { connect, ack, call, close, nextSignal, unixNs, Q_EPOCH_NS };
