// tests/node/qlogin.js PORT USER PASSWORD: log in to a q port with node-q and call
// .sm.api.getStatus[]; prints "ok" when the server answered (a table, or a q error such
// as 'state from a store with nothing to serve: either way the login was taken) or
// "refused: <why>" when the connection failed or closed first. Exit 0 either way.
"use strict";
const nodeq = require("node-q");

const [port, user, password] = [+process.argv[2], process.argv[3], process.argv[4]];
const opts = { host: "127.0.0.1", port };
if (user) Object.assign(opts, { user, password });
const done = (line, code = 0) => {
  console.log(line);
  process.exit(code);
};
setTimeout(() => done("refused: no answer within 10 s"), 10000);
nodeq.connect(opts, (err, con) => {
  if (err) return done("refused: " + err.message);
  con.on("error", (e) => done("refused: " + e.message));
  con.on("close", () => done("refused: the connection was closed"));
  con.k(".sm.api.getStatus[]", (e, r) => {
    if (e && /closed|ECONNRESET|EPIPE|socket/i.test(e.message)) return done("refused: " + e.message);
    done("ok");
  });
});
