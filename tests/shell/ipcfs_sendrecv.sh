#!/bin/bash
# ipcfs send and ipcfs recv: line framing and --whole/--raw, --to, --from,
# --count, --timeout, end of stream, pipelines (| jq, | head), the waits,
# errors with exit 1 and bad arguments with exit 2.
. "$(dirname "$0")/lib.sh"
IPCFS=$BUILD/ipcfs
[ -x "$IPCFS" ] || fail "$IPCFS is not built"
export IPCFS_MOUNT=$MNT

# recv_bg NAME ARGS...: ipcfs recv in the background, out/err in $TMP/NAME.*
recv_bg() {
	local name=$1; shift
	timeout 10 "$IPCFS" recv "$@" > "$TMP/$name.out" 2> "$TMP/$name.err" &
	BG=$!
	BGPIDS="$BGPIDS $BG"
}
wait_live() { wait_until 5 "[ \"\$(member_field \"$G/members\" $1 state)\" = live ]" || fail "rank $1 did not join"; }
# wait_ok PID WHAT: the background command exited 0.
wait_ok() { local rc=0; wait "$1" || rc=$?; [ $rc = 0 ] || fail "$2: exit $rc: $(cat "$TMP/$3.err" 2>/dev/null)"; }

start_daemon
expect_write "$MNT/ctl" "create g ranks=4 slot_bytes=256" OK
expect_write "$MNT/ctl" "create big ranks=2 arena_bytes=1M" OK
G=$MNT/groups/g

# Lines: one message each, newline stripped, empty lines kept.
recv_bg r3 g --rank 3 --count 4; R=$BG
wait_live 3
printf 'first\n{"a": 1}\n\nno newline at the end' | "$IPCFS" send g --rank 0 2> "$TMP/s.err" || fail "send: $(cat "$TMP/s.err")"
wait_ok $R "recv --count 4" r3
printf 'first\n{"a": 1}\n\nno newline at the end\n' > "$TMP/want"
cmp -s "$TMP/r3.out" "$TMP/want" || fail "recv output: $(cat -A "$TMP/r3.out")"
expect_eq "$(member_field "$G/members" 0 sent)" 4 "sent by rank 0"
expect_eq "$(member_field "$G/members" 3 recv)" 4 "received by rank 3"
ok "line framing"

# A pipeline into jq; the end of the stream (sender left) ends recv with 0.
recv_bg r1 g --rank 1; R=$BG
wait_live 1
printf '{"step": %d}\n' 1 2 3 | "$IPCFS" send g || fail "send to jq"
wait_ok $R "recv until the sender leaves" r1
expect_eq "$(jq -s 'map(.step) | add' < "$TMP/r1.out")" 6 "jq sums the steps"
"$IPCFS" recv g --rank 1 --count 1 --timeout 100 2> /dev/null && fail "recv after the stream ended got something"
ok "pipeline and end of stream"

# --whole and --raw: byte for byte, through the arena when large; a file argument.
head -c 300000 /dev/urandom > "$TMP/blob"
recv_bg b1 big --rank 1 --count 1 --raw; R=$BG
"$IPCFS" send big --whole --to 1 "$TMP/blob" 2> "$TMP/s.err" || fail "send --whole: $(cat "$TMP/s.err")"
wait_ok $R "recv --raw" b1
cmp -s "$TMP/blob" "$TMP/b1.out" || fail "--whole/--raw payload differs"
ok "--whole, --raw, arena"

# --to: only the ranks asked; --from ctl: the group's bcast; the directory path form.
recv_bg r2 g --rank 2 --count 1 --from 0; R2=$BG
recv_bg r3 "$G" --rank 3 --count 1 --timeout 500; R3=$BG
wait_live 2; wait_live 3
echo "for two" | "$IPCFS" send g --rank 0 --to 2 || fail "send --to 2"
wait_ok $R2 "recv --from 0" r2
expect_eq "$(cat "$TMP/r2.out")" "for two" "rank 2 got it"
rc=0; wait $R3 || rc=$?
expect_eq "$rc" 1 "rank 3 times out (not addressed)"
grep -qF "ipcfs recv: timed out after 500 ms: 0 of 1 messages received" "$TMP/r3.err" || fail "timeout message: $(cat "$TMP/r3.err")"
recv_bg c0 g --rank 0 --from ctl --count 1; R=$BG
wait_live 0
expect_write "$G/ctl" "bcast from the shell" OK
wait_ok $R "recv --from ctl" c0
expect_eq "$(cat "$TMP/c0.out")" "from the shell" "bcast received"
ok "--to, --from, --timeout"

# recv | head: the reader goes away, recv ends with 0.
( "$IPCFS" recv g --rank 1 | head -n1 > "$TMP/h.out"; echo "${PIPESTATUS[0]}" > "$TMP/h.rc" ) &
HP=$!; BGPIDS="$BGPIDS $HP"
wait_live 1
printf 'one\ntwo\nthree\n' | "$IPCFS" send g || fail "send to head"
wait $HP
expect_eq "$(cat "$TMP/h.out") $(cat "$TMP/h.rc")" "one 0" "recv | head -n1"
ok "closed stdout"

# Runtime failures: exit 1, one line saying what and why.
expect_fail 1 "ipcfs send: join $MNT/groups/nope: No such file or directory" "$IPCFS" send nope
expect_fail 1 "ipcfs recv: join $MNT/groups/nope as rank 3: No such file or directory" "$IPCFS" recv nope --rank 3
expect_fail 1 "ipcfs send: wait for a receiver: no other rank live within 200 ms" "$IPCFS" send g --wait 200 < /dev/null
expect_fail 1 "ipcfs send: wait for rank(s) 2,3 to be live: none joined within 100 ms" "$IPCFS" send g --to 2,3 --wait 100 < /dev/null
expect_fail 1 "ipcfs send: open $TMP/none: No such file or directory" "$IPCFS" send g "$TMP/none"
expect_fail 1 "ipcfs recv: timed out after 100 ms: no message" "$IPCFS" recv g --timeout 100
bg "$MEMBER" "$G" 2 hold > /dev/null; H=$BG
wait_live 2
expect_fail 1 "ipcfs recv: join $MNT/groups/g as rank 2: Device or resource busy (the rank is held by a live process)" "$IPCFS" recv g --rank 2
head -c 300 /dev/zero | tr '\0' x > "$TMP/long"
expect_fail 1 "ipcfs send: send message 1 (300 bytes): Message too long (larger than slot_bytes and the group has no arena)" "$IPCFS" send g "$TMP/long"
kill $H; wait $H
ok "runtime errors"

# Usage errors: exit 2.
expect_fail 2 "ipcfs send: no GROUP" "$IPCFS" send
expect_fail 2 "ipcfs recv: no GROUP" "$IPCFS" recv
expect_fail 2 "--to '1-x' is not a rank list" "$IPCFS" send g --to 1-x
expect_fail 2 "--to '70': ranks are 0..63" "$IPCFS" send g --to 70
expect_fail 2 "--to includes the sender's own rank 1" "$IPCFS" send g --rank 1 --to 0,1
expect_fail 2 "--rank 99 out of range -1..63" "$IPCFS" send g --rank 99
expect_fail 2 "--wait 'soon' is not a number" "$IPCFS" send g --wait soon
expect_fail 2 "too many arguments" "$IPCFS" send g a b
expect_fail 2 "--count -5 out of range" "$IPCFS" recv g --count -5
expect_fail 2 "--from 'abc' is not a number" "$IPCFS" recv g --from abc
expect_fail 2 "--timeout 'x' is not a number" "$IPCFS" recv g --timeout x
expect_fail 2 "--from 3 is the receiver's own rank" "$IPCFS" recv g --rank 3 --from 3
expect_fail 2 "--to 5: the group has 4 ranks" "$IPCFS" send g --to 5 --wait 0
expect_fail 2 "unknown option '--bogus'" "$IPCFS" recv g --bogus
for c in send recv; do
	run "$IPCFS" $c --help
	expect_eq "$RC $(head -n1 "$TMP/out" | cut -d' ' -f1-3)" "0 usage: ipcfs $c" "$c --help"
done
# Nothing was left joined by the failures.
expect_eq "$(kv "$G/stat" live_members)" 0 "live members at the end"
ok "usage errors"

# Ctrl-C (SIGINT) or SIGTERM: recv leaves the group (left, not dead) and
# exits with 128 + the signal.
for sig in INT TERM; do
	"$IPCFS" recv g --rank 2 > /dev/null 2>&1 &
	R=$!
	BGPIDS="$BGPIDS $R"
	wait_until 3 '[ "$(member_field "$G/members" 2 state)" = live ]' || fail "recv did not join"
	kill -$sig $R
	RC=0; wait $R || RC=$?
	want=$(( 128 + $(kill -l $sig) ))
	expect_eq "$RC" "$want" "exit status of recv after SIG$sig"
	expect_eq "$(member_field "$G/members" 2 state)" left "rank 2 after SIG$sig"
done
ok "SIGINT and SIGTERM: recv leaves the group"

# The same for send, waiting on its standard input.
"$IPCFS" recv g --rank 1 > /dev/null 2>&1 &
R1=$!
BGPIDS="$BGPIDS $R1"
for sig in INT TERM; do
	sleep 5 | "$IPCFS" send g --rank 2 --to 1 > "$TMP/sig.out" 2>&1 &
	S=$!
	BGPIDS="$BGPIDS $S"
	wait_until 3 '[ "$(member_field "$G/members" 2 state)" = live ]' || fail "send did not join"
	kill -$sig $S
	RC=0; wait $S || RC=$?
	expect_eq "$RC" "$(( 128 + $(kill -l $sig) ))" "exit status of send after SIG$sig"
	expect_eq "$(member_field "$G/members" 2 state)" left "rank 2 after SIG$sig of send"
	[ -s "$TMP/sig.out" ] && fail "send said something when interrupted: $(cat "$TMP/sig.out")"
done
kill -INT $R1; wait $R1 2>/dev/null
ok "SIGINT and SIGTERM: send leaves the group"
stop_daemon
