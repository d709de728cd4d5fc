# tests/shell/lib.sh - common part of the daemon's shell tests (sourced).
#
# Starts nothing by itself: a test calls start_daemon, which mounts a fresh
# ipcfsd on a temporary directory with its own state directory, and
# stop_daemon, which unmounts with fusermount3 -u and checks that the daemon
# exited 0. The EXIT trap always kills what the test started, unmounts and
# removes the temporary directories. Exit 77 (skipped) only when FUSE is
# not usable here.

set -u

# Listed among the tests by a wildcard, run on its own: nothing to test.
[ "$(basename "$0")" = lib.sh ] && exit 0

BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
IPCFSD=$BUILD/ipcfsd
MEMBER=$BUILD/tests/fsd_member
PROBE=$BUILD/tests/fsd_probe
POKE=$BUILD/tests/seg_poke
TEST=$(basename "$0" .sh)
# The segment ABI the tree is built with (the version file shows it).
ABI=$(awk '$1 == "#define" && $2 == "IPCFS_ABI" { print $3 }' "$(dirname "${BASH_SOURCE[0]}")/../../lib/ipcfs.h")

skip() { echo "SKIP $TEST: $*"; exit 77; }
[ -c /dev/fuse ] || skip "no /dev/fuse"
command -v fusermount3 >/dev/null 2>&1 || skip "no fusermount3"
for b in "$IPCFSD" "$MEMBER" "$PROBE"; do
	[ -x "$b" ] || { echo "FAIL $TEST: $b is not built"; exit 1; }
done

TMP=$(mktemp -d /tmp/ipcfs-test.XXXXXX)
chmod 755 "$TMP"
MNT=$TMP/mnt
mkdir "$MNT"
STATE=$(mktemp -d /dev/shm/ipcfs-test.XXXXXX)
chmod 711 "$STATE"
LOG=$TMP/daemon.log
DPID=
BGPIDS=
CLEANUP_HOOK=:

cleanup() {
	rc=$?
	{ for p in $BGPIDS; do kill -9 "$p"; done; } 2>/dev/null
	if mountpoint -q "$MNT" 2>/dev/null || grep -q " $MNT " /proc/self/mounts; then
		fusermount3 -u -z "$MNT" 2>/dev/null
	fi
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
	wait 2>/dev/null
	eval "$CLEANUP_HOOK"
	if [ $rc != 0 ] && [ -s "$LOG" ]; then
		echo "--- daemon log (last lines)" >&2
		grep -m1 -A25 "ERROR: \|runtime error" "$LOG" >&2 || tail -n 15 "$LOG" >&2
	fi
	rm -rf "$TMP" "$STATE"
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() { echo "FAIL $TEST: $*" >&2; exit 1; }
ok() { echo "ok - $TEST: $*"; }

# Wait up to $1 seconds (tenths allowed) for the shell command $2.
wait_until() {
	local n=$(( ${1%.*} * 20 + 1 ))
	while [ $n -gt 0 ]; do
		eval "$2" && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

is_mounted() { grep -q " $MNT fuse" /proc/self/mounts; }

# start_daemon [EXTRA ARGS]: ipcfsd in the foreground, in the background.
start_daemon() {
	"$IPCFSD" -f -o statedir="$STATE" "$@" "$MNT" 2>>"$LOG" &
	DPID=$!
	wait_until 5 'is_mounted || ! kill -0 $DPID 2>/dev/null'
	is_mounted || fail "daemon did not mount (exit: $(wait $DPID; echo $?))"
}

# stop_daemon: unmount from outside, expect exit status 0.
stop_daemon() {
	# A group's bridge (the daemon's child) opens files of the mount for
	# a moment when a proxy joins or leaves: the unmount may find one
	# open (EBUSY). A moment later it is closed.
	local i
	for i in $(seq 40); do
		fusermount3 -u "$MNT" 2>/dev/null && break
		[ "$i" = 40 ] && { fusermount3 -u "$MNT" || fail "fusermount3 -u failed"; }
		sleep 0.05
	done
	local rc=0
	wait "$DPID" || rc=$?
	DPID=
	[ $rc = 0 ] || fail "daemon exited with $rc after fusermount3 -u"
}

# bg CMD...: run in the background, remembered for cleanup; pid in $BG.
bg() {
	"$@" &
	BG=$!
	BGPIDS="$BGPIDS $BG"
}

expect_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

# expect_write FILE DATA ERRNO [OFFSET]: one write(2), its errno (or OK).
expect_write() {
	local got
	got=$("$PROBE" write "$1" "$2" ${4:+"$4"})
	[ "$got" = "$3" ] || fail "write '$2' to ${1#$MNT/}: got $got, want $3"
}

# Lines in a file (0 if missing).
lines() { [ -e "$1" ] && wc -l < "$1" | tr -d ' ' || echo 0; }

# Value of KEY in a flat keyed file.
kv() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# Field KEY=... of rank RANK's line in a members file.
member_field() {
	awk -v r="$2" -v k="$3" '$1 == r { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }' "$1"
}

# run CMD...: stdout to $TMP/out, stderr to $TMP/err, status in $RC.
run() { RC=0; "$@" > "$TMP/out" 2> "$TMP/err" || RC=$?; }

# expect_fail STATUS WORDS CMD...: exits STATUS with one stderr line
# containing WORDS (any number of lines with EXPECT_FAIL_ANY_LINES=1).
expect_fail() {
	local want=$1 words=$2; shift 2
	run "$@"
	[ "$RC" = "$want" ] || fail "'$*': exit $RC, want $want (stderr: $(cat "$TMP/err"))"
	[ "${EXPECT_FAIL_ANY_LINES:-0}" = 1 ] || [ "$(wc -l < "$TMP/err")" = 1 ] || fail "'$*': want one line on stderr, got: $(cat "$TMP/err")"
	grep -qF -- "$words" "$TMP/err" || fail "'$*': stderr '$(cat "$TMP/err")' lacks '$words'"
}
