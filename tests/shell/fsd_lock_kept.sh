#!/bin/bash
# A member scribbles the arena's lock word to name a live thread that holds
# nothing, then a member holding an arena block dies. The daemon is not
# held by the lock (it gives up after a millisecond, DESIGN.md: nothing a
# member writes may block it): the death is marked, another group's death
# too, the group's files answer, and error_log says why the dead rank's
# blocks are not freed yet. Once the word is free, the daemon's next scan
# frees them (they were lost for good before: the sweep was skipped but
# recorded done).
. "$(dirname "$0")/lib.sh"

start_daemon
expect_write "$MNT/ctl" "create g ranks=3 slots=8 slot_bytes=256 arena_bytes=1048576" OK
expect_write "$MNT/ctl" "create h ranks=2" OK
G=$MNT/groups/g H=$MNT/groups/h

# Rank 1 holds a 100000-byte message of rank 0's, in the arena, unread.
bg "$MEMBER" "$G" 1 hold > "$TMP/r1.out"; R1=$BG
wait_until 3 'grep -q joined "$TMP/r1.out"' || fail "rank 1 did not join"
run "$MEMBER" -w 1 -n 1 -d 1 -b 100000 "$G" 0 send
[ "$RC" -eq 0 ] || fail "send: $(cat "$TMP/out" "$TMP/err")"
used=$(kv "$G/stat" arena_used_bytes)
[ "$used" -ge 100000 ] || fail "arena_used_bytes $used after the send"
bg "$MEMBER" "$H" 0 hold > "$TMP/h0.out"; H0=$BG
wait_until 3 'grep -q joined "$TMP/h0.out"' || fail "h's rank 0 did not join"

# The scribble: a live process that holds nothing named in the word.
bg sleep 600; STRANGER=$BG
expect_eq "$("$POKE" "$(cat "$G/shm")" lock $STRANGER)" OK "seg_poke"

kill -9 $R1; wait $R1 2>/dev/null
wait_until 2 '[ "$(member_field "$G/members" 1 state)" = dead ]' || fail "rank 1 not marked dead"
kill -9 $H0; wait $H0 2>/dev/null
wait_until 2 '[ "$(member_field "$H/members" 0 state)" = dead ]' || fail "h's rank 0 not marked dead"
t0=$(date +%s%N)
kv "$G/stat" live_members > /dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# stat of the group read in $ms ms while its arena's lock is kept"
wait_until 2 'grep -q "sweep: \"rank 1\": ETIMEDOUT: .*thread $STRANGER keeps the arena.s lock" "$G/error_log"' ||
	fail "error_log: $(cat "$G/error_log")"
expect_eq "$(grep -c sweep "$G/error_log")" 1 "sweep lines in error_log (said once)"
used=$(kv "$G/stat" arena_used_bytes)
[ "$used" -ge 100000 ] || fail "arena_used_bytes $used while the lock is kept"
ok "the lock kept: deaths marked in both groups, error_log says why rank 1's blocks stay"

expect_eq "$("$POKE" "$(cat "$G/shm")" lock 0)" OK "seg_poke free"
wait_until 2 '[ "$(kv "$G/stat" arena_used_bytes)" = 0 ]' ||
	fail "rank 1's block not freed after the lock was: arena_used_bytes $(kv "$G/stat" arena_used_bytes)"
# The rank is joined again and the arena works. The sender joins first
# and waits for its reader: a reader that waited for the sender instead
# could find it already gone (joined, sent, left) and wait in vain.
bg "$MEMBER" -w 0 -n 1 -b 100000 "$G" 1 send > "$TMP/s1.out"; S1=$BG
wait_until 3 'grep -q joined "$TMP/s1.out"' || fail "rank 1 did not join again"
run "$MEMBER" -n 1 -s 1 "$G" 0 recv
[ "$RC" -eq 0 ] || fail "rank 0's receive: $(cat "$TMP/out" "$TMP/err")"
cp "$TMP/out" "$TMP/r0.out"
wait $S1 || fail "send after: $(cat "$TMP/s1.out")"
grep -q "^1: msg 0" "$TMP/r0.out" || fail "rank 0 got: $(cat "$TMP/r0.out")"
kill -0 $DPID || fail "daemon died"
kill $STRANGER; wait $STRANGER 2>/dev/null
stop_daemon
ok "the lock free again: the dead rank's block freed, the rank joined again"
