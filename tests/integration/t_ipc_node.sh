# t_ipc_node: node-q (an independent q IPC implementation) against our server:
# logins right and wrong (plain, SHA-256 and MD5 entries), values of every type both
# ways, errors, async, an 8 MB message, a callback, the Unix socket.
. tests/integration/lib.sh

command -v node >/dev/null || { echo "skipped: node is not installed (make deps installs it)"; exit 77; }
[ -d tests/node_modules/node-q ] || { echo "skipped: node-q missing (make deps runs npm ci)"; exit 77; }

sha=$(printf %s hunter2 | sha256sum | cut -d' ' -f1)
md5=$(printf %s letmein | md5sum | cut -d' ' -f1)
printf '# test logins\nalice:secret\nbob:%s\ncarol:%s\n' "$sha" "$md5" >"$T/users"
"$BUILD/tests/ipc_testd" --port 0 --unix "$T/q.sock" --users "$T/users" >"$T/port" 2>"$T/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
port=$(sed -n 's/^port //p' "$T/port")
[ -n "$port" ] || fail "server did not start: $(cat "$T/server.log")"

out=$(node tests/node/ipc_conformance.js "$port" "$T/q.sock" 2>&1) || fail "node-q: $out"
expect_eq "node-q" "$out" ok
kill -0 $pid 2>/dev/null || fail "server died: $(cat "$T/server.log")"
grep -q "login refused for user 'alice'" "$T/server.log" || fail "refused login not logged: $(cat "$T/server.log")"
kill $pid; wait $pid
expect_eq "server exit" $? 0
echo ok
