#!/bin/bash
# A first join racing with an attribute write that re-creates the segment
# (echo 5 > ranks): the member either lands in the segment the daemon
# serves (it receives a bcast) or its join fails with an errno; never a
# member talking into an old, unlinked segment. Real processes, in a loop.
. "$(dirname "$0")/lib.sh"

N=${IPCFS_JOINRACE_N:-100}
start_daemon
G=$MNT/groups/g
lost=0 joined=0 refused=0 attr_busy=0
for i in $(seq $N); do
	expect_write "$MNT/ctl" "create g ranks=4 slots=16 timeout_ms=3000 arena_bytes=33554432" OK
	"$MEMBER" -t 3000 "$G" 0 recv > "$TMP/m.out" 2>&1 &
	m=$!
	[ $((i % 3)) = 0 ] && sleep 0.00$((i % 7))
	r=$("$PROBE" write "$G/ranks" $((5 + i % 2)))
	case $r in OK) ;; EBUSY) attr_busy=$((attr_busy + 1)) ;; *) fail "try $i: write ranks: $r" ;; esac
	wait_until 5 'grep -q "^joined\|^E" "$TMP/m.out" || ! kill -0 $m 2>/dev/null' ||
		fail "try $i: member neither joined nor failed"
	if grep -q "^joined" "$TMP/m.out"; then
		joined=$((joined + 1))
		wait_until 3 '[ "$(kv "$G/stat" live_members)" = 1 ]' || fail "try $i: joined member not live"
		expect_write "$G/ctl" "bcast hi $i" OK
		wait $m
		grep -q ": hi $i" "$TMP/m.out" || { lost=$((lost + 1)); echo "try $i: $(tr '\n' ' ' < "$TMP/m.out")" >&2; }
	else
		wait $m
		refused=$((refused + 1))
	fi
	wait_until 3 '[ "$(kv "$G/stat" live_members)" = 0 ]' || fail "try $i: member still live"
	expect_write "$MNT/ctl" "destroy g" OK
done
echo "tries $N: joined $joined, join refused $refused, attribute write refused $attr_busy, lost $lost"
expect_eq $lost 0 "members that joined a segment nobody serves"
stop_daemon
ok "$N joins racing with a segment re-creation: none in an old segment"
