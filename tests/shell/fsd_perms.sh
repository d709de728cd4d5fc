#!/bin/bash
# Ownership and permissions: a group belongs to its creator; another uid
# without access can neither read shm, write ctl, join, open the segment
# nor destroy the group; a mode that grants access lets it join; a group
# made by that uid is its own.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (useradd, setpriv)"
command -v useradd >/dev/null && command -v setpriv >/dev/null || skip "no useradd/setpriv"
U=ipcfst$$
useradd -M -r -s /bin/false "$U" 2>/dev/null || skip "useradd failed"
UPID=
CLEANUP_HOOK='[ -n "$UPID" ] && kill -9 $UPID 2>/dev/null; wait 2>/dev/null; userdel $U' 
UID_=$(id -u "$U")
as_user() { setpriv --reuid "$UID_" --regid "$UID_" --clear-groups -- "$@"; }
# The helpers must be reachable by the throwaway user.
as_user test -x "$MEMBER" || skip "$MEMBER not executable by another uid"

start_daemon
grep " $MNT " /proc/self/mounts | grep -q allow_other || fail "root daemon without allow_other"
mkdir "$MNT/groups/g"
G=$MNT/groups/g
expect_eq "$(stat -c '%U %a' "$G")" "root 770" "owner and mode"

# Refused everywhere.
as_user cat "$G/shm" 2>/dev/null && fail "other uid read shm"
as_user sh -c "echo 'join 1' > $G/ctl" 2>/dev/null && fail "other uid wrote ctl"
as_user sh -c "echo 4 > $G/ranks" 2>/dev/null && fail "other uid wrote ranks"
out=$(as_user "$MEMBER" "$G" 1 hold 2>&1) && fail "other uid joined"
expect_eq "$out" "EACCES: join" "join by another uid"
as_user cat "$STATE/g.seg" > /dev/null 2>&1 && fail "other uid read the segment"
expect_eq "$(as_user "$PROBE" open "$STATE/g.seg" r)" EACCES "open of the segment by another uid"
as_user rmdir "$G" 2>/dev/null && fail "other uid removed the group"
expect_eq "$(as_user "$PROBE" write "$MNT/ctl" "destroy g")" EPERM "destroy by another uid"
grep -q 'destroy g": EPERM: group g belongs to uid 0' "$MNT/error_log" || fail "EPERM not logged"
[ -d "$G" ] || fail "group gone"
expect_eq "$(kv "$G/stat" live_members)" 0 "nobody joined"
ok "another uid is refused: shm, ctl, attributes, join, segment, rmdir, destroy"

# Granted: mode 0777 opens the group to everyone.
echo 0777 > "$G/mode"
expect_eq "$(stat -c %a "$STATE/g.seg")" 666 "segment mode 0666"
bg setpriv --reuid "$UID_" --regid "$UID_" --clear-groups -- "$MEMBER" "$G" 1 hold > "$TMP/u.out"
UPID=$BG
wait_until 3 'grep -q "joined 1" "$TMP/u.out"' || fail "granted uid could not join: $(cat "$TMP/u.out")"
pid=$(member_field "$G/members" 1 pid)
expect_eq "$(stat -c %u /proc/$pid)" "$UID_" "rank 1 runs as the other uid"
# ...but it may not make root's rank leave, nor destroy the group.
echo "join 0" > "$G/ctl" || fail "root join 0"
expect_eq "$(as_user "$PROBE" write "$G/ctl" "leave 0")" EPERM "leave of someone else's rank"
kill -TERM $UPID; wait $UPID
expect_eq "$(member_field "$G/members" 1 state)" left "the other uid's member left"
ok "a granted uid joins"

# A group made by the other uid is its own.
as_user mkdir "$MNT/groups/mine" || fail "other uid cannot mkdir"
expect_eq "$(stat -c '%U %a' "$MNT/groups/mine")" "$U 770" "owner of the user's group"
expect_eq "$(stat -c '%U %a' "$STATE/mine.seg")" "$U 660" "owner of the user's segment"
expect_eq "$(stat -c %U "$MNT/groups/mine/ranks")" "$U" "owner of the user's files"
as_user sh -c "echo 2 > $MNT/groups/mine/ranks" || fail "owner cannot write its attributes"
expect_eq "$(cat "$MNT/groups/mine/ranks")" 2 "ranks of the user's group"
as_user rmdir "$MNT/groups/mine" || fail "owner cannot remove its group"
ok "a group belongs to the uid that made it"
stop_daemon
