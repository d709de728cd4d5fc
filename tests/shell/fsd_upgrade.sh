#!/bin/bash
# Upgrade: a daemon restarted on a state directory whose group's segment
# was made by another version of ipcfs (another ABI) keeps the group (its
# attributes, owner and GPU records come from the state file) and gives it
# a fresh segment, saying so in its log; members of this version then join
# and talk. A member still holding the old segment keeps its own mapping.
. "$(dirname "$0")/lib.sh"

start_daemon
expect_write "$MNT/ctl" "create v ranks=2 slots=16 timeout_ms=700 mode=0750" OK
G=$MNT/groups/v
expect_write "$G/ctl" "register buf 0 c0ffee" OK
seg=$(cat "$G/shm")
bg "$MEMBER" "$G" 1 hold > "$TMP/old.out"; OLD=$BG
wait_until 3 '[ "$(kv "$G/stat" live_members)" = 1 ]' || fail "member did not join"
stop_daemon

# The segment as another version left it: the ABI word (a u32 after the
# 8-byte magic, little-endian) says ABI - 1.
old_abi=$((ABI - 1))
printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((old_abi & 255)) $((old_abi >> 8 & 255)) \
	$((old_abi >> 16 & 255)) $((old_abi >> 24)))" |
	dd of="$seg" bs=1 seek=8 count=4 conv=notrunc status=none || fail "cannot write the ABI word"
ino_old=$(stat -c %i "$seg")

start_daemon
expect_eq "$(ls "$MNT/groups" | tr "\n" " ")" "v " "group kept"
expect_eq "$(cat "$G/ranks") $(cat "$G/slots") $(cat "$G/timeout_ms") $(cat "$G/mode")" \
	"2 16 700 0750" "attributes kept"
expect_eq "$(cat "$G/gpu/buf/0")" c0ffee "GPU record kept"
expect_eq "$(cat "$G/shm")" "$seg" "same path"
[ "$(stat -c %i "$seg")" != "$ino_old" ] || fail "the old segment was not replaced"
grep -q "v: its segment $seg is of another ipcfs version (not ABI $ABI): replaced by a fresh one" \
	"$LOG" || fail "no log line for the replaced segment"
expect_eq "$(kv "$G/stat" live_members)" 0 "nobody in the fresh segment"
ok "a segment of another version is replaced; the group, its attributes and records kept"

# The member of the old segment is not in the new one; it still runs.
kill -0 $OLD || fail "the old segment's member died"
kill -TERM $OLD; wait $OLD
bg "$MEMBER" "$G" 1 hold > "$TMP/new.out"; NEW=$BG
wait_until 3 '[ "$(kv "$G/stat" live_members)" = 1 ]' || fail "member of this version did not join"
expect_write "$G/ctl" "bcast after the upgrade" OK
expect_eq "$(member_field "$G/members" 1 lag)" 1 "the bcast reached the new member's ring"
kill -TERM $NEW; wait $NEW
wait_until 2 '[ "$(member_field "$G/members" 1 state)" = left ]' || fail "member did not leave"
rmdir "$G" || fail "rmdir"
stop_daemon
ok "members of this version join the fresh segment and talk"
