#!/bin/bash
# An attribute write that re-creates the segment builds (and pre-faults)
# the new one without the group's lock: `cat stat` and `cat members`
# answer while the build is held, and a member that joins the old segment
# meanwhile makes the write fail with EBUSY, the old segment still served.
# The daemon runs on the library with fault points, the build held at
# seg_prefaulted while a gate file exists (IPCFS_FAULT_GATE): only the
# order of events is checked, never a time.
. "$(dirname "$0")/lib.sh"

IPCFSD=$BUILD/tests/ipcfsd-fault
[ -x "$IPCFSD" ] || fail "$IPCFSD is not built"
GATE=$TMP/gate
IPCFS_FAULT_GATE=seg_prefaulted:$GATE start_daemon
G=$MNT/groups/g
expect_write "$MNT/ctl" "create g ranks=2 timeout_ms=5000" OK

# held_write VALUE: write arena_bytes with the build held at the gate; the
# write's errno lands in $TMP/w.out, its pid in $W.
held_write() {
	: > "$GATE"
	"$PROBE" write "$G/arena_bytes" "$1" > "$TMP/w.out" &
	W=$!
	wait_until 20 '[ -e "$STATE/g.seg.new" ]' || fail "the new segment was never started"
	kill -0 $W 2>/dev/null || fail "the write ended while its segment was held"
}

# 1. Readers of the group's files are not held up by the build.
held_write 67108864
cat "$G/stat" > "$TMP/stat.out" &
c=$!
cat "$G/members" > "$TMP/members.out" &
m=$!
# Generous: a reader held by the group's lock would wait for the gate.
wait_until 20 '! kill -0 $c 2>/dev/null && ! kill -0 $m 2>/dev/null'
readers_done=yes
kill -0 $c 2>/dev/null && readers_done=no
kill -0 $m 2>/dev/null && readers_done=no
kill -0 $W 2>/dev/null || fail "the write ended while its segment was held"
rm -f "$GATE"
wait $W
expect_eq "$(cat "$TMP/w.out")" OK "arena_bytes write once the gate opened"
wait $c $m
expect_eq "$readers_done" yes "stat and members answered while the segment was built"
expect_eq "$(kv "$TMP/stat.out" arena_bytes)" 0 "stat during the build shows the segment in force"
expect_eq "$(kv "$G/stat" arena_bytes)" 67108864 "stat after the build"
[ -e "$STATE/g.seg.new" ] && fail "the built segment's temporary file is left"

# 2. A member joins the old segment while the new one is built: the write
# fails with EBUSY, the new segment is discarded, the member is served.
held_write 33554432
"$MEMBER" -t 5000 "$G" 0 recv > "$TMP/m.out" 2>&1 &
mb=$!
BGPIDS="$BGPIDS $mb"
wait_until 20 'grep -q "^joined" "$TMP/m.out"' || fail "member did not join: $(cat "$TMP/m.out")"
kill -0 $W 2>/dev/null || fail "the write ended while its segment was held"
rm -f "$GATE"
wait $W
expect_eq "$(cat "$TMP/w.out")" EBUSY "arena_bytes write with a member joined meanwhile"
[ -e "$STATE/g.seg.new" ] && fail "the discarded segment's temporary file is left"
expect_eq "$(kv "$G/stat" arena_bytes)" 67108864 "attributes after the refused write"
expect_eq "$(cat "$G/arena_bytes")" 67108864 "arena_bytes after the refused write"
expect_write "$G/ctl" "bcast still here" OK
wait $mb || fail "member: $(cat "$TMP/m.out")"
grep -q ": still here" "$TMP/m.out" || fail "member missed the bcast: $(cat "$TMP/m.out")"

stop_daemon
ok "a segment re-creation holds up no reader; a join meanwhile makes it EBUSY"
