#!/usr/bin/env bash
# make install into a temporary DESTDIR puts the header, both libraries,
# the pkg-config file, the man pages, the ipcfs command, ipcfsd and its
# systemd unit in place, and a program built against the installed
# pkg-config file runs; make uninstall removes every file.
set -euo pipefail
BUILD=${BUILD:-build}
if [ -n "${SAN:-}" ]; then
	echo "install: skipped in a sanitizer build"
	exit 77
fi
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=/usr/local
dest=$tmp/root

make -s -C "$top" install BUILD="$BUILD" DESTDIR="$dest" PREFIX="$prefix" >/dev/null
for f in include/ipcfs.h lib/libipcfs.a lib/libipcfs.so lib/libipcfs.so.0 \
	 lib/pkgconfig/ipcfs.pc share/man/man3/ipcfs_join.3 share/man/man3/libipcfs.3 \
	 bin/ipcfs sbin/ipcfsd share/man/man1/ipcfs.1 share/man/man7/ipcfs.7 \
	 share/man/man8/ipcfsd.8 lib/systemd/system/ipcfsd.service; do
	[ -e "$dest$prefix/$f" ] || { echo "install: missing $prefix/$f"; exit 1; }
done
for f in bin/ipcfs sbin/ipcfsd; do
	[ -x "$dest$prefix/$f" ] || { echo "install: $prefix/$f is not executable"; exit 1; }
done
"$dest$prefix/bin/ipcfs" --version | grep -q '^ipcfs [0-9]' || { echo "install: ipcfs --version failed"; exit 1; }
# The unit starts the installed daemon on /run/ipcfs.
unit=$dest$prefix/lib/systemd/system/ipcfsd.service
grep -qx "ExecStart=$prefix/sbin/ipcfsd -f /run/ipcfs" "$unit" || { echo "install: ExecStart in the unit: $(grep ExecStart "$unit")"; exit 1; }
grep -qx "Type=simple" "$unit" || { echo "install: the unit is not Type=simple"; exit 1; }
grep -q "@" "$unit" && { echo "install: unsubstituted @...@ in the unit"; exit 1; }
if command -v systemd-analyze > /dev/null; then
	systemd-analyze verify --man=no "$unit" 2>&1 | grep -v "ipcfsd.*No such file\|is not executable" | grep . && \
		{ echo "install: systemd-analyze verify complains"; exit 1; }
fi
soname=$(objdump -p "$dest$prefix/lib/libipcfs.so" | awk '/SONAME/ { print $2 }')
[ "$soname" = libipcfs.so.0 ] || { echo "install: soname is '$soname'"; exit 1; }
# Only ipcfs_ symbols are exported.
if nm -D --defined-only "$dest$prefix/lib/libipcfs.so" | awk '$2 == "T" { print $3 }' | grep -v '^ipcfs_'; then
	echo "install: the shared library exports internal symbols"; exit 1
fi
# ... each with a version node of lib/libipcfs.map.
if nm -D --defined-only "$dest$prefix/lib/libipcfs.so" | awk '$2 == "T" { print $3 }' | grep -v '@@IPCFS_[0-9.]*$'; then
	echo "install: exported symbols without a version (lib/libipcfs.map)"; exit 1
fi

cat > "$tmp/hello.c" <<'C'
#include <ipcfs.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
	struct ipcfs_member *a, *b;
	struct ipcfs_msg msg;
	(void)argc;
	if (ipcfs_group_create(argv[1], NULL) || ipcfs_join(argv[1], 0, &a) != 0 ||
	    ipcfs_join(argv[1], 1, &b) != 1 ||
	    ipcfs_send(a, IPCFS_RANK_BIT(1), "hello", 5, 0) || ipcfs_recv(b, 0, &msg, 0) ||
	    msg.len != 5 || memcmp(msg.data, "hello", 5))
		return 1;
	ipcfs_release(b, &msg);
	ipcfs_leave(a);
	ipcfs_leave(b);
	printf("ok\n");
	return ipcfs_group_destroy(argv[1]);
}
C
export PKG_CONFIG_PATH=$dest$prefix/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
# shellcheck disable=SC2046
cc -o "$tmp/hello" "$tmp/hello.c" $(pkg-config --cflags --libs ipcfs)
out=$(LD_LIBRARY_PATH=$dest$prefix/lib "$tmp/hello" "$tmp/group")
[ "$out" = ok ] || { echo "install: program said '$out'"; exit 1; }
# shellcheck disable=SC2046
cc -static-libgcc -o "$tmp/hello-static" "$tmp/hello.c" $(pkg-config --cflags --libs --static ipcfs | sed 's/-lipcfs/-l:libipcfs.a/')
[ "$("$tmp/hello-static" "$tmp/group2")" = ok ] || { echo "install: static program failed"; exit 1; }

make -s -C "$top" uninstall BUILD="$BUILD" DESTDIR="$dest" PREFIX="$prefix" >/dev/null
left=$(find "$dest" -type f | wc -l)
[ "$left" -eq 0 ] || { echo "install: uninstall left $left files"; find "$dest" -type f; exit 1; }
echo "install: ok"
