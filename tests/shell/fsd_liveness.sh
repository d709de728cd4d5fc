#!/bin/bash
# Liveness: kill -9 of an idle member is noticed by the daemon (pidfd) and
# marked dead; kill -9 of a reader mid-stream does not stop the sender
# (the dead reader is dropped from flow control); kill -9 of a sender
# mid-stream gives its reader EPIPE, not a hang.
. "$(dirname "$0")/lib.sh"

start_daemon
expect_write "$MNT/ctl" "create g ranks=3 slots=8" OK
G=$MNT/groups/g

# An idle member: only the daemon watches it.
bg "$MEMBER" "$G" 0 hold > "$TMP/idle.out"; I=$BG
wait_until 3 'grep -q joined "$TMP/idle.out"' || fail "idle member did not join"
t0=$(date +%s%N)
kill -9 $I; wait $I 2>/dev/null
wait_until 2 '[ "$(member_field "$G/members" 0 state)" = dead ]' || fail "idle member not marked dead"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "$(kv "$G/stat" live_members)" 0 "live_members after death"
expect_eq "$(kv "$MNT/stat" members)" 0 "daemon-wide members after death"
echo "# idle member marked dead ${ms} ms after kill -9"
ok "kill -9 of an idle member: dead"

# Sender rank 0 streams to readers 1 and 2; reader 1 is killed.
bg "$MEMBER" -w 1,2 "$G" 0 stream > "$TMP/s.out"; S=$BG
wait_until 3 'grep -q joined "$TMP/s.out"' || fail "sender did not join"
bg "$MEMBER" -s 0 "$G" 1 drain > "$TMP/r1.out"; R1=$BG
bg "$MEMBER" -s 0 "$G" 2 drain > "$TMP/r2.out"; R2=$BG
wait_until 3 '[ "$(member_field "$G/members" 2 recv)" -gt 1000 ] 2>/dev/null' || fail "stream did not start"
kill -9 $R1; wait $R1 2>/dev/null
wait_until 2 '[ "$(member_field "$G/members" 1 state)" = dead ]' || fail "reader 1 not marked dead"
a=$(member_field "$G/members" 2 recv)
sleep 0.3
b=$(member_field "$G/members" 2 recv)
[ "$b" -gt "$a" ] || fail "stream stopped after the reader died ($a -> $b)"
kill -0 $S || fail "sender died: $(cat "$TMP/s.out")"
ok "kill -9 of a reader mid-stream: sender goes on ($a -> $b messages to rank 2)"

# Now the sender dies: reader 2 ends with EPIPE.
kill -9 $S; wait $S 2>/dev/null
wait_until 3 '! kill -0 $R2 2>/dev/null' || fail "reader 2 hangs after its sender died"
rc=0; wait $R2 || rc=$?
expect_eq $rc 3 "reader 2 exit status"
grep -q "^recv EPIPE after [0-9]" "$TMP/r2.out" || fail "reader 2: $(cat "$TMP/r2.out")"
expect_eq "$(member_field "$G/members" 0 state)" dead "sender marked dead"
kill -0 $DPID || fail "daemon died"
ok "kill -9 of a sender mid-stream: reader gets EPIPE ($(tail -n1 "$TMP/r2.out"))"

# A dead rank can be joined again by a new process.
bg "$MEMBER" "$G" 0 hold > "$TMP/again.out"; A=$BG
wait_until 3 'grep -q "joined 0" "$TMP/again.out"' || fail "rejoin of a dead rank: $(cat "$TMP/again.out")"
expect_eq "$(member_field "$G/members" 0 state)" live "rank 0 live again"
expect_eq "$(member_field "$G/members" 0 joins)" 3 "rank 0 joins"
kill -TERM $A; wait $A
stop_daemon
ok "a dead rank is joined again"
