#!/bin/bash
# ipcfsd mounts, shows the top level, and exits 0 on fusermount3 -u,
# SIGTERM and SIGINT, unmounting in each case.
. "$(dirname "$0")/lib.sh"

start_daemon
expect_eq "$(ls "$MNT" | tr '\n' ' ')" "ctl error_log groups metrics stat version " "top level"
expect_eq "$(cat "$MNT/version")" "ipcfs 0.1.0 abi $(sed -n 's/^#define IPCFS_ABI //p' lib/ipcfs.h)" "version"
expect_eq "$(kv "$MNT/stat" groups)" 0 "stat groups"
for k in groups members commands errors uptime_s; do
	[ -n "$(kv "$MNT/stat" $k)" ] || fail "stat has no $k"
done
expect_eq "$(stat -c %a "$MNT/groups")" 1777 "groups/ mode"
expect_eq "$(stat -c %F "$MNT/version")" "regular empty file" "version type (size 0: generated at read time)"
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
