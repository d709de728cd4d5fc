#!/bin/bash
# Restart: members keep talking while no daemon runs; a new daemon on the
# same state directory re-adopts the groups (attributes, owner, GPU
# records) and their live members, marks the ones that died meanwhile
# dead, and watches the adopted ones (a later kill -9 is noticed). Also
# after a kill -9 of the daemon itself.
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

# Stop the daemon; members stay; one of them dies meanwhile.
kill -TERM $DPID; wait $DPID || fail "daemon exit status"
DPID=
[ -f "$seg" ] || fail "segment removed at exit"
kill -9 $M2; wait $M2 2>/dev/null
start_daemon
expect_eq "$(ls "$MNT/groups")" g "group adopted"
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
expect_eq "$(member_field "$G/members" 0 state) $(member_field "$G/members" 0 pid)" "live $M0" "rank 0 after kill -9 of the daemon"
expect_eq "$(member_field "$G/members" 0 lag)" 1 "the pending bcast survived"
kill -TERM $M0; wait $M0
wait_until 2 '[ "$(member_field "$G/members" 0 state)" = left ]' || fail "rank 0 did not leave"
rmdir "$G" || fail "rmdir after restart"
stop_daemon
ok "after kill -9 of the daemon"
