#!/bin/bash
# Attribute files: defaults, valid writes read back (units), invalid values
# with their errno, the segment re-created on layout changes, EBUSY once a
# member joined.
. "$(dirname "$0")/lib.sh"

# Huge pages need a hugetlbfs mount: point the daemon at a directory that
# is none, so that asking for them fails the same way on every machine
# (fsd_hugepages.sh tests a real mount).
IPCFS_HUGETLBFS=$TMP start_daemon
mkdir "$MNT/groups/g"
A=$MNT/groups/g
for pair in ranks=8 slots=64 slot_bytes=4096 arena_bytes=0 numa_node=-1 hugepages=none \
	    spin_us=50 timeout_ms=1000 algo=auto mode=0770; do
	expect_eq "$(cat "$A/${pair%%=*}")" "${pair#*=}" "default ${pair%%=*}"
done
ok "defaults"

seg=$(cat "$A/shm")
size0=$(stat -c %s "$seg")
ino0=$(stat -c %i "$seg")
# value written => value read
for t in ranks:4:4 slots:16:16 slot_bytes:2K:2048 slot_bytes:128:128 arena_bytes:1M:1048576 \
	 arena_bytes:8KiB:8192 numa_node:0:0 numa_node:-1:-1 \
	 hugepages:none:none spin_us:0:0 spin_us:1000000:1000000 timeout_ms:250:250 \
	 algo:twoshot:twoshot algo:nccl:nccl algo:oneshot:oneshot mode:750:0750 mode:0770:0770; do
	IFS=: read -r name val want <<< "$t"
	echo "$val" > "$A/$name" || fail "write $val to $name"
	expect_eq "$(cat "$A/$name")" "$want" "$name after writing $val"
done
printf 16 > "$A/slots" || fail "write without a newline"
expect_eq "$(cat "$A/slots")" 16 "slots without newline"
ok "valid values read back"

# The layout attributes re-create the segment (same path, new file).
expect_eq "$(cat "$A/shm")" "$seg" "shm path is stable"
[ "$(stat -c %i "$seg")" != "$ino0" ] || fail "segment not re-created"
[ "$(stat -c %s "$seg")" != "$size0" ] || fail "segment size unchanged after layout change"
# ranks 4, slots 16, slot_bytes 128, arena 8 KiB: hdr 1 page, 5 rank
# records, rings 5*16*(64+128) = 15360 -> 4 pages, arena 2 pages.
rank_bytes=$(( $(stat -c %s "$seg") ))
[ $rank_bytes -ge $((4096 * 7)) ] && [ $rank_bytes -le $((4096 * 12)) ] || fail "segment size $rank_bytes unexpected"
expect_eq "$(kv "$A/stat" ranks)" 4 "stat ranks follows the segment"
expect_eq "$(kv "$A/stat" segment_bytes)" "$rank_bytes" "stat segment_bytes"
echo 0750 > "$A/mode"
expect_eq "$(stat -c %a "$A")" 750 "directory mode follows mode"
expect_eq "$(stat -c %a "$seg")" 640 "segment mode follows mode"
expect_eq "$(stat -c %a "$A/ranks")" 640 "attribute file mode follows mode"
expect_eq "$(stat -c %a "$A/stat")" 440 "read-only file mode follows mode"
expect_eq "$(stat -c %a "$A/ctl")" 200 "ctl mode follows mode (group: no w)"
echo 0770 > "$A/mode"
ok "segment re-created and chmod'ed"

# Invalid values: errno, value unchanged, a line in error_log.
before=$(lines "$A/error_log")
n=0
while read -r name val want; do
	[ -z "$name" ] && continue
	old=$(cat "$A/$name")
	expect_write "$A/$name" "$val" "$want"
	expect_eq "$(cat "$A/$name")" "$old" "$name after bad value $val"
	n=$((n + 1))
done <<'TABLE'
ranks 0 ERANGE
ranks 65 ERANGE
ranks -1 EINVAL
ranks 4x EINVAL
ranks 99999999999999999999999 ERANGE
ranks 0x10 EINVAL
slots 3 EINVAL
slots 1 ERANGE
slots 131072 ERANGE
slot_bytes 100 EINVAL
slot_bytes 32 ERANGE
slot_bytes 32M ERANGE
slot_bytes 1T EINVAL
arena_bytes 1000 EINVAL
arena_bytes 2000G ERANGE
numa_node 1023 ENOENT
numa_node 1024 ERANGE
numa_node -2 EINVAL
numa_node auto:zz EINVAL
numa_node auto:0000:ff:1f.7 ENOENT
hugepages 4M EINVAL
hugepages NONE EINVAL
hugepages 2M ENODEV
hugepages 1G ENODEV
spin_us 1000001 ERANGE
timeout_ms 0 ERANGE
algo fast EINVAL
mode 0778 EINVAL
mode 4770 ERANGE
mode rwx EINVAL
TABLE
expect_eq "$(lines "$A/error_log")" $((before + n)) "error_log lines after $n bad values"
grep -q 'ranks: "65": ERANGE: ranks 65 out of range 1..64' "$A/error_log" || fail "error_log line format"
grep -q 'slots: "3": EINVAL: slots: 3 is not a power of two' "$A/error_log" || fail "error_log power of two"
ok "$n invalid values refused with their errno and logged"

# numa_node auto: a PCI device that exists.
dev=$(ls /sys/bus/pci/devices 2>/dev/null | head -n1)
if [ -n "$dev" ]; then
	node=$(cat /sys/bus/pci/devices/$dev/numa_node)
	[ "$node" -lt 0 ] && node=-1
	expect_write "$A/numa_node" "auto:$dev" OK
	expect_eq "$(cat "$A/numa_node")" "$node" "numa_node auto:$dev"
	ok "numa_node auto:$dev resolves to $node"
fi

# Frozen once a member joined (the shell itself joins here).
( echo "join 1" > "$A/ctl" && sleep 3 ) &
BGPIDS="$BGPIDS $!"
wait_until 3 '[ "$(kv "$A/stat" live_members)" = 1 ]' || fail "shell join"
for name in ranks slots slot_bytes arena_bytes numa_node hugepages spin_us timeout_ms algo mode; do
	val=$(cat "$A/$name")
	expect_write "$A/$name" "$val" EBUSY
done
grep -q 'EBUSY: ranks: a member has joined; attributes are frozen' "$A/error_log" || fail "EBUSY not logged"
ok "EBUSY after the first join"
stop_daemon
