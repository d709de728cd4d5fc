#!/bin/bash
# A running bridge reports its counters to its daemon through a pipe, not
# through the mount: the bridge file shows them, nobody can write them,
# and the bridge opens no file of the mount while it runs (it opened the
# bridge file every 0.5 s, and a hand `fusermount3 -u` in that moment
# failed with EBUSY). The daemon stops it at the unmount.
. "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || fail "strace is missing (tools/install-deps.sh installs it)"

start_daemon
A=$MNT/groups/g
mkdir "$A"
echo 4 > "$A/ranks"
echo 1000 > "$A/node_timeout_ms"
# Node a is this machine, on loopback; node b never answers.
port=$((20000 + RANDOM % 20000))
printf 'a tcp://127.0.0.1:%d 0-1\nb tcp://127.0.0.1:%d 2-3\n' $port $((port + 1)) > "$A/nodes" ||
	fail "write nodes"
echo a > "$A/node" || fail "write node"

wait_until 5 'grep -q "^node b up=0 " "$A/bridge"' || fail "no counters for node b: $(cat "$A/bridge")"
grep -q "^node.b.up 0$" "$A/stat" || fail "stat has no node.b lines: $(grep node "$A/stat")"
expect_write "$A/bridge" "b up=1" EACCES
grep -q "^node b up=0 " "$A/bridge" || fail "a write changed the counters: $(cat "$A/bridge")"
ok "the bridge's counters reach the bridge file and stat, and nobody else writes them"

bpid=$(kv "$A/bridge" pid)
[ "${bpid:-0}" -gt 0 ] || fail "no bridge pid: $(cat "$A/bridge")"
[ -p "/proc/$bpid/fd/3" ] || fail "the bridge's fd 3 is not a pipe: $(ls -l /proc/$bpid/fd)"
# Past node b's timeout (the proxies' state settles), then three reports.
sleep 1.2
kv "$A/bridge" pid | grep -qx "$bpid" || fail "the bridge restarted: $(cat "$A/bridge")"
timeout -s INT 1.6 strace -f -qq -e trace=open,openat,openat2,write -o "$TMP/strace" \
	-p "$bpid" 2> "$TMP/strace.err"
# The watch saw the reports go (a write every 0.5 s to fd 3): it worked.
reports=$(grep -c 'write(3, "b up=0 ' "$TMP/strace")
[ "$reports" -ge 2 ] ||
	fail "strace saw $reports reports (want 2 or more): $(head -3 "$TMP/strace.err" "$TMP/strace")"
if grep -F "$MNT" "$TMP/strace"; then
	fail "the bridge opened files of the mount while it ran (above)"
fi
kill -0 "$bpid" 2>/dev/null || fail "the bridge did not survive being watched"
ok "a running bridge opens nothing of the mount"

fusermount3 -u "$MNT" || fail "unmount with a running bridge"
wait "$DPID" || fail "daemon exited with $?"
DPID=
kill -0 "$bpid" 2>/dev/null && fail "the bridge outlived its daemon"
ok "the daemon stops its bridge at the unmount"
