#!/bin/bash
# The metrics file at the mount root: Prometheus text exposition format
# (# HELP and # TYPE per family, counters ending in _total), the documented
# names with group and rank labels, values that follow the traffic.
# promtool's own check: ipcfs_promtool.sh.
. "$(dirname "$0")/lib.sh"

start_daemon
M=$MNT/metrics
expect_eq "$(stat -c %a "$M")" 444 "metrics mode"
grep -q '^ipcfs_groups 0$' "$M" || fail "no groups: $(cat "$M")"
grep -q '^ipcfs_rank_' "$M" && fail "rank samples without groups"
expect_write "$MNT/ctl" "create g ranks=4 arena_bytes=1M" OK
expect_write "$MNT/ctl" "create h ranks=2" OK
G=$MNT/groups/g
bg "$MEMBER" -n 5 -w 2 "$G" 1 send > "$TMP/s.out"
bg "$MEMBER" -n 5 -s 1 "$G" 2 recv > "$TMP/r.out"
wait_until 5 '[ "$(member_field "$G/members" 2 recv)" = 5 ]' || fail "messages did not pass"
expect_write "$G/ctl" "bcast hello" ENOTCONN  # nobody live any more
cp "$M" "$TMP/m"

# Format: every family has HELP then TYPE, once; samples follow their TYPE;
# counters end in _total, nothing else does.
awk '
/^# HELP / { if ($3 in help) { print "HELP twice: " $3; bad = 1 } help[$3] = 1; last = $3; next }
/^# TYPE / { if ($3 != last) { print "TYPE without HELP: " $3; bad = 1 }
             type[$3] = $4; cur = $3
             if (($4 == "counter") != ($3 ~ /_total$/)) { print "counter/_total mismatch: " $3; bad = 1 }
             next }
/^#/ { print "stray comment: " $0; bad = 1; next }
/^$/ { print "empty line"; bad = 1; next }
{ n = $1; sub(/\{.*/, "", n)
  if (n != cur) { print "sample outside its family: " $0; bad = 1 }
  if (NF != 2 || $2 !~ /^[0-9]+(\.[0-9]+)?$/) { print "bad sample: " $0; bad = 1 } }
END { exit bad }' "$TMP/m" || fail "metrics format"
tail -c1 "$TMP/m" | od -c | grep -q '\\n' || fail "no final newline"

# The documented names exist.
for n in ipcfs_build_info ipcfs_groups ipcfs_members ipcfs_commands_total ipcfs_errors_total \
	 ipcfs_uptime_seconds ipcfs_group_ranks ipcfs_group_live_members ipcfs_group_joined_members \
	 ipcfs_group_stalled_ranks ipcfs_group_bcasts_total ipcfs_group_bcast_errors_total \
	 ipcfs_group_segment_bytes ipcfs_group_arena_bytes ipcfs_group_arena_used_bytes \
	 ipcfs_group_arena_blocks ipcfs_rank_live ipcfs_rank_joins_total \
	 ipcfs_rank_sent_messages_total ipcfs_rank_sent_bytes_total \
	 ipcfs_rank_received_messages_total ipcfs_rank_received_bytes_total ipcfs_rank_waits_total \
	 ipcfs_rank_spins_total ipcfs_rank_sleeps_total ipcfs_rank_wakeups_total \
	 ipcfs_rank_stalls_total ipcfs_rank_timeouts_total ipcfs_rank_lag_messages \
	 ipcfs_rank_stalled_seconds ipcfs_rank_allreduce_oneshot_total \
	 ipcfs_rank_allreduce_twoshot_total ipcfs_rank_allreduce_nccl_total \
	 ipcfs_rank_allreduce_bytes_total ipcfs_rank_allreduce_errors_total; do
	grep -q "^# TYPE $n " "$TMP/m" || fail "no family $n"
	grep -q "$n" "$(dirname "$0")/../../man/ipcfs.7" || fail "$n not documented in man/ipcfs.7"
done
ok "format and names"

# Every key of a group's stat has its family: ipcfs_group_KEY or
# ipcfs_rank_KEY (with _total for a counter), or one of the older names.
# (The allreduce_* counters were once in stat and not in metrics.)
cat "$G/stat" > "$TMP/stat"
while read -r k _; do
	case $k in
	sent) f=ipcfs_rank_sent_messages_total ;;
	recv) f=ipcfs_rank_received_messages_total ;;
	recv_bytes) f=ipcfs_rank_received_bytes_total ;;
	lag) f=ipcfs_rank_lag_messages ;;
	*) f=$(grep -oE "^# TYPE ipcfs_(group|rank)_${k}(_total)? " "$TMP/m" | awk '{ print $3 }') ;;
	esac
	[ -n "$f" ] && grep -q "^# TYPE $f " "$TMP/m" || fail "stat key $k has no family in metrics"
done < "$TMP/stat"
ok "every stat key is in metrics"

# Values.
val() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/m"; }
expect_eq "$(val ipcfs_groups)" 2 "ipcfs_groups"
expect_eq "$(val 'ipcfs_group_ranks{group="g"}') $(val 'ipcfs_group_ranks{group="h"}')" "4 2" "group ranks"
expect_eq "$(val 'ipcfs_group_arena_bytes{group="g"}')" 1048576 "arena bytes"
expect_eq "$(val 'ipcfs_group_arena_bytes{group="h"}')" 0 "no arena"
expect_eq "$(val 'ipcfs_group_joined_members{group="g"}')" 2 "joined members"
expect_eq "$(val 'ipcfs_group_bcast_errors_total{group="g"}')" 1 "bcast errors"
expect_eq "$(val 'ipcfs_rank_sent_messages_total{group="g",rank="1"}')" 5 "rank 1 sent"
expect_eq "$(val 'ipcfs_rank_received_messages_total{group="g",rank="2"}')" 5 "rank 2 received"
expect_eq "$(val 'ipcfs_rank_sent_bytes_total{group="g",rank="1"}')" "$(member_field "$G/members" 1 sent_bytes)" "rank 1 bytes"
expect_eq "$(val 'ipcfs_rank_joins_total{group="g",rank="2"}')" 1 "rank 2 joins"
expect_eq "$(val 'ipcfs_rank_lag_messages{group="g",rank="2"}')" 0 "rank 2 lag"
[ -n "$(val 'ipcfs_rank_sent_messages_total{group="g",rank="ctl"}')" ] || fail "no control sender row"
[ -z "$(val 'ipcfs_rank_sent_messages_total{group="g",rank="0"}')" ] || fail "a rank that never joined has samples"
expect_eq "$(val ipcfs_errors_total)" "$(kv "$MNT/stat" errors)" "errors as in stat"
# Same numbers as the group's stat.
expect_eq "$(awk '/^ipcfs_rank_sent_messages_total\{group="g"/ { s += $2 } END { print s }' "$TMP/m")" \
	"$(kv "$G/stat" sent)" "sum of sent = stat sent"
ok "values"

# Live members and a removed group.
bg "$MEMBER" "$G" 3 hold > "$TMP/h.out"
wait_until 3 'grep -q "^ipcfs_rank_live{group=\"g\",rank=\"3\"} 1$" "$M"' || fail "rank 3 not live in metrics"
grep -q '^ipcfs_members 1$' "$M" || fail "ipcfs_members"
rmdir "$MNT/groups/h"
grep -q 'group="h"' "$M" && fail "removed group still in metrics"
kill $BG; wait $BG
stop_daemon
ok "live members, removed group"
