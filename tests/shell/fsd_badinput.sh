#!/bin/bash
# Bad input everywhere: malformed commands, out-of-range values, huge
# writes, writes at offsets, unknown names, binary junk. Each gives its
# errno and one error_log line; the daemon stays up.
. "$(dirname "$0")/lib.sh"

start_daemon
mkdir "$MNT/groups/g"
G=$MNT/groups/g
before=$(lines "$G/error_log")
n=0
while IFS='|' read -r data want; do
	[ -z "$data$want" ] && continue
	expect_write "$G/ctl" "$data" "$want"
	n=$((n + 1))
done <<'TABLE'
   |EINVAL
join|EINVAL
join x|EINVAL
join -1|EINVAL
join 64|ERANGE
join 8|ERANGE
join 1 2|EINVAL
join 99999999999999999999999|ERANGE
leave|EINVAL
leave 9|ERANGE
bcast|EINVAL
bcast |EINVAL
register|EINVAL
register b|EINVAL
register b 1|EINVAL
register b 1 zz|EINVAL
register b 1 0|EINVAL
register b 1 00 extra|EINVAL
register b/c 1 00|EINVAL
unregister b|EINVAL
unregister b 1|ENOENT
reset-stat now|EINVAL
JOIN 1|EINVAL
destroy g|EINVAL
frobnicate|EINVAL
TABLE
# Binary junk, huge writes.
for hex in 00 ff00ff 6a6f696e2031000a 1b5b324a 6a6f696e0a6a6f696e 7f; do
	got=$("$PROBE" writex "$G/ctl" $hex)
	expect_eq "$got" EINVAL "binary junk $hex"
	n=$((n + 1))
done
expect_eq "$("$PROBE" writen "$G/ctl" 5000 a)" EINVAL "5000-byte write to ctl"
expect_eq "$("$PROBE" writen "$G/ctl" 1048576 a)" EINVAL "1 MiB write to ctl"
expect_eq "$("$PROBE" writen "$G/ranks" 5000 1)" EINVAL "5000-byte write to ranks"
n=$((n + 3))
expect_eq "$(lines "$G/error_log")" $((before + n)) "error_log lines after $n bad writes"
grep -q 'ctl: "join 64": ERANGE: join: RANK out of range 0..63' "$G/error_log" || fail "error_log: join 64"
grep -q 'ctl: "join 8": ERANGE: rank 8 out of range 0..7' "$G/error_log" || fail "error_log: join 8"
grep -q 'ctl: "\\x00": EINVAL: control byte 0x00' "$G/error_log" || fail "error_log: NUL byte"
grep -q 'EINVAL: write of [0-9]\{7\} bytes' "$G/error_log" || fail "error_log: huge write"
ok "$n bad ctl and attribute writes: errno and error_log"

# Sequential writes on one open fd are fine (fsd_shell.sh: any offset).
exec 3> "$G/ctl"
echo "reset-stat" >&3 || fail "first write on a kept fd"
echo "reset-stat" >&3 || fail "second write on a kept fd"
exec 3>&-
ok "one command per write on a kept fd"

# Unknown names, wrong directions, read-only files.
{ echo 1 > "$G/nosuch"; } 2>/dev/null && fail "created an unknown file"
expect_eq "$("$PROBE" open "$G/nosuch" r)" ENOENT "open unknown file"
grep -q 'create: "nosuch": ENOENT' "$G/error_log" || fail "unknown name not logged"
expect_write "$MNT/groups/nosuch/ctl" "join 1" ENOENT
expect_eq "$("$PROBE" open "$G/ctl" r)" EACCES "read a ctl"
expect_eq "$("$PROBE" open "$G/stat" w)" EACCES "write stat"
expect_eq "$("$PROBE" open "$MNT/version" w)" EACCES "write version"
expect_eq "$("$PROBE" open "$G/events" rw)" EACCES "write events"
rm -f "$G/ranks" 2>/dev/null && fail "rm of an attribute succeeded"
mv "$G/ranks" "$G/r2" 2>/dev/null && fail "rename of an attribute succeeded"
chmod 777 "$G/ranks" 2>/dev/null && fail "chmod of a file succeeded"
rmdir "$G/gpu" 2>/dev/null && fail "rmdir gpu succeeded"
ok "unknown names and wrong directions refused"

# The daemon-wide ctl and its error_log.
rb=$(lines "$MNT/error_log")
expect_write "$MNT/ctl" " " EINVAL
expect_write "$MNT/ctl" "create" EINVAL
expect_write "$MNT/ctl" "create x ranks=1 ranks=2" EINVAL
expect_write "$MNT/ctl" "create x slots=3" EINVAL
expect_write "$MNT/ctl" "destroy" EINVAL
expect_write "$MNT/ctl" "destroy nosuch" ENOENT
expect_eq "$("$PROBE" writex "$MNT/ctl" 637265617465ff)" EINVAL "binary create"
expect_eq "$("$PROBE" writen "$MNT/ctl" 10000 c)" EINVAL "huge create"
expect_eq "$(lines "$MNT/error_log")" $((rb + 8)) "daemon error_log lines"
errs=$(kv "$MNT/stat" errors)
[ "$errs" -ge $((n + 8)) ] || fail "stat errors $errs < $((n + 8))"
ok "daemon-wide ctl errors"

# Fuzz: random bytes of random sizes to every writable file.
for i in $(seq 150); do
	f=$(printf '%s\n' ctl ranks slots mode numa_node algo | shuf -n1)
	len=$(( (RANDOM % 300) + 1 ))
	hex=$(head -c $len /dev/urandom | od -An -tx1 | tr -d ' \n')
	"$PROBE" writex "$G/$f" "$hex" > /dev/null
	"$PROBE" writex "$MNT/ctl" "$hex" > /dev/null
done
kill -0 $DPID || fail "daemon died under fuzzing"
expect_eq "$(cat "$MNT/version")" "ipcfs 0.1.0 abi $ABI" "daemon answers after fuzzing"
expect_eq "$(lines "$G/error_log")" 64 "error_log keeps the last 64"
ok "random junk: daemon alive"
stop_daemon
