#!/bin/bash
# ipcfs stat: the daemon-wide and a group's counters as text, JSON and
# Prometheus text; the mount point from -m, $IPCFS_MOUNT, $XDG_RUNTIME_DIR;
# errors and bad arguments.
. "$(dirname "$0")/lib.sh"
IPCFS=$BUILD/ipcfs
[ -x "$IPCFS" ] || fail "$IPCFS is not built"

start_daemon
expect_write "$MNT/ctl" "create g ranks=4 arena_bytes=64K" OK
G=$MNT/groups/g
bg "$MEMBER" -w 1 "$G" 0 send > "$TMP/s.out"
bg "$MEMBER" -n 1 "$G" 1 recv > "$TMP/r.out"
wait_until 5 '[ "$(member_field "$G/members" 1 recv)" = 1 ]' || fail "members did not exchange"

# Text: what the stat files say.
run "$IPCFS" stat -m "$MNT"
[ "$RC" = 0 ] || fail "stat: exit $RC: $(cat "$TMP/err")"
expect_eq "$(awk '{ print $1 }' "$TMP/out" | tr '\n' ' ')" "$(awk '{ print $1 }' "$MNT/stat" | tr '\n' ' ')" "daemon-wide keys"
expect_eq "$(kv "$TMP/out" groups)" 1 "groups"
run "$IPCFS" stat --mount "$MNT" g
expect_eq "$(cat "$TMP/out")" "$(cat "$G/stat")" "group stat"
expect_eq "$(kv "$TMP/out" arena_bytes)" 65536 "arena_bytes in the group's stat"
expect_eq "$(kv "$TMP/out" sent)" 1 "sent"
# The group as a directory path; the mount from $IPCFS_MOUNT.
run "$IPCFS" stat "$G"
expect_eq "$RC $(kv "$TMP/out" recv)" "0 1" "stat by path"
IPCFS_MOUNT=$MNT run "$IPCFS" stat g
expect_eq "$RC $(kv "$TMP/out" ranks)" "0 4" "stat with IPCFS_MOUNT"
ok "text"

# JSON: one object, numbers as numbers, members for a group.
run "$IPCFS" stat -m "$MNT" --json g
[ "$RC" = 0 ] || fail "stat --json: exit $RC"
python3 - "$TMP/out" "$G/stat" <<'PY' || fail "stat --json output is wrong: $(cat "$TMP/out")"
import json, sys
text = open(sys.argv[1]).read()
assert text.count("\n") == 1, "one line"
o = json.loads(text)
kv = dict(l.split() for l in open(sys.argv[2]))
assert o["group"] == "g"
for k, v in kv.items():
    assert o[k] == int(v), (k, o[k], v)
m = {r["rank"]: r for r in o["members"]}
assert sorted(m) == [0, 1], m
assert m[0]["sent"] == 1 and m[1]["recv"] == 1 and m[0]["state"] in ("live", "left"), m
PY
run "$IPCFS" stat -m "$MNT" -j
python3 -c 'import json,sys; o = json.load(open(sys.argv[1])); assert o["groups"] == 1 and "uptime_s" in o' "$TMP/out" \
	|| fail "daemon-wide --json: $(cat "$TMP/out")"
ok "json"

# Prometheus: the metrics file; for a group, its samples only.
run "$IPCFS" stat -m "$MNT" --prometheus
expect_eq "$(grep -v uptime "$TMP/out")" "$(grep -v uptime "$MNT/metrics")" "--prometheus is the metrics file"
run "$IPCFS" stat -m "$MNT" -p g
[ "$RC" = 0 ] || fail "stat -p g: exit $RC"
grep -q '^ipcfs_rank_sent_messages_total{group="g",rank="0"} 1$' "$TMP/out" || fail "no rank 0 sent sample: $(cat "$TMP/out")"
grep -v '^#' "$TMP/out" | grep -v 'group="g"' && fail "samples of other groups or daemon-wide"
# every sample after its family's TYPE line
awk '/^# TYPE/ { t[$3] = 1; next } /^#/ { next } { n = $1; sub(/\{.*/, "", n); if (!(n in t)) { print "no TYPE for " n; bad = 1 } } END { exit bad }' "$TMP/out" \
	|| fail "a sample without its TYPE line"
ok "prometheus"

# Errors: one line, what and why; exit 1.
expect_fail 1 "ipcfs stat: read $MNT/groups/nope/stat: No such file or directory" "$IPCFS" stat -m "$MNT" nope
expect_fail 1 "ipcfs stat: read $TMP/none/stat: No such file or directory" "$IPCFS" stat -m "$TMP/none"
env -u IPCFS_MOUNT XDG_RUNTIME_DIR="$TMP/xdg" "$IPCFS" stat > /dev/null 2> "$TMP/err"
grep -qF "read $TMP/xdg/ipcfs/stat:" "$TMP/err" || fail "default mount from XDG_RUNTIME_DIR: $(cat "$TMP/err")"
if [ ! -e /run/ipcfs/stat ]; then
	env -u IPCFS_MOUNT -u XDG_RUNTIME_DIR "$IPCFS" stat > /dev/null 2> "$TMP/err"
	grep -qF "read /run/ipcfs/stat:" "$TMP/err" || fail "default mount /run/ipcfs: $(cat "$TMP/err")"
fi
# Usage errors: exit 2.
expect_fail 2 "unknown option '--bogus'" "$IPCFS" stat -m "$MNT" --bogus
expect_fail 2 "unknown option '-x'" "$IPCFS" stat -x
expect_fail 2 "exclude each other" "$IPCFS" stat -m "$MNT" --json --prometheus
expect_fail 2 "one group at most" "$IPCFS" stat -m "$MNT" g g
expect_fail 2 "option '--mount' needs a value" "$IPCFS" stat --mount
run "$IPCFS" stat --help
expect_eq "$RC $(head -n1 "$TMP/out" | cut -d" " -f1-3)" "0 usage: ipcfs stat" "stat --help"
ok "errors and usage"

kill $BGPIDS 2>/dev/null
stop_daemon
