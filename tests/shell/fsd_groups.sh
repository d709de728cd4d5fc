#!/bin/bash
# mkdir/rmdir of groups, name validation, the daemon-wide ctl (create,
# destroy), and rmdir refused while members live.
. "$(dirname "$0")/lib.sh"

start_daemon
G=$MNT/groups
mkdir "$G/alpha" || fail "mkdir alpha"
[ -d "$G/alpha" ] || fail "alpha is not a directory"
expect_eq "$(ls "$G")" alpha "groups listing"
expect_eq "$(stat -c %a "$G/alpha")" 770 "default group mode"
seg=$(cat "$G/alpha/shm")
expect_eq "$seg" "$STATE/alpha.seg" "shm path"
[ -f "$seg" ] || fail "segment $seg missing"
expect_eq "$(stat -c %a "$seg")" 660 "segment mode"
[ -f "$STATE/alpha.state" ] || fail "state file missing"
expect_eq "$(kv "$MNT/stat" groups)" 1 "stat groups"
expect_eq "$(ls "$G/alpha" | tr '\n' ' ')" \
	"algo arena_bytes bridge ctl error_log events gpu hugepages keys members mode node node_timeout_ms nodes numa_node ranks shm slot_bytes slots spin_us stat timeout_ms " \
	"group listing"
ok "mkdir makes a group, its segment and state"

# Bad names: EINVAL (mkdir reports it), and a line in the daemon's error_log.
for bad in .hidden 'a b' 'x$y' "$(printf 'n%.0s' $(seq 65))" 'é'; do
	mkdir "$G/$bad" 2>"$TMP/err" && fail "mkdir '$bad' succeeded"
	grep -q "Invalid argument" "$TMP/err" || fail "mkdir '$bad': $(cat "$TMP/err")"
done
expect_eq "$(grep -c '^.*mkdir: .*EINVAL' "$MNT/error_log")" 5 "error_log lines of bad names"
mkdir "$G/$(printf 'n%.0s' $(seq 64))" || fail "64-character name refused"
rmdir "$G/$(printf 'n%.0s' $(seq 64))" || fail "rmdir 64-character name"
mkdir "$G/a-b_c.1" || fail "mkdir a-b_c.1"
mkdir "$G/alpha" 2>/dev/null && fail "second mkdir alpha succeeded"
mkdir "$MNT/elsewhere" 2>/dev/null && fail "mkdir outside groups/ succeeded"
mkdir "$G/alpha/sub" 2>/dev/null && fail "mkdir inside a group succeeded"
ok "names validated"

# rmdir: EBUSY while a member lives, then fine once it left.
bg "$MEMBER" "$G/alpha" 2 hold > "$TMP/m.out"
wait_until 5 'grep -q joined "$TMP/m.out"' || fail "member did not join"
rmdir "$G/alpha" 2>"$TMP/err" && fail "rmdir with a live member succeeded"
grep -q "busy" "$TMP/err" || fail "rmdir busy: $(cat "$TMP/err")"
grep -q 'rmdir: "alpha": EBUSY: group alpha has 1 live members' "$G/alpha/error_log" || fail "no EBUSY line in the group's error_log"
kill -TERM $BG; wait $BG
rmdir "$G/alpha" || fail "rmdir after the member left"
[ -e "$G/alpha" ] && fail "alpha still there"
[ -e "$seg" ] && fail "segment left behind"
[ -e "$STATE/alpha.state" ] && fail "state left behind"
rmdir "$G/nosuch" 2>/dev/null && fail "rmdir of a missing group succeeded"
ok "rmdir: EBUSY with a live member, removes segment and state"

# The daemon-wide ctl.
expect_write "$MNT/ctl" "create beta ranks=3 slots=8 slot_bytes=1K mode=0700 algo=oneshot" OK
expect_eq "$(cat "$G/beta/ranks") $(cat "$G/beta/slots") $(cat "$G/beta/slot_bytes") $(cat "$G/beta/algo")" \
	"3 8 1024 oneshot" "create attributes"
expect_eq "$(stat -c %a "$G/beta")" 700 "create mode"
expect_eq "$(stat -c %a "$(cat "$G/beta/shm")")" 600 "segment mode follows"
expect_write "$MNT/ctl" "create beta" EEXIST
expect_write "$MNT/ctl" "create gamma ranks=99" ERANGE
expect_write "$MNT/ctl" "create gamma bogus=1" EINVAL
expect_write "$MNT/ctl" "create gamma ranks" EINVAL
expect_write "$MNT/ctl" "create .x" EINVAL
expect_write "$MNT/ctl" "frobnicate" EINVAL
[ -e "$G/gamma" ] && fail "gamma created by a bad create"
expect_write "$MNT/ctl" "destroy beta" OK
expect_write "$MNT/ctl" "destroy beta" ENOENT
[ -e "$G/beta" ] && fail "beta survived destroy"
grep -q 'ctl: "create gamma ranks=99": ERANGE' "$MNT/error_log" || fail "root error_log lacks the ERANGE create"
expect_eq "$(kv "$MNT/stat" groups)" 1 "stat groups at the end"
ok "daemon-wide ctl create/destroy"

stop_daemon
