#!/bin/bash
# The nodes and node files of a group spanning machines: valid writes read
# back canonical, each kind of bad write fails with its errno and a line in
# error_log and changes nothing, ranks cannot leave the nodes, and both
# survive a restart of the daemon (state file).
. "$(dirname "$0")/lib.sh"

start_daemon
mkdir "$MNT/groups/g"
A=$MNT/groups/g
echo 4 > "$A/ranks"
expect_eq "$(cat "$A/nodes")" "" "nodes unset by default"
expect_eq "$(cat "$A/node")" "" "node unset by default"
expect_eq "$(stat -c %a "$A/nodes")" 660 "nodes mode follows mode"
expect_eq "$(cat "$A/node_timeout_ms")" 3000 "node_timeout_ms default"
expect_write "$A/node_timeout_ms" 99 ERANGE
echo 1500 > "$A/node_timeout_ms" || fail "write node_timeout_ms"
expect_eq "$(cat "$A/node_timeout_ms")" 1500 "node_timeout_ms read back"

printf 'a  tcp://198.51.100.1:7100 0,1\n# comment\n\nb\ttcp://198.51.100.2:7100 3,2\n' > "$A/nodes" ||
	fail "write nodes"
expect_eq "$(cat "$A/nodes")" "a tcp://198.51.100.1:7100 0-1
b tcp://198.51.100.2:7100 2-3" "nodes read back canonical"
echo b > "$A/node" || fail "write node"
expect_eq "$(cat "$A/node")" "b" "node read back"
ok "valid nodes and node read back"

before=$(lines "$A/error_log")
good=$(cat "$A/nodes")
expect_write "$A/nodes" $'a tcp://198.51.100.1:7100 0-1\nb tcp://198.51.100.2:7100 2\n' EINVAL
expect_write "$A/nodes" $'a tcp://198.51.100.1:7100 0-1\nb tcp://198.51.100.2:7100 2-4\n' ERANGE
expect_write "$A/nodes" $'a tcp://198.51.100.1:7100 0-1\nb tcp://198.51.100.1:7100 2-3\n' EINVAL
expect_write "$A/nodes" $'a tcp://198.51.100.1:7100 0-1\nc tcp://198.51.100.3:7100 2-3\n' EINVAL
expect_write "$A/nodes" $'a tcp://example:7100 0-3\n' EINVAL
expect_write "$A/node" "c" EINVAL
expect_write "$A/node" "a/b" EINVAL
expect_write "$A/ranks" "5" EINVAL
expect_eq "$(cat "$A/nodes")" "$good" "nodes unchanged by bad writes"
expect_eq "$(cat "$A/node")" "b" "node unchanged by bad writes"
expect_eq "$(cat "$A/ranks")" 4 "ranks unchanged"
expect_eq "$(( $(lines "$A/error_log") - before ))" 8 "one error_log line per bad write"
grep -q 'nodes: .*line 2: rank 4 beyond the group' "$A/error_log" || fail "error_log names the line: $(cat "$A/error_log")"
grep -q 'node is b, which the nodes do not list' "$A/error_log" || fail "error_log says node is not listed"
grep -q 'ranks 5 does not fit the nodes' "$A/error_log" || fail "error_log says why ranks is refused"
grep -q 'closed while incomplete, not applied: rank 3 is on no node' "$A/error_log" ||
	fail "error_log says the file was left incomplete"
ok "bad writes refused with their errno, nothing changed"

# Written line by line (as a shell does), applied once whole; a line that
# is wrong by itself fails at once.
printf 'b tcp://198.51.100.2:7100 2-3\n' > "$TMP/n2"
{ echo "a tcp://198.51.100.1:7200 0-1"; cat "$TMP/n2"; } > "$A/nodes" || fail "nodes line by line"
expect_eq "$(head -n1 "$A/nodes")" "a tcp://198.51.100.1:7200 0-1" "nodes written line by line"
( exec 3> "$A/nodes"; echo "a tcp://198.51.100.1:7100 0-1" >&3; echo "b tcp://198.51.100.2:7100 2-9" >&3 ) 2>/dev/null &&
	fail "a bad second line is refused"
expect_eq "$(head -n1 "$A/nodes")" "a tcp://198.51.100.1:7200 0-1" "nothing applied from a bad piece"
echo "$good" > "$A/nodes" || fail "nodes back"

# The daemon starts the bridge once both are set; here it cannot listen
# on 198.51.100.2 (TEST-NET-2, on no interface): it exits before joining anything and
# is started again, later each time.
wait_until 5 '[ "$(awk "\$1 == \"starts\" { print \$2 }" "$A/bridge")" -ge 2 ]' ||
	fail "bridge not restarted: $(cat "$A/bridge")"
grep -q "^last_exit 256$\|^state running$" "$A/bridge" || fail "bridge file: $(cat "$A/bridge")"
grep -q "cannot listen on tcp://198.51.100.2:7100" "$LOG" || fail "the bridge's reason is not in the log"
expect_eq "$(kv "$A/stat" joined_members)" 0 "a bridge that cannot listen joins nothing"
expect_write "$A/bridge" "a up=1" EACCES # read-only: counters come through a pipe
ok "the daemon starts the bridge and restarts it after it exits"

stop_daemon
start_daemon
expect_eq "$(cat "$A/nodes")" "$good" "nodes after a restart"
expect_eq "$(cat "$A/node")" "b" "node after a restart"
expect_eq "$(cat "$A/node_timeout_ms")" 1500 "node_timeout_ms after a restart"
ok "kept across a restart"

# Cleared by writing an empty line (truncating alone changes nothing).
printf "\n" > "$A/nodes" || fail "clear nodes"
expect_eq "$(cat "$A/nodes")" "" "nodes cleared"
wait_until 5 'grep -q "^state off$" "$A/bridge"' || fail "bridge not off: $(cat "$A/bridge")"
printf '\n' > "$A/node" || fail "clear node"
expect_eq "$(cat "$A/node")" "" "node cleared"
echo 5 > "$A/ranks" || fail "ranks free again once nodes are cleared"
ok "cleared"
stop_daemon
