#!/bin/bash
# hugepages=2M through the mount: the segment moves to a hugetlbfs mount
# and is backed by huge pages; with none reserved the write fails with
# ENOMEM and says why in error_log. Needs root (mount, vm.nr_hugepages).
. "$(dirname "$0")/lib.sh"

NR=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
[ "$(id -u)" = 0 ] && [ -w "$NR" ] || skip "needs root and 2M huge pages"
HUGE=$TMP/huge
mkdir "$HUGE"
mount -t hugetlbfs -o pagesize=2M none "$HUGE" || skip "cannot mount hugetlbfs"
SAVED=$(cat "$NR")
CLEANUP_HOOK='umount -l "$HUGE"; echo "$SAVED" > "$NR"'

IPCFS_HUGETLBFS=$HUGE start_daemon
expect_write "$MNT/ctl" "create g ranks=2 slots=8" OK
G=$MNT/groups/g
echo 0 > "$NR"
expect_write "$G/hugepages" 2M ENOMEM
grep -q "not enough 2048 KiB huge pages reserved" "$G/error_log" || fail "ENOMEM not explained"
expect_eq "$(cat "$G/hugepages")" none "hugepages after a failed write"
ok "no huge pages reserved: ENOMEM, explained"

echo $((SAVED + 4)) > "$NR"
free0=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
expect_write "$G/hugepages" 2M OK
expect_eq "$(cat "$G/hugepages")" 2M "hugepages"
seg=$(cat "$G/shm")
case $seg in "$HUGE"/*) ;; *) fail "segment $seg is not on the hugetlbfs mount" ;; esac
case $seg in *//*) fail "segment path $seg has an empty component" ;; esac
[ $(( $(stat -c %s "$seg") % (2 << 20) )) = 0 ] || fail "segment not sized in huge pages"
free1=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
[ "$free1" -lt "$free0" ] || fail "no huge page taken ($free0 -> $free1)"
ok "segment on hugetlbfs, pre-faulted from the pool"

# Members talk through it.
bg "$MEMBER" -n 3 -s 0 "$G" 1 recv > "$TMP/r1.out"; R1=$BG
wait_until 3 '[ "$(member_field "$G/members" 1 state)" = live ]' || fail "reader did not join"
"$MEMBER" -n 3 "$G" 0 send || fail "sender failed"
wait "$R1" || fail "reader failed"
expect_eq "$(kv "$G/stat" recv)" 3 "messages received"
ok "members exchange messages over huge pages"

# Back to normal pages: the segment returns beside the state files.
expect_write "$G/hugepages" none EBUSY   # frozen: members joined
rmdir "$G" || fail "rmdir"
[ ! -e "$seg" ] || fail "segment left on hugetlbfs after rmdir"
stop_daemon
ok "rmdir removes the huge-page segment"
