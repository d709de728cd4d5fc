#!/bin/bash
# A group the daemon cannot persist is not created: with no room for its
# state file (a tmpfs state directory out of inodes: ENOSPC), mkdir and
# `create` fail with ENOSPC, the reason is in error_log and the daemon's
# log, no segment is left behind, and a restart after kill -9 finds what
# the first daemon showed. Likewise a change the state file cannot keep
# (register, unregister, reset-stat, an attribute) is not made.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (mounts a tmpfs)"
FULL=$TMP/full
mkdir "$FULL"
# Inodes: the root, .lock, one segment; the state file finds none.
mount -t tmpfs -o size=64m,nr_inodes=3,mode=0711 ipcfs-test "$FULL" 2>/dev/null ||
	skip "cannot mount a tmpfs here"
STATE_SAVE=$STATE
CLEANUP_HOOK='umount -l "$FULL"; rm -rf "$STATE_SAVE"'
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
ok "no room for the state file: mkdir and create fail with ENOSPC, nothing left"

# One more inode: a group fits (segment and state file), but a new state
# file (written beside the old one, then renamed) does not.
umount "$FULL"
mount -t tmpfs -o size=64m,nr_inodes=4,mode=0711 ipcfs-test "$FULL" || fail "remount"
start_daemon
mkdir "$MNT/groups/g" || fail "mkdir g with room for one state file"
G=$MNT/groups/g
state=$(cat "$FULL/g.state")
expect_write "$G/ctl" "register buf 0 c0ffee" ENOSPC
expect_eq "$(ls "$G/gpu")" "" "gpu/ after a register the state file could not keep"
expect_write "$G/algo" "nccl" ENOSPC
expect_eq "$(cat "$G/algo")" auto "algo after a change the state file could not keep"
expect_write "$G/ranks" "5" ENOSPC
expect_eq "$(cat "$G/ranks")" 8 "ranks after a change the state file could not keep"
expect_write "$G/ctl" "reset-stat" ENOSPC
expect_eq "$(cat "$FULL/g.state")" "$state" "state file after four refused changes"
grep -q 'register buf 0 c0ffee": ENOSPC: register: cannot write the state file' "$G/error_log" ||
	fail "error_log: $(cat "$G/error_log")"
grep -q 'algo: "nccl": ENOSPC: algo: cannot write the state file' "$G/error_log" ||
	fail "error_log: $(cat "$G/error_log")"
# What the group showed survives a kill -9.
kill -9 $DPID; wait $DPID 2>/dev/null; DPID=
fusermount3 -u -z "$MNT" 2>/dev/null
start_daemon
expect_eq "$(cat "$G/algo") $(cat "$G/ranks") $(ls "$G/gpu" | wc -l)" "auto 8 0" "after a restart"
stop_daemon
STATE=$STATE_SAVE
ok "changes the state file cannot keep fail with ENOSPC and are not made"
