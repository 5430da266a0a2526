#!/bin/sh
# mk/deb.sh BUILD: a Debian package of smfs, with Debian's own dpkg-deb, from `make install`
# staged under /usr (the unit in /lib/systemd/system, the mount helper in /sbin). Its
# Depends are the packages that own the libraries smfs and smctl link (found with
# dpkg -S, at least the versions built against), plus fuse3 for fusermount3 and
# mount.fuse3. Prints the path of the .deb.
set -eu
B=${1:-build/rel}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
ver=$(sed -n 's/^#define SMFS_VERSION "\(.*\)"/\1/p' core/version.h)
arch=$(dpkg --print-architecture)
stage="$top/build/deb/root"
rm -rf "$stage"
# Debian 12 merges /sbin into /usr/sbin, where mount(8) finds the helper through /sbin.
make --no-print-directory install B="$B" DESTDIR="$stage" PREFIX=/usr UNITDIR=/lib/systemd/system \
    SBINDIR=/usr/sbin >/dev/null
# The libraries the binaries name (NEEDED), not everything those pull in.
needed=$(objdump -p "$B/smfs" "$B/smctl" | awk '/NEEDED/ {print $2}' | sort -u)
deps=""
for lib in $(ldd "$B/smfs" "$B/smctl" | awk -v n="$needed" 'BEGIN {split(n, a, "\n"); for (i in a) want[a[i]] = 1}
                                                   /=> \// && want[$1] {print $3}' | sort -u); do
    real=$(readlink -f "$lib")
    pkg=$( (dpkg -S "$lib" 2>/dev/null || dpkg -S "$real" 2>/dev/null || true) | head -1 | cut -d: -f1)
    [ -n "$pkg" ] || continue
    case " $deps " in *" $pkg "*) continue;; esac
    deps="$deps $pkg"
done
depends="fuse3"
for p in $deps; do
    v=$(dpkg-query -W -f='${Version}' "$p")
    depends="$depends, $p (>= $v)"
done
mkdir -p "$stage/DEBIAN"
size=$(du -sk "$stage/usr" "$stage/lib" | awk '{s += $1} END {print s}')
cat >"$stage/DEBIAN/control" <<CTL
Package: smfs
Version: $ver
Architecture: $arch
Maintainer: smfs developers <smfs@localhost>
Installed-Size: $size
Depends: $depends
Section: database
Priority: optional
Homepage: https://github.com/smfs/smfs
Description: storage manager for kdb+ historical databases
 smfs keeps a kdb+ date-partitioned database in a versioned, crash-safe tier
 store and serves the current version through FUSE as a segmented database a
 stock q loads with \\l. It subscribes to a kdb+tick tickerplant, writes ends of
 interval and of day as atomic commits, and speaks kdb Insights Storage Manager's
 APIs (.sm.api.register, reload signals) over q IPC and REST.
CTL
# The unit is configuration an administrator may edit: a conffile (the examples are
# documentation).
echo "/lib/systemd/system/smfs.service" >"$stage/DEBIAN/conffiles"
out="$top/build/deb/smfs_${ver}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$out" >/dev/null
echo "$out"
