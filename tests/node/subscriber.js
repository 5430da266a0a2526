// tests/node/subscriber.js: a second subscriber of the test tickerplant, on node-q: it
// subscribes to the stream signals (_prtnEnd, _reload) as an RDB would and writes one
// JSON line per update it receives to OUTFILE, until killed.
//   node subscriber.js PORT OUTFILE [USER:PASSWORD]
"use strict";
const fs = require("fs");
const nodeq = require("node-q");

const [port, out, login] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const [user, password] = login ? login.split(":") : [undefined, undefined];
nodeq.connect({ host: "127.0.0.1", port, user, password }, (err, con) => {
  if (err) { console.error(`subscriber: ${err}`); process.exit(1); }
  con.on("upd", (table, data) => fs.appendFileSync(out, JSON.stringify({ table, data }) + "\n"));
  con.k(".u.sub[`_reload;`]", (e1) => {
    if (e1) { console.error(`subscriber: ${e1}`); process.exit(1); }
    con.k(".u.sub[`_prtnEnd;`]", (e2) => {
      if (e2) { console.error(`subscriber: ${e2}`); process.exit(1); }
      fs.appendFileSync(out, JSON.stringify({ subscribed: true }) + "\n");
    });
  });
});
