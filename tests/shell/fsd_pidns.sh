#!/bin/bash
# Members in their own PID namespace (a container sharing /dev/shm and the
# mount with the host): their pids mean nothing to the host and the
# host's nothing to them, so liveness across namespaces is judged by the
# ranks' liveness locks. A member in another namespace receives
# everything (ring and arena messages), marks no live host peer dead and
# is marked dead by nobody while it lives; its death (kill -9) is still
# noticed by the daemon and by a host reader, also after a restart of the
# daemon (which then knows no host pid for it). Both with a /proc of its
# own (--mount-proc) and with the host's /proc (its pids unreadable).
. "$(dirname "$0")/lib.sh"

unshare --pid --fork --mount-proc true 2>/dev/null || skip "unshare --pid --mount-proc not permitted here"

start_daemon
expect_write "$MNT/ctl" "create g ranks=3 slots=16 slot_bytes=1024 arena_bytes=8M" OK
G=$MNT/groups/g
N=300

# "${IN_NS[@]}" [--mount-proc] CMD...: CMD in a new PID namespace, killed
# with the unshare process (its pid is the one bg gives).
IN_NS=(unshare --pid --fork --kill-child)

for PROCOPT in --mount-proc ""; do
	what="own PID namespace${PROCOPT:+ with its own /proc}"
	# Rank 0 holds on the host; rank 2 sends N messages, a third of them
	# through the arena, to rank 1 only, which receives them in a
	# namespace of its own (and reaps while it waits).
	bg "$MEMBER" "$G" 0 hold > "$TMP/m0.out"; M0=$BG
	# Live before the receiver starts: a receive in a group where no
	# other rank is live ends with EPIPE at once (a slow start of the
	# holder under ASan let the receiver join first: "did not join").
	wait_until 20 '[ "$(member_field "$G/members" 0 state)" = live ]' || fail "$what: holder did not join: $(cat "$TMP/m0.out")"
	bg "${IN_NS[@]}" $PROCOPT "$MEMBER" -n $N -t 20000 "$G" 1 recv > "$TMP/m1.out" 2>&1; C1=$BG
	wait_until 20 '[ "$(kv "$G/stat" live_members)" = 2 ]' || fail "$what: did not join: $(cat "$TMP/m1.out")"
	# The receiver waits long enough to reap (every 100 ms of a wait).
	sleep 0.5
	for i in 0 1 2; do
		bytes=$([ $i = 1 ] && echo 100000 || echo 200)
		"$MEMBER" -n $((N / 3)) -w 1 -d 1 -b $bytes -t 20000 "$G" 2 send > "$TMP/m2.out" 2>&1 ||
			fail "$what: sender: $(cat "$TMP/m2.out")"
	done
	wait $C1 || fail "$what: receiver exit $?: $(tail -n 2 "$TMP/m1.out")"
	got=$(grep -c '^2: msg ' "$TMP/m1.out")
	expect_eq "$got" $N "$what: messages received"
	expect_eq "$(member_field "$G/members" 0 state)" live "$what: the host peer after the receiver's waits"
	expect_eq "$(member_field "$G/members" 1 state) $(member_field "$G/members" 2 state)" "left left" \
		"$what: receiver and sender"
	expect_eq "$(kv "$G/stat" arena_used_bytes)" 0 "$what: arena after every message was released"
	ok "$what: $N messages (ring and arena) received, live host peer left alone"
	kill -TERM $M0; wait $M0 || fail "$what: holder exit status"

	# A member of its own namespace that holds: nobody marks it dead
	# (the host reader waiting on it reaps every 100 ms, the daemon scans);
	# its kill -9 is noticed by both.
	bg "${IN_NS[@]}" $PROCOPT "$MEMBER" "$G" 1 hold > "$TMP/m1.out" 2>&1; C1=$BG
	wait_until 20 '[ "$(member_field "$G/members" 1 state)" = live ]' || fail "$what: hold did not join: $(cat "$TMP/m1.out")"
	bg "$MEMBER" -s 1 "$G" 0 drain > "$TMP/m0.out"; M0=$BG
	sleep 1.5
	expect_eq "$(member_field "$G/members" 1 state)" live "$what: held rank after 1.5 s"
	kill -0 $M0 || fail "$what: the host reader ended: $(cat "$TMP/m0.out")"
	kill -9 $C1; wait $C1 2>/dev/null
	wait_until 5 '[ "$(member_field "$G/members" 1 state)" = dead ]' || fail "$what: death not noticed"
	wait $M0; rc=$?
	expect_eq "$rc $(tail -n 1 "$TMP/m0.out")" "3 recv EPIPE after 0" "$what: host reader after the death"
	ok "$what: alive while it lives, dead after kill -9 (daemon and host reader)"
done

# After a restart the daemon knows only the pid in the owner word: it
# adopts the member (its lock is held) and notices its death by the lock.
bg "${IN_NS[@]}" --mount-proc "$MEMBER" "$G" 1 hold > "$TMP/m1.out" 2>&1; C1=$BG
wait_until 20 '[ "$(member_field "$G/members" 1 state)" = live ]' || fail "hold did not join: $(cat "$TMP/m1.out")"
kill -9 $DPID; wait $DPID 2>/dev/null
DPID=
fusermount3 -u -z "$MNT" 2>/dev/null
start_daemon
sleep 1
expect_eq "$(member_field "$G/members" 1 state)" live "adopted after a restart"
kill -9 $C1; wait $C1 2>/dev/null
wait_until 5 '[ "$(member_field "$G/members" 1 state)" = dead ]' || fail "death after restart not noticed"
grep -q "rank 1 (pid 1) died" "$LOG" || fail "no died line in the log"
rmdir "$G" || fail "rmdir"
stop_daemon
ok "own PID namespace: adopted by a restarted daemon, death noticed by its lock"
