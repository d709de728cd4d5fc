#!/bin/bash
# promtool check metrics on the metrics file (and on ipcfs stat
# --prometheus for one group) with groups, members and traffic. Skipped
# (77) when promtool (Debian package prometheus) is not installed.
. "$(dirname "$0")/lib.sh"
command -v promtool > /dev/null || skip "promtool is not installed (apt-get install prometheus)"

start_daemon
expect_write "$MNT/ctl" "create g ranks=3 arena_bytes=64K" OK
expect_write "$MNT/ctl" "create other.group-2 ranks=2" OK
G=$MNT/groups/g
bg "$MEMBER" -n 3 -w 1 "$G" 0 send > /dev/null
bg "$MEMBER" -n 3 "$G" 1 recv > /dev/null
wait_until 5 '[ "$(member_field "$G/members" 1 recv)" = 3 ]' || fail "messages did not pass"
bg "$MEMBER" "$G" 2 hold > /dev/null
wait_until 3 '[ "$(kv "$G/stat" live_members)" = 1 ]' || fail "holder did not join"
cat "$MNT/metrics" > "$TMP/m"
promtool check metrics < "$TMP/m" > "$TMP/pt" 2>&1 || fail "promtool check metrics: $(cat "$TMP/pt")"
"$BUILD/ipcfs" stat -m "$MNT" --prometheus g > "$TMP/mg" || fail "ipcfs stat --prometheus g"
promtool check metrics < "$TMP/mg" > "$TMP/pt" 2>&1 || fail "promtool on one group: $(cat "$TMP/pt")"
kill $BG; wait $BG
stop_daemon
ok "promtool check metrics"
