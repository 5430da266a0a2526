// tests/node/crowd.js: a crowd of query processes registered for reload signals while
// versions are committed, as a busy HDB host has them.
//   node crowd.js Q_PORT N STOPFILE
// N clients (node-q with smclient.js) register for hdb with a 2 s timeout. On each
// signal, client i: i % 10 == 0 never acknowledges; i % 10 == 1 disconnects and comes
// back (a new connection, registered again) 50-150 ms later; the others acknowledge
// after 0-50 ms, echoing ts to the nanosecond. Until STOPFILE exists; then prints one
// JSON line {signals, acks, silent, dropped, reconnects} and exits 0 (1 on any error
// a well-behaved client should not see).
"use strict";
const fs = require("fs");
const nodeq = require("node-q");
const sm = require("./smclient.js");

const [qport, n, stop] = [+process.argv[2], +process.argv[3], process.argv[4]];
const sym = (s) => nodeq.symbol(s);
const span = (s) => nodeq.timespan(new Date(Date.UTC(2000, 0, 1, 0, 0, s)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const count = { signals: 0, acks: 0, silent: 0, dropped: 0, reconnects: 0 };

async function client(i) {
  for (;;) {
    const c = await sm.connect({ host: "127.0.0.1", port: qport });
    await sm.call(c, ".sm.api.register", sym("hdb"), span(2), sym("onReload"));
    const gone = await new Promise((resolve) => {
      const done = setInterval(() => {
        if (fs.existsSync(stop)) { clearInterval(done); resolve(false); }
      }, 100);
      c.on("signal", async (s) => {
        count.signals++;
        const kind = i % 10;
        if (kind === 0) {
          count.silent++;
        } else if (kind === 1) {
          count.dropped++;
          clearInterval(done);
          resolve(true);
        } else {
          await sleep(Math.floor(Math.random() * 50));
          sm.ack(c, s.sig.ts.v);
          count.acks++;
        }
      });
    });
    await sm.close(c);
    if (!gone) return;
    await sleep(50 + Math.floor(Math.random() * 100));
    if (fs.existsSync(stop)) return;
    count.reconnects++;
  }
}

(async () => {
  const all = [];
  for (let i = 0; i < n; i++) all.push(client(i));
  await Promise.all(all);
  console.log(JSON.stringify(count));
  process.exit(0);
})().catch((e) => {
  console.error("crowd: " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
