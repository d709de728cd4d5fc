#!/bin/bash
# A group's ctl: join and leave (from the shell and through libipcfs),
# bcast received by members, register/unregister of GPU records,
# reset-stat; members and stat show it.
. "$(dirname "$0")/lib.sh"

start_daemon
expect_write "$MNT/ctl" "create g ranks=4 slots=8" OK
G=$MNT/groups/g

# A shell joins: the daemon claims the rank for the writing process.
sh -c 'echo "join 2" > "$1/ctl" || exit 1; echo ready; exec sleep 30' sh "$G" > "$TMP/sh.out" &
SHPID=$!
BGPIDS="$BGPIDS $SHPID"
wait_until 3 'grep -q ready "$TMP/sh.out"' || fail "shell join failed"
expect_eq "$(member_field "$G/members" 2 pid)" "$SHPID" "pid of rank 2 is the writing shell"
expect_eq "$(member_field "$G/members" 2 state)" live "state of rank 2"
expect_eq "$(kv "$G/stat" live_members)" 1 "live_members"
# Another process cannot take it, nor make it leave.
expect_write "$G/ctl" "join 2" EBUSY
grep -q "join: rank 2 is held by live pid $SHPID" "$G/error_log" || fail "EBUSY join not logged"
# Root may make it leave (the test runs as root); then it can be joined again.
expect_write "$G/ctl" "leave 2" OK
expect_eq "$(member_field "$G/members" 2 state)" left "state after leave"
expect_write "$G/ctl" "leave 3" ENOENT
kill $SHPID; wait $SHPID 2>/dev/null
ok "shell join / leave"

# Members through libipcfs: ranks 0 and 1 receive, the shell bcasts.
bg "$MEMBER" -n 3 -s 64 "$G" 0 recv > "$TMP/r0.out"; R0=$BG
bg "$MEMBER" -n 3 -s 64 "$G" 1 recv > "$TMP/r1.out"; R1=$BG
wait_until 5 '[ "$(kv "$G/stat" live_members)" = 2 ]' || fail "receivers did not join"
expect_eq "$(member_field "$G/members" 0 pid)" "$R0" "rank 0 pid"
for m in "hello world" "second  message, two spaces" "third"; do
	expect_write "$G/ctl" "bcast $m" OK
done
wait $R0 || fail "receiver 0 failed: $(cat "$TMP/r0.out")"
wait $R1 || fail "receiver 1 failed: $(cat "$TMP/r1.out")"
expect_eq "$(sed -n 2p "$TMP/r0.out")" "64: hello world" "rank 0 first message"
expect_eq "$(sed -n 3p "$TMP/r1.out")" "64: second  message, two spaces" "rank 1 second message"
expect_eq "$(sed -n 4p "$TMP/r1.out")" "64: third" "rank 1 third message"
expect_eq "$(kv "$G/stat" bcasts)" 3 "stat bcasts"
expect_eq "$(kv "$G/stat" sent)" 3 "stat sent (control sender)"
expect_eq "$(kv "$G/stat" recv)" 6 "stat recv"
expect_eq "$(member_field "$G/members" 0 recv)" 3 "members recv of rank 0"
expect_eq "$(member_field "$G/members" 0 state)" left "rank 0 left after ipcfs_leave"
# Nobody live: bcast has no one to go to.
expect_write "$G/ctl" "bcast nobody" ENOTCONN
expect_eq "$(kv "$G/stat" bcast_errors)" 1 "bcast_errors"
ok "bcast reaches every live rank in order"

# member to member, counted in stat
# (the sender first: a receiver of a rank that left gets EPIPE at once)
bg "$MEMBER" -n 5 -w 0 "$G" 1 send > "$TMP/s.out"; S=$BG
wait_until 3 'grep -q joined "$TMP/s.out"' || fail "sender did not join"
bg "$MEMBER" -n 5 -s 1 "$G" 0 recv > "$TMP/r.out"; R=$BG
wait $R || fail "receiver: $(cat "$TMP/r.out")"
wait $S || fail "sender: $(cat "$TMP/s.out")"
expect_eq "$(tail -n1 "$TMP/r.out")" "1: msg 4" "last message"
expect_eq "$(member_field "$G/members" 1 sent)" 5 "rank 1 sent"
expect_eq "$(kv "$G/stat" sent)" 8 "stat sent"
expect_write "$G/ctl" "reset-stat" OK
expect_eq "$(kv "$G/stat" sent) $(kv "$G/stat" recv) $(kv "$G/stat" bcasts)" "0 0 0" "stat after reset-stat"
expect_eq "$(member_field "$G/members" 1 sent)" 0 "members after reset-stat"
ok "stat/members counters and reset-stat"

# GPU records.
expect_write "$G/ctl" "register buf 0 00ff10AB" OK
expect_write "$G/ctl" "register buf 3 $(printf 'ab%.0s' $(seq 2048))" OK
expect_eq "$(ls "$G/gpu")" buf "gpu listing"
expect_eq "$(ls "$G/gpu/buf" | tr '\n' ' ')" "0 3 " "gpu/buf listing"
expect_eq "$(cat "$G/gpu/buf/0")" 00ff10AB "record 0"
expect_eq "$(wc -c < "$G/gpu/buf/3")" 4097 "record 3 length"
expect_write "$G/ctl" "register buf 0 1234" OK
expect_eq "$(cat "$G/gpu/buf/0")" 1234 "record 0 replaced"
expect_write "$G/ctl" "register buf 4 00" ERANGE
expect_write "$G/ctl" "register buf 0 0g" EINVAL
expect_write "$G/ctl" "register buf 0 123" EINVAL
expect_write "$G/ctl" "register .buf 0 00" EINVAL
expect_write "$G/ctl" "register buf 0 $(printf 'ab%.0s' $(seq 2049))" EINVAL
expect_write "$G/ctl" "unregister buf 0" OK
expect_write "$G/ctl" "unregister buf 0" ENOENT
[ -e "$G/gpu/buf/0" ] && fail "record 0 still there"
expect_write "$G/ctl" "unregister buf 3" OK
[ -e "$G/gpu/buf" ] && fail "gpu/buf still there without records"
grep -q "^gpu" "$STATE/g.state" && fail "state file keeps removed records"
expect_write "$G/ctl" "register nccl-id 0 0123456789abcdef" OK
grep -q "^gpu nccl-id 0 0123456789abcdef$" "$STATE/g.state" || fail "record not in the state file"
ok "register/unregister"
stop_daemon
