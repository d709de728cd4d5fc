#!/bin/bash
# Shell habits on the mount: `echo CMD >> ctl` from many shells at once and
# descriptors kept open in append mode (`exec 3>>ctl`) are one command per
# write whatever the offset, as in sysfs and cgroupfs; attribute files
# likewise; mmap of a rendered file either fails with an errno or shows
# its content, never SIGBUS; symbolic and hard links are EPERM.
. "$(dirname "$0")/lib.sh"

start_daemon
expect_write "$MNT/ctl" "create g ranks=4 slots=16" OK
G=$MNT/groups/g
before=$(lines "$G/error_log")

# 8 shells, 60 appends each.
for s in 1 2 3 4 5 6 7 8; do
	bg bash -c 'f=0; for i in $(seq 60); do echo reset-stat >> "$1" || f=$((f + 1)); done; echo $f > "$2"' \
		_ "$G/ctl" "$TMP/fail.$s"
done
wait_until 60 '[ $(ls "$TMP"/fail.* 2>/dev/null | wc -l) = 8 ] && [ -s "$TMP/fail.8" ]' || fail "shells did not finish"
sleep 0.2
failed=$(cat "$TMP"/fail.* | awk '{ s += $1 } END { print s }')
expect_eq "$failed" 0 "failed appends of 480"
expect_eq "$(lines "$G/error_log")" "$before" "error_log lines after 480 appends"
ok "8 shells appending to ctl at once: 480 commands, none refused"

# Two kept append descriptors, used in turn, and pwrite at any offset.
exec 3>> "$G/ctl" 4>> "$G/ctl"
for i in 1 2 3; do
	echo "register a$i 0 c0ffee" >&3 || fail "write $i on fd 3"
	echo "register b$i 0 c0ffee" >&4 || fail "write $i on fd 4"
done
exec 3>&- 4>&-
expect_eq "$(ls "$G/gpu" | tr '\n' ' ')" "a1 a2 a3 b1 b2 b3 " "records registered through two kept descriptors"
expect_write "$G/ctl" "reset-stat" OK 5
expect_write "$G/ctl" "reset-stat" OK 100000
ok "kept append descriptors and writes at any offset"

# Attribute files the same way.
echo 5 >> "$G/ranks" || fail "echo 5 >> ranks"
echo 6 >> "$G/ranks" || fail "echo 6 >> ranks"
expect_eq "$(cat "$G/ranks")" 6 "ranks after two appends"
exec 3>> "$G/slots"
echo 32 >&3 || fail "first value on a kept attribute fd"
echo 64 >&3 || fail "second value on a kept attribute fd"
exec 3>&-
expect_eq "$(cat "$G/slots")" 64 "slots after two writes on one fd"
expect_write "$G/slots" "128" OK 7
expect_eq "$(cat "$G/slots")" 128 "slots after a pwrite at offset 7"
ok "attribute files take one value per write whatever the offset"

# mmap (of its size, as a program would map it): an errno, or the
# content; never a signal.
for f in "$G/stat" "$G/shm" "$G/ranks" "$MNT/stat" "$MNT/version"; do
	for how in shared private; do
		out=$("$PROBE" mmap "$f" $how 2>&1); rc=$?
		[ $rc -lt 128 ] || fail "mmap $how ${f#$MNT/}: killed by signal $((rc - 128))"
		case $out in
		OK*) expect_eq "$(echo "$out" | sed -n 2p)" "$(head -n 1 "$f")" "mmap $how ${f#$MNT/}: first line" ;;
		E*) ;;
		*) fail "mmap $how ${f#$MNT/}: $out" ;;
		esac
	done
done
ok "mmap of rendered files: content or an errno, no SIGBUS"

# Links anywhere in the tree: EPERM, as for unlink and rename.
for dir in "$MNT" "$MNT/groups" "$G"; do
	err=$(ln -s target "$dir/l" 2>&1) && fail "symlink in ${dir#$MNT} succeeded"
	case $err in *"Operation not permitted"*) ;; *) fail "symlink in ${dir#$MNT}: $err" ;; esac
done
err=$(ln "$G/stat" "$G/hard" 2>&1) && fail "hard link succeeded"
case $err in *"Operation not permitted"*) ;; *) fail "hard link: $err" ;; esac
ok "symbolic and hard links: EPERM"

stop_daemon
