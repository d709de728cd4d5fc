#!/bin/bash
# Restart: members keep talking while no daemon runs; a new daemon on the
# same state directory re-adopts the groups (attributes, owner, GPU
# records) and their live members, marks the ones that died meanwhile
# dead, and watches the adopted ones (a later kill -9 is noticed). Also
# after a kill -9 of the daemon itself. stat stays relative to the last
# reset-stat across both kinds of restart.
. "$(dirname "$0")/lib.sh"

start_daemon
expect_write "$MNT/ctl" "create g ranks=4 slots=16 timeout_ms=500 algo=nccl mode=0750" OK
G=$MNT/groups/g
expect_write "$G/ctl" "register buf 0 c0ffee" OK
bg "$MEMBER" "$G" 0 hold > "$TMP/m0.out"; M0=$BG
bg "$MEMBER" "$G" 1 hold > "$TMP/m1.out"; M1=$BG
bg "$MEMBER" "$G" 2 hold > "$TMP/m2.out"; M2=$BG
wait_until 3 '[ "$(kv "$G/stat" live_members)" = 3 ]' || fail "members did not join"
seg=$(cat "$G/shm")

# Group c: counters (the control sender's sent, bcasts), a reset-stat,
# then more, to be checked after the restarts below.
expect_write "$MNT/ctl" "create c ranks=1 slots=16" OK
C=$MNT/groups/c
bg "$MEMBER" "$C" 0 hold > "$TMP/c0.out"; C0=$BG
wait_until 3 '[ "$(kv "$C/stat" live_members)" = 1 ]' || fail "member of c did not join"
for i in 1 2 3; do expect_write "$C/ctl" "bcast before $i" OK; done
expect_eq "$(kv "$C/stat" sent) $(kv "$C/stat" bcasts)" "3 3" "c: counters before reset-stat"
expect_write "$C/ctl" "reset-stat" OK
expect_eq "$(kv "$C/stat" sent) $(kv "$C/stat" bcasts)" "0 0" "c: counters after reset-stat"
for i in 1 2; do expect_write "$C/ctl" "bcast after $i" OK; done
expect_eq "$(kv "$C/stat" sent) $(kv "$C/stat" bcasts) $(kv "$C/stat" lag)" "2 2 5" "c: counters since reset-stat"

# Stop the daemon; members stay; one of them dies meanwhile.
kill -TERM $DPID; wait $DPID || fail "daemon exit status"
DPID=
[ -f "$seg" ] || fail "segment removed at exit"
kill -9 $M2; wait $M2 2>/dev/null
start_daemon
expect_eq "$(ls "$MNT/groups" | tr "\n" " ")" "c g " "groups adopted"
expect_eq "$(cat "$G/shm")" "$seg" "same segment"
expect_eq "$(cat "$G/ranks") $(cat "$G/slots") $(cat "$G/timeout_ms") $(cat "$G/algo") $(cat "$G/mode")" \
	"4 16 500 nccl 0750" "attributes adopted"
expect_eq "$(stat -c %a "$G")" 750 "mode adopted"
expect_eq "$(cat "$G/gpu/buf/0")" c0ffee "GPU record adopted"
wait_until 2 '[ "$(member_field "$G/members" 2 state)" = dead ]' || fail "member that died meanwhile not dead"
expect_eq "$(member_field "$G/members" 0 state) $(member_field "$G/members" 0 pid)" "live $M0" "rank 0 adopted"
expect_eq "$(member_field "$G/members" 1 state) $(member_field "$G/members" 1 pid)" "live $M1" "rank 1 adopted"
expect_eq "$(kv "$G/stat" live_members)" 2 "live members after restart"
ok "restart: group, attributes, records and live members adopted; dead one marked"

expect_eq "$(kv "$C/stat" sent) $(kv "$C/stat" bcasts) $(kv "$C/stat" lag)" "2 2 5" "c: stat after restart"
# A second reset, then the daemon is killed (no clean exit): the baseline
# was written at reset-stat.
expect_write "$C/ctl" "reset-stat" OK
expect_write "$C/ctl" "bcast after the second reset" OK
expect_eq "$(kv "$C/stat" sent) $(kv "$C/stat" bcasts)" "1 1" "c: counters after the second reset-stat"
ok "restart: stat stays relative to the last reset-stat"

# The adopted members are watched: kill -9 is noticed; bcast works.
exec 4< "$G/events"
kill -9 $M1; wait $M1 2>/dev/null
wait_until 2 '[ "$(member_field "$G/members" 1 state)" = dead ]' || fail "adopted member's death unnoticed"
expect_eq "$(timeout 2 head -n1 <&4 2>/dev/null)" "died rank=1 pid=$M1" "died event of an adopted member"
exec 4<&-
expect_write "$G/ctl" "bcast after restart" OK
expect_eq "$(member_field "$G/members" 0 recv)" 0 "hold does not receive"
expect_eq "$(member_field "$G/members" 0 lag)" 1 "the bcast waits for rank 0"
expect_write "$G/ctl" "ranks" EINVAL
expect_write "$G/ranks" 8 EBUSY
ok "adopted members are watched; the control ring works after restart"

# kill -9 of the daemon: the stale mount is lazily unmounted, a new daemon
# takes over (the lock of the dead one went with it).
kill -9 $DPID; wait $DPID 2>/dev/null
DPID=
fusermount3 -u -z "$MNT" 2>/dev/null
kill -0 $M0 || fail "member died with the daemon"
start_daemon
# (Not bcasts: the daemon writes that count at reset-stat and at a clean
# exit, not at each bcast, so the one since the second reset is lost.)
expect_eq "$(kv "$C/stat" sent)" 1 "c: stat after kill -9 of the daemon"
kill -TERM $C0; wait $C0
wait_until 2 '[ "$(kv "$C/stat" live_members)" = 0 ]' || fail "member of c did not leave"
[ -f "$STATE/c.state" ] || fail "no state file for c"
rmdir "$C" || fail "rmdir c"
[ ! -e "$STATE/c.state" ] || fail "state file of c (with its baseline) left after rmdir"
expect_eq "$(member_field "$G/members" 0 state) $(member_field "$G/members" 0 pid)" "live $M0" "rank 0 after kill -9 of the daemon"
expect_eq "$(member_field "$G/members" 0 lag)" 1 "the pending bcast survived"
kill -TERM $M0; wait $M0
wait_until 2 '[ "$(member_field "$G/members" 0 state)" = left ]' || fail "rank 0 did not leave"
rmdir "$G" || fail "rmdir after restart"
stop_daemon
ok "after kill -9 of the daemon"
