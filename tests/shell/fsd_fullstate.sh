#!/bin/bash
# A group the daemon cannot persist is not created: with no room for its
# state file (a tmpfs state directory out of inodes: ENOSPC), mkdir and
# `create` fail with ENOSPC, the reason is in error_log and the daemon's
# log, no segment is left behind, and a restart after kill -9 finds what
# the first daemon showed.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (mounts a tmpfs)"
FULL=$TMP/full
mkdir "$FULL"
# Inodes: the root, .lock, one segment; the state file finds none.
mount -t tmpfs -o size=64m,nr_inodes=3,mode=0711 ipcfs-test "$FULL" 2>/dev/null ||
	skip "cannot mount a tmpfs here"
CLEANUP_HOOK='umount -l "$FULL"'
STATE_SAVE=$STATE
STATE=$FULL

start_daemon
err=$(mkdir "$MNT/groups/g" 2>&1) && fail "mkdir g succeeded with no room for its state"
case $err in *"No space left on device"*) ;; *) fail "mkdir g: $err" ;; esac
expect_write "$MNT/ctl" "create h" ENOSPC
expect_eq "$(ls "$MNT/groups" | wc -l)" 0 "groups after two failed creations"
expect_eq "$(ls "$FULL")" "" "files left in the state directory"
grep -q 'mkdir: "g": ENOSPC: .*state' "$MNT/error_log" || fail "error_log: $(cat "$MNT/error_log")"
grep -q 'g: cannot write its state' "$LOG" || fail "no daemon log line"

# What it showed survives a kill -9: no group appears or vanishes.
kill -9 $DPID; wait $DPID 2>/dev/null; DPID=
fusermount3 -u -z "$MNT" 2>/dev/null
start_daemon
expect_eq "$(ls "$MNT/groups" | wc -l)" 0 "groups after a restart"
stop_daemon
STATE=$STATE_SAVE
ok "no room for the state file: mkdir and create fail with ENOSPC, nothing left"
