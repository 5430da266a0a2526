# t_ops: smfs as an administrator installs and runs it. Each start failure has its own
# exit status (a bad option, an invalid assembly, a store held by another smfs, a store
# that cannot be served, a mount point, a taken port); under a notify-socket listener
# (systemd's protocol) READY=1 comes only once par.txt reads through the mount, then
# STATUS= after a commit, RELOADING=1 and READY=1 around SIGHUP, WATCHDOG=1, STOPPING=1;
# the man pages render without warnings and name every option --help lists; make
# install DESTDIR= lays out the tree (and mount.fuse3 mounts through the staged smfs);
# make uninstall removes it; make deb builds a package that installs, runs and removes.
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
M="$T/mnt"
A="$T/adm.sock"
pid=
npid=
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    [ -n "$npid" ] && kill "$npid" 2>/dev/null
    wait 2>/dev/null
    unmount "$M"
    unmount "$T/mnt2"
    rm -rf "$T"
}
trap cleanup EXIT
fuse=1
has_fuse || { fuse=0; echo "SKIP: /dev/fuse absent: readiness through a symlink tree, no mount.fuse3"; }
vanilla=""
[ $fuse -eq 1 ] || vanilla="--vanilla"

conf() {   # conf BASE: the embedded default under BASE, no stream
    "$SMCTL" config default | sed "s#/var/lib/smfs#$1#g" >"$1.yaml"
}
mkdir -p "$T/a/hdb/data" "$T/b/hdb/data" "$M" "$T/mnt2"
conf "$T/a"
conf "$T/b"
"$SMCTL" gen-hdb "$T/a/hdb/data" --days 3 --rows 20 >/dev/null || fail "gen-hdb"
"$SMCTL" import -c "$T/a.yaml" >/dev/null || fail "import"

# ---- exit statuses ------------------------------------------------------------------------
status_of() { "$SMFS" "$@" >"$T/out" 2>&1; echo $?; }
expect_eq "a bad option" "$(status_of --no-such-option "$M")" 2
printf 'tables: [\n' >"$T/bad.yaml"
expect_eq "an invalid assembly" "$(status_of -f -c "$T/bad.yaml" "$M")" 3
expect_eq "a mount point that is not there" "$(status_of -f -c "$T/a.yaml" --no-stream --vanilla "$T/nowhere")" 6
mkdir -p "$T/c/hdb/data"
conf "$T/c"
"$SMCTL" gen-hdb "$T/c/hdb/data" --days 1 --rows 5 >/dev/null
expect_eq "a live HDB without a store" "$(status_of -f -c "$T/c.yaml" --no-stream --vanilla "$M")" 5
expect_in "... said" "$(cat "$T/out")" "import it first"
"$SMFS" -f -c "$T/a.yaml" --admin "$A" --no-stream --q-socket none --port 127.0.0.1:0 --vanilla "$M" 2>>"$T/log" &
pid=$!
smfs_wait "$pid" "$A" "$T/log"
qport=$("$SMCTL" status --admin "$A" --json | jq .api.q_port)
expect_eq "a store another smfs holds" \
    "$(status_of -f -c "$T/a.yaml" --admin "$T/x.sock" --no-stream --q-socket none --vanilla "$T/mnt2")" 4
expect_in "... said" "$(cat "$T/out")" "in use by process $pid"
expect_eq "a port another process has" \
    "$(status_of -f -c "$T/b.yaml" --admin "$T/y.sock" --no-stream --q-socket none --port "127.0.0.1:$qport" \
       --vanilla "$T/mnt2")" 7
kill -TERM "$pid"; wait "$pid"; pid=

# ---- the notify protocol -------------------------------------------------------------------
"$BUILD/tests/notifyd" "$T/notify.sock" "$M/par.txt" "$T/notify.out" &
npid=$!
i=0; until grep -q listening "$T/notify.out" 2>/dev/null; do i=$((i + 1)); [ $i -lt 100 ] || fail "notifyd"; sleep 0.05; done
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=400000 \
    "$SMFS" -f -c "$T/a.yaml" --admin "$A" --no-stream --q-socket none $vanilla "$M" 2>>"$T/log" &
pid=$!
i=0; until grep -q 'READY=1' "$T/notify.out"; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "no READY=1: $(cat "$T/notify.out")"; sleep 0.05
done
expect_eq "READY=1 once par.txt reads through the mount" "$(grep -m1 '^ready-check' "$T/notify.out")" "ready-check ok"
expect_in "READY with the version" "$(grep -m1 'READY=1' "$T/notify.out")" "STATUS=serving version 1"
"$SMCTL" gen-hdb "$T/stg" --days 1 --rows 5 --start 2024.03.01 >/dev/null
"$SMCTL" ingest -c "$T/a.yaml" --admin "$A" "$T/stg" >/dev/null || fail "ingest"
i=0; until grep -q 'STATUS=serving version 2' "$T/notify.out"; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "no STATUS after a commit: $(cat "$T/notify.out")"; sleep 0.05
done
kill -HUP "$pid"
i=0; until grep -q 'RELOADING=1' "$T/notify.out"; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "no RELOADING=1 at SIGHUP"; sleep 0.05
done
# READY=1 comes in its own datagram after RELOADING=1: wait for it as for the others.
i=0; until [ "$(grep -c 'READY=1' "$T/notify.out")" -ge 2 ]; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "no READY=1 after the reload: $(cat "$T/notify.out")"; sleep 0.05
done
i=0; until grep -q 'WATCHDOG=1' "$T/notify.out"; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "no WATCHDOG=1 with WATCHDOG_USEC set"; sleep 0.05
done
kill -TERM "$pid"
wait "$pid" || fail "smfs exited $?"
pid=
# Sent before smfs exits; notifyd may write it down a moment later.
i=0; until grep -q 'STOPPING=1' "$T/notify.out"; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "no STOPPING=1: $(cat "$T/notify.out")"; sleep 0.05
done
kill "$npid"; wait "$npid" 2>/dev/null; npid=

# ---- the manual pages ------------------------------------------------------------------------
for pg in man/smfs.8 man/smctl.1; do
    w=$(groff -ww -man -Tutf8 "$pg" 2>&1 >/dev/null)
    [ -z "$w" ] || fail "$pg renders with warnings: $w"
done
# The page source, escapes undone: \- is -, font changes dropped.
page() { sed 's/\\-/-/g; s/\\f[BIRP]//g; s/\\e/\\/g' "$1"; }
for o in $("$SMFS" --help | sed -n '/^smfs options/,/^Access:/p' | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    page man/smfs.8 | grep -q -- "$o" || fail "smfs(8) does not describe $o"
done
for c in $("$SMCTL" --help | sed -n 's/^  \([a-z-]*\) .*/\1/p'); do
    page man/smctl.1 | grep -q "^\.B.*$c\|^\.TP\|$c" || fail "smctl(1) does not describe $c"
    page man/smctl.1 | grep -q -- "$c" || fail "smctl(1) does not name $c"
    for o in $("$SMCTL" "$c" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        page man/smctl.1 | grep -q -- "$o" || fail "smctl(1) does not describe $c $o"
    done
done

# ---- install, mount through mount.fuse3, uninstall, the package -----------------------------------
case "$BUILD" in
*/rel) ;;
*) echo "SKIP: packaging is checked with the rel build"; echo "t_ops: ok"; exit 0 ;;
esac
S="$T/stage"
make --no-print-directory install B="${BUILD#$PWD/}" DESTDIR="$S" PREFIX=/usr/local >"$T/install.out" 2>&1 ||
    fail "make install: $(tail -5 "$T/install.out")"
for f in usr/local/bin/smfs usr/local/bin/smctl usr/local/share/man/man8/smfs.8 usr/local/share/man/man1/smctl.1 \
         usr/local/lib/systemd/system/smfs.service usr/local/share/doc/smfs/full.yaml \
         usr/local/share/doc/smfs/smfs.logrotate; do
    [ -f "$S/$f" ] || fail "make install did not put $f"
done
[ "$(readlink "$S/sbin/mount.fuse.smfs")" = mount.fuse3 ] || fail "no mount.fuse.smfs helper"
grep -q 'ExecStart=/usr/local/bin/smfs -f' "$S/usr/local/lib/systemd/system/smfs.service" || fail "the unit's ExecStart"
grep -q '^Type=notify' "$S/usr/local/lib/systemd/system/smfs.service" || fail "the unit is not Type=notify"
man -l "$S/usr/local/share/man/man8/smfs.8" >/dev/null 2>&1 || fail "the installed smfs(8) does not render"
if [ $fuse -eq 1 ] && command -v mount.fuse3 >/dev/null; then
    # As mount -t fuse.smfs would: mount.fuse3 runs the smfs it finds on PATH, and
    # returns once smfs serves.
    PATH="$S/usr/local/bin:$PATH" mount.fuse3 "$T/a.yaml" "$T/mnt2" -t smfs \
        -o "admin=$T/m.sock,no_stream,q_socket=none" >"$T/mf.out" 2>&1 || fail "mount.fuse3: $(cat "$T/mf.out")"
    out=$("$SMCTL" load "$T/mnt2") || fail "load through mount.fuse3's mount: $out"
    expect_in "mounted by mount.fuse3" "$out" "partitions: 4"
    "$SMCTL" stop --admin "$T/m.sock" >/dev/null
    i=0; while grep -q " $T/mnt2 fuse" /proc/mounts; do i=$((i + 1)); [ $i -lt 100 ] || fail "no unmount"; sleep 0.1; done
fi
make --no-print-directory uninstall DESTDIR="$S" PREFIX=/usr/local >/dev/null 2>&1 || fail "make uninstall"
left=$(find "$S" -type f -o -type l)
[ -z "$left" ] || fail "make uninstall left: $left"

if dpkg -s smfs >/dev/null 2>&1; then
    echo "SKIP: an smfs package is installed on this machine: the package test would replace it"
elif [ "$(id -u)" != 0 ]; then
    echo "SKIP: not root: the package cannot be installed"
else
    deb=$(make --no-print-directory deb B="${BUILD#$PWD/}" 2>"$T/deb.err" | tail -1)
    [ -f "$deb" ] || fail "make deb: $(tail -5 "$T/deb.err")"
    dpkg -i "$deb" >"$T/dpkg.out" 2>&1 || fail "dpkg -i: $(tail -5 "$T/dpkg.out")"
    v=$(/usr/bin/smfs --version 2>&1)
    man -w smfs >/dev/null 2>&1 || { dpkg -P smfs >/dev/null 2>&1; fail "man -w smfs after dpkg -i"; }
    dpkg -P smfs >"$T/dpkg.out" 2>&1 || fail "dpkg -P: $(tail -5 "$T/dpkg.out")"
    expect_in "the packaged smfs runs" "$v" "smfs "
    [ ! -e /usr/bin/smfs ] && [ ! -e /usr/sbin/mount.fuse.smfs ] || fail "dpkg -P left files"
    echo "package: $(basename "$deb") installed, ran ($v), purged"
fi
echo "t_ops: ok"
