#!/usr/bin/env bash
# tools/demo.sh - what `make demo` shows: ipcfsd on a temporary mount point,
# a group made with mkdir, three reader processes, a broadcast from a
# process and one from the shell, stat and members, unmount. Without FUSE
# it falls back to the library alone (a group in a plain directory).
set -euo pipefail
BUILD=${BUILD:-build}
DEMO=$BUILD/ipcfs-demo
IPCFSD=$BUILD/ipcfsd

if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null || [ ! -x "$IPCFSD" ]; then
	echo "== no FUSE here: the library alone, a group in a plain directory"
	"$DEMO" standalone 3
	if ls "$BUILD"/python/ipcfs/_native*.so >/dev/null 2>&1; then
		echo; echo "== Python: a driver broadcasts objects (a 5.4 MB array inside) to 3 workers"
		d=$(mktemp -d /tmp/ipcfs-demo.XXXXXX)
		PYTHONPATH=$BUILD/python /usr/bin/python3 tools/demo_py.py "$d/py0" 3; rc=$?
		rm -rf "$d"
		exit $rc
	fi
	exit 0
fi

tmp=$(mktemp -d /tmp/ipcfs-demo.XXXXXX)
state=$(mktemp -d /dev/shm/ipcfs-demo.XXXXXX)
mnt=$tmp/mnt
mkdir "$mnt"
dpid=
cleanup() {
	if grep -q " $mnt fuse" /proc/self/mounts; then fusermount3 -u -z "$mnt"; fi
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null
	rm -rf "$tmp" "$state"
}
trap cleanup EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

# The Python path: a driver broadcasting objects with arrays inside to three
# workers that read them in place, and the group's stat read meanwhile.
PY=/usr/bin/python3
python_demo() {
	if ! ls "$BUILD"/python/ipcfs/_native*.so >/dev/null 2>&1; then
		echo "== no Python module built (python3-dev missing): Python part skipped"
		return 0
	fi
	local G=$1/groups/py0
	echo
	echo "== Python: a driver broadcasts objects (a 5.4 MB array inside) to 3 workers"
	say "mkdir $G; echo 4 > $G/ranks; echo 33554432 > $G/arena_bytes"
	mkdir "$G"; echo 4 > "$G/ranks"; echo 33554432 > "$G/arena_bytes"
	PYTHONPATH=$BUILD/python "$PY" tools/demo_py.py "$G" 8 &
	local py=$!
	sleep 1.2
	say "cat $G/stat   (while it runs)"; cat "$G/stat"
	wait "$py"
	say "rmdir $G"; rmdir "$G"
}

"$IPCFSD" -f -o statedir="$state" "$mnt" 2>"$tmp/ipcfsd.log" &
dpid=$!
for _ in $(seq 50); do grep -q " $mnt fuse" /proc/self/mounts && break; sleep 0.1; done
grep -q " $mnt fuse" /proc/self/mounts || { cat "$tmp/ipcfsd.log"; exit 1; }
echo "ipcfsd (pid $dpid) mounted on $mnt"

say "cat $mnt/version"; cat "$mnt/version"
say "mkdir $mnt/groups/tp0"; mkdir "$mnt/groups/tp0"
G=$mnt/groups/tp0
say "echo 4 > $G/ranks"; echo 4 > "$G/ranks"
say "ls $G"; ls "$G"

echo
echo "== three readers join as ranks 1..3; rank 0 broadcasts 5 messages built in place"
for r in 1 2 3; do "$DEMO" reader "$G" "$r" 6 > "$tmp/reader$r.out" & done
"$DEMO" sender "$G" 0 5
say "echo \"bcast hello from the shell\" > $G/ctl"
echo "bcast hello from the shell" > "$G/ctl"
wait $(jobs -p | grep -v "^$dpid\$") 2>/dev/null || true
for r in 1 2 3; do cat "$tmp/reader$r.out"; done

say "cat $G/members"; cat "$G/members"
say "cat $G/stat"; cat "$G/stat"
say "cat $mnt/stat"; cat "$mnt/stat"
python_demo "$mnt"
say "fusermount3 -u $mnt"
fusermount3 -u "$mnt"
rc=0; wait "$dpid" || rc=$?
dpid=
echo "ipcfsd exited with status $rc"
exit $rc
