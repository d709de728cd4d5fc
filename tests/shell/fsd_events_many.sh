#!/bin/bash
# events with more blocked readers than the daemon has worker threads
# (-o threads=4, 12 readers): a blocked read must not hold a thread, so
# lookups, stat and ctl writes still complete; one event reaches every
# reader; a reader that gets SIGINT goes away at once; rmdir ends every
# parked read with end of file; a lazy unmount and SIGTERM both end the
# daemon with status 0 while reads are parked.
. "$(dirname "$0")/lib.sh"

NREADERS=12

# On a failure every worker thread may be held by a blocked read (what
# this test is about), and lib.sh's cleanup would then block on the mount
# it unmounts: kill the daemon first (its death aborts the connection).
fail() {
	echo "FAIL $TEST: $*" >&2
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
	exit 1
}

# reader FILE OUT: `cat FILE > OUT` in the background, pid in $BG. The
# subshell's exec gives cat the default SIGINT action (a script's plain
# background commands ignore SIGINT).
reader() {
	( trap - INT; exec cat "$1" ) > "$2" 2>&1 &
	BG=$!
	BGPIDS="$BGPIDS $BG"
}

# Whether process $1 has ended (gone, or a zombie not reaped yet).
ended() {
	[ ! -e "/proc/$1" ] || [ "$(sed -e 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" = Z ]
}

# Whether process $1 has file $2 open.
has_open() {
	local f
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "$2" ] && return 0
	done
	return 1
}

# start_readers FILE TAG: $NREADERS readers of FILE, outputs $TMP/TAG.N,
# pids in $READERS.
start_readers() {
	local i
	READERS=
	for i in $(seq 1 $NREADERS); do
		reader "$1" "$TMP/$2.$i"
		READERS="$READERS $BG"
	done
}

# readers_open FILE: wait until every one of $READERS has FILE open.
readers_open() {
	local p
	for p in $READERS; do
		wait_until 10 "has_open $p '$1'" || fail "reader $p did not open ${1#$MNT/} within 10 s"
	done
}

# Every output $TMP/TAG.* equals $2 (lines, \n-separated).
all_read() {
	local f
	for f in "$TMP/$1".*; do
		[ "$(cat "$f")" = "$2" ] || return 1
	done
}

# quick CMD...: must complete within 10 seconds, and succeed.
quick() {
	timeout 10 "$@" > "$TMP/quick.out" 2>&1 || fail "'$*' did not complete within 10 s (exit $?)"
}

start_daemon -o threads=4
expect_write "$MNT/ctl" "create g ranks=2" OK
G=$MNT/groups/g
E=$G/events

start_readers "$E" r
sleep 0.5 # their reads reach the daemon
quick cat "$MNT/stat"
expect_eq "$(kv "$TMP/quick.out" groups)" 1 "stat with parked readers"
quick cat "$G/stat"
quick ls "$MNT/groups"
expect_eq "$(cat "$TMP/quick.out")" g "ls with parked readers"
quick "$PROBE" write "$MNT/ctl" "create h ranks=2"
expect_eq "$(timeout 10 "$PROBE" -n read "$E")" EAGAIN "non-blocking read beside parked ones"
readers_open "$E"
for p in $READERS; do
	ended $p && fail "reader $p ended with nothing to read: $(cat "$TMP"/r.*)"
done
ok "$NREADERS parked readers, 4 threads: stat, ls, ctl still served"

# One event reaches every reader, and so does a poller's wake-up; a
# parked read of 16 bytes gets 16 bytes.
bg "$PROBE" poll "$E" 8000 > "$TMP/poll.out"; P=$BG
bg dd if="$E" bs=16 count=1 status=none > "$TMP/dd.out"; DD=$BG
for p in $P $DD; do
	wait_until 10 "has_open $p '$E'" || fail "poller or dd did not open events"
done
sleep 0.2
quick "$PROBE" write "$G/ctl" "register buf 0 abcd"
wait_until 5 'all_read r "registered name=buf rank=0"' || fail "event not seen by every reader: $(head "$TMP"/r.*)"
wait $P || fail "poller: $(cat "$TMP/poll.out")"
expect_eq "$(sed -n 3p "$TMP/poll.out")" "registered name=buf rank=0" "poller's event"
wait $DD || fail "dd reader"
expect_eq "$(cat "$TMP/dd.out")" "registered name=" "a parked read of 16 bytes"
ok "one event reaches all $NREADERS readers, a poller and a short read"

# SIGINT to one parked reader: it goes away now, not at the next event.
set -- $READERS
VICTIM=$1
kill -INT $VICTIM
wait_until 3 "ended $VICTIM" || fail "reader interrupted by SIGINT still blocked"
rc=0; wait $VICTIM || rc=$?
expect_eq $rc 130 "exit status of the interrupted reader"
rm -f "$TMP/r.1"
shift
READERS=$*
# The others still wait, and get the next event.
quick "$PROBE" write "$G/ctl" "register buf 1 ef"
wait_until 5 'all_read r "registered name=buf rank=0
registered name=buf rank=1"' || fail "second event not seen by every reader: $(head "$TMP"/r.*)"
ok "SIGINT ends a parked read; the others get the next event"

# rmdir: parked reads end with end of file; cat exits 0.
quick rmdir "$G"
for p in $READERS; do
	wait_until 3 "ended $p" || fail "reader $p still blocked after rmdir"
	wait $p || fail "reader $p of a removed group: exit $?"
done
ok "rmdir ends parked reads with end of file"

# Lazy unmount with parked readers: the daemon keeps serving them until
# they go (a plain fusermount3 -u fails with EBUSY while files are open),
# SIGINT ends them, and the daemon then exits 0.
H=$MNT/groups/h
start_readers "$H/events" u
readers_open "$H/events"
sleep 0.3
fusermount3 -u -z "$MNT" || fail "fusermount3 -u -z"
for p in $READERS; do
	kill -INT $p
done
for p in $READERS; do
	wait_until 3 "ended $p" || fail "reader $p still blocked after SIGINT (lazy unmount)"
done
wait_until 5 '! kill -0 $DPID 2>/dev/null' || fail "daemon still running after the lazy unmount"
rc=0; wait $DPID || rc=$?
DPID=
expect_eq $rc 0 "daemon exit status after a lazy unmount with parked readers"
ok "lazy unmount with parked readers: exit 0"

# SIGTERM with parked readers: exit 0, and the readers do not hang.
start_daemon -o threads=4
start_readers "$H/events" t
readers_open "$H/events"
sleep 0.3
kill -TERM $DPID
wait_until 5 '! kill -0 $DPID 2>/dev/null' || fail "daemon still running 5 s after SIGTERM"
rc=0; wait $DPID || rc=$?
DPID=
expect_eq $rc 0 "daemon exit status after SIGTERM with parked readers"
for p in $READERS; do
	wait_until 3 "ended $p" || fail "reader $p still blocked after the daemon exited"
done
ok "SIGTERM with parked readers: exit 0, readers released"
