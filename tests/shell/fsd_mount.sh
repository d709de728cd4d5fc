#!/bin/bash
# ipcfsd mounts, shows the top level, and exits 0 on fusermount3 -u,
# SIGTERM and SIGINT, unmounting in each case.
. "$(dirname "$0")/lib.sh"

start_daemon
expect_eq "$(ls "$MNT" | tr '\n' ' ')" "ctl error_log groups metrics stat version " "top level"
expect_eq "$(cat "$MNT/version")" "ipcfs 0.1.0 abi $ABI" "version"
expect_eq "$(kv "$MNT/stat" groups)" 0 "stat groups"
for k in groups members commands errors uptime_s; do
	[ -n "$(kv "$MNT/stat" $k)" ] || fail "stat has no $k"
done
expect_eq "$(stat -c %a "$MNT/groups")" 1777 "groups/ mode"
expect_eq "$(stat -c %F "$MNT/version")" "regular file" "version type"
expect_eq "$(stat -c %s "$MNT/version")" "$(wc -c < "$MNT/version")" "version size (its content now)"
grep -q "fuse.ipcfs" /proc/self/mounts || fail "mount type"
grep " $MNT " /proc/self/mounts | grep -q default_permissions || fail "no default_permissions"
stop_daemon
is_mounted && fail "still mounted after fusermount3 -u"
ok "fusermount3 -u: exit 0"

for sig in TERM INT; do
	start_daemon
	kill -$sig "$DPID"
	rc=0; wait "$DPID" || rc=$?
	DPID=
	expect_eq $rc 0 "exit status after SIG$sig"
	wait_until 2 '! is_mounted' || fail "still mounted after SIG$sig"
	ok "SIG$sig: unmounted, exit 0"
done

# A second daemon on the same state directory is refused.
start_daemon
mkdir "$TMP/mnt2"
rc=0; "$IPCFSD" -f -o statedir="$STATE" "$TMP/mnt2" 2>"$TMP/second.err" || rc=$?
[ $rc != 0 ] || fail "second daemon on the same state directory started"
grep -q "another ipcfsd" "$TMP/second.err" || fail "second daemon: $(cat "$TMP/second.err")"
stop_daemon
ok "state directory locked"

# A second daemon over a running one on the same mount point is refused
# (its own state directory: only the mount point is shared); the first
# keeps serving its groups.
start_daemon
expect_write "$MNT/ctl" "create g" OK
S2=$(mktemp -d /dev/shm/ipcfs-test.XXXXXX)
CLEANUP_HOOK='rm -rf "$S2"'
"$IPCFSD" -f -o statedir="$S2" "$MNT" 2>"$TMP/over.err" &
P2=$!
wait_until 5 '! kill -0 $P2 2>/dev/null || [ $(grep -c " $MNT fuse" /proc/self/mounts) -gt 1 ]'
if [ "$(grep -c " $MNT fuse" /proc/self/mounts)" -gt 1 ]; then
	fusermount3 -u "$MNT"
	wait $P2
	fail "a second daemon mounted over the first"
fi
rc=0; wait $P2 || rc=$?
[ $rc != 0 ] || fail "second daemon on the same mount point: exit 0"
grep -q "already served by ipcfsd" "$TMP/over.err" || fail "second daemon: $(cat "$TMP/over.err")"
expect_eq "$(ls "$MNT/groups")" g "groups of the first daemon"
stop_daemon
ok "a second daemon on a served mount point is refused"
