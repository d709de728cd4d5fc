#!/bin/bash
# ipcfs top: plain frames without a terminal; under a pseudo-terminal
# (script(1)) ANSI screens with the group and rank rows; q quits; bad
# arguments.
. "$(dirname "$0")/lib.sh"
IPCFS=$BUILD/ipcfs
[ -x "$IPCFS" ] || fail "$IPCFS is not built"
command -v script > /dev/null || fail "script(1) (bsdutils) is not installed"

strip() { sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\r//g' "$1"; }

start_daemon
expect_write "$MNT/ctl" "create tp0 ranks=4 arena_bytes=64K" OK
G=$MNT/groups/tp0
bg "$MEMBER" "$G" 0 hold > /dev/null; H0=$BG
bg "$MEMBER" "$G" 2 hold > /dev/null; H2=$BG
wait_until 5 '[ "$(kv "$G/stat" live_members)" = 2 ]' || fail "members did not join"

# Without a terminal: N plain frames.
run timeout 10 "$IPCFS" top -m "$MNT" -n 2 -d 0.1
[ "$RC" = 0 ] || fail "top -n 2: exit $RC: $(cat "$TMP/err")"
grep -q $'\x1b' "$TMP/out" && fail "escape sequences without a terminal"
expect_eq "$(grep -c '^ipcfs top - ' "$TMP/out")" 2 "frames"
grep -Eq '^tp0 +2/4 ' "$TMP/out" || fail "no group row: $(cat "$TMP/out")"
grep -Eq "^ +0 +$H0 +live " "$TMP/out" || fail "no rank 0 row: $(cat "$TMP/out")"
grep -Eq "^ +2 +$H2 +live " "$TMP/out" || fail "no rank 2 row"
grep -Eq ' 0B/64KiB ' "$TMP/out" || fail "no arena use: $(cat "$TMP/out")"
# Rates on the second frame (0 while idle), "-" on the first.
expect_eq "$(grep -E '^tp0 ' "$TMP/out" | awk '{ print $3 }' | tr '\n' ' ')" "- 0 " "rates"
ok "plain frames"

# Under a pseudo-terminal: cursor addressing, the same rows.
run timeout 10 script -qfec "stty cols 160 rows 40; $IPCFS top -m $MNT -n 3 -d 0.1" /dev/null
[ "$RC" = 0 ] || fail "top under script: exit $RC"
grep -q $'\x1b\\[H' "$TMP/out" || fail "no cursor-home escape on a terminal"
strip "$TMP/out" > "$TMP/screen"
expect_eq "$(grep -c '^ipcfs top - ' "$TMP/screen")" 3 "screens"
grep -q ' q quits' "$TMP/screen" || fail "no key hint"
grep -Eq '^tp0 +2/4 ' "$TMP/screen" || fail "no group row on the terminal: $(cat "$TMP/screen")"
grep -Eq "^ +2 +$H2 +live " "$TMP/screen" || fail "no rank row on the terminal"
grep -q $'\x1b\\[?25h' "$TMP/out" || fail "cursor not shown again at exit"
# A small terminal: lines cut at its width, no wrapping.
run timeout 10 script -qfec "stty cols 40 rows 10; $IPCFS top -m $MNT -n 1" /dev/null
strip "$TMP/out" | awk 'length($0) > 40 { bad = 1 } END { exit bad }' || fail "lines wider than the terminal"
ok "terminal screen"

# q quits (stdin is the terminal).
start=$(date +%s%N)
( sleep 0.6; printf q; sleep 3 ) | timeout 8 script -qfec "$IPCFS top -m $MNT -d 0.1" /dev/null > "$TMP/q.out" &
QP=$!
wait_until 5 '[ "$(strip "$TMP/q.out" | grep -c "^ipcfs top - ")" -ge 1 ]' || fail "top did not start"
wait_until 4 '! pgrep -f "ipcfs top -m $MNT -d 0.1" > /dev/null' || fail "q did not quit top"
wait $QP 2>/dev/null
n=$(strip "$TMP/q.out" | grep -c '^ipcfs top - ')
[ "$n" -lt 25 ] || fail "top drew $n screens after q"
ok "q quits"

# Errors and usage.
expect_fail 1 "ipcfs top: read $TMP/none/stat: No such file or directory" "$IPCFS" top -m "$TMP/none" -n 1
expect_fail 2 "--delay '0': seconds, 0.1..3600" "$IPCFS" top -d 0
expect_fail 2 "--delay 'x': seconds" "$IPCFS" top --delay x
expect_fail 2 "--iterations 0 out of range" "$IPCFS" top -n 0
expect_fail 2 "option '-n' needs a value" "$IPCFS" top -n
expect_fail 2 "'a/b' is not a group name" "$IPCFS" top a/b
run "$IPCFS" top --help
expect_eq "$RC $(head -n1 "$TMP/out" | cut -d' ' -f1-3)" "0 usage: ipcfs top" "top --help"
# Only the groups named.
expect_write "$MNT/ctl" "create other ranks=2" OK
run "$IPCFS" top -m "$MNT" -n 1 other
grep -q '^tp0 ' "$TMP/out" && fail "a group not asked for is shown"
grep -q '^other ' "$TMP/out" || fail "the group asked for is missing"
ok "errors and usage"
kill $H0 $H2; wait $H0 $H2
stop_daemon
