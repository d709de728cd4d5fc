#!/bin/bash
# ipcfs bench: runs tools/bench/run_bcast.sh (and run_payload.sh) on the
# contenders of a build directory: here fake contenders (fast, and one that
# fails), and the real bcast_ipcfs/bcast_floor at a tiny scale when built;
# the progress line on a terminal; errors and bad arguments.
. "$(dirname "$0")/lib.sh"
IPCFS=$BUILD/ipcfs
[ -x "$IPCFS" ] || fail "$IPCFS is not built"
SCRIPTS=$(cd "$(dirname "$0")/../../tools/bench" && pwd)
# bench ends every run, a failed one too, with a summary line on stderr.
EXPECT_FAIL_ANY_LINES=1

# A fake contender: writes one result line to --out (or fails with FAIL=1).
fake() {
	cat > "$1" <<'SH'
#!/bin/bash
while [ $# -gt 0 ]; do [ "$1" = --out ] && out=$2; shift; done
[ -n "${FAKE_FAIL:-}" ] && [[ $0 == *$FAKE_FAIL ]] && exit 3
echo '{"p50_us":1.5,"p99_us":2.5,"peak_rss_kib":2048}' > "$out"
SH
	chmod +x "$1"
}
FB=$TMP/fb
mkdir -p "$FB/bench"
fake "$FB/bench/bcast_floor"
fake "$FB/bench/bcast_unix"

run timeout 60 "$IPCFS" bench bcast --build "$FB" --scripts "$SCRIPTS" --results "$TMP/res" --sizes "64 1024" --readers 1 --pin 0
[ "$RC" = 0 ] || fail "bench bcast: exit $RC: $(cat "$TMP/err")"
expect_eq "$(wc -l < "$TMP/res/bcast.jsonl")" 4 "result lines"
expect_eq "$(grep -Ec '^(floor|unix) ' "$TMP/out")" 4 "table rows"
# The table is kept beside the raw results, the same as printed.
cmp -s <(grep -E '^(system|floor|unix) ' "$TMP/out") <(grep -E '^(system|floor|unix) ' "$TMP/res/bcast.txt") ||
	fail "results/bcast.txt is not the table printed: $(cat "$TMP/res/bcast.txt")"
grep -q 'bcast: floor size=64 ' "$TMP/err" || fail "no per-run progress: $(cat "$TMP/err")"
grep -q 'ipcfs bench: 4 runs, 0 failed' "$TMP/err" || fail "no summary: $(cat "$TMP/err")"
ok "bcast with fake contenders"

# By default unpinned and pinned: each run twice, --pin passed when pinned.
run timeout 60 "$IPCFS" bench bcast -b "$FB" -s "$SCRIPTS" -o "$TMP/res" --sizes 64 --readers 1
[ "$RC" = 0 ] || fail "bench bcast pinned: exit $RC: $(cat "$TMP/err")"
expect_eq "$(grep -Ec '^(floor|unix) +64 +1 +yes ' "$TMP/out")" 2 "pinned rows"
expect_eq "$(grep -Ec '^(floor|unix) +64 +1 +no ' "$TMP/out")" 2 "unpinned rows"
grep -q -- '--pin' "$TMP/res/bcast.log" || fail "pinned runs without --pin: $(cat "$TMP/res/bcast.log")"
expect_fail 2 "--pin 'x'" "$IPCFS" bench bcast -b "$FB" -s "$SCRIPTS" --pin x
ok "pinned and unpinned placements"

# A failing run: status 1, said in one line.
FAKE_FAIL=bcast_unix run timeout 60 "$IPCFS" bench bcast -b "$FB" -s "$SCRIPTS" -o "$TMP/res" --sizes 64 --readers 1 --pin 0
expect_eq "$RC" 1 "bench with a failing contender"
grep -q 'ipcfs bench: bcast: 1 run(s) failed' "$TMP/err" || fail "failure not reported: $(cat "$TMP/err")"
ok "a failing contender"

# On a terminal: the progress line is rewritten in place.
run timeout 60 script -qfec "$IPCFS bench bcast -b $FB -s $SCRIPTS -o $TMP/res --sizes 64 --readers 1 > /dev/null" /dev/null
[ "$RC" = 0 ] || fail "bench under script: $RC"
grep -q $'\r\x1b\\[K' "$TMP/out" || fail "no progress line on a terminal"
grep -q 'ipcfs bench: \[[0-9]* done, 0:0' "$TMP/out" || fail "progress line: $(cat -A "$TMP/out")"
ok "progress line"

# The real contenders, when built (make bench), at a tiny scale.
if [ -x "$BUILD/bench/bcast_ipcfs" ] && [ -x "$BUILD/bench/bcast_floor" ]; then
	RB=$TMP/rb
	mkdir -p "$RB/bench"
	ln -s "$BUILD/bench/bcast_ipcfs" "$BUILD/bench/bcast_floor" "$RB/bench/"
	run timeout 120 "$IPCFS" bench bcast -b "$RB" -s "$SCRIPTS" -o "$TMP/real" --sizes 64 --readers 1 --scale 0.001 --timeout 60
	[ "$RC" = 0 ] || fail "real bench: exit $RC: $(cat "$TMP/err")"
	grep -Eq '^ipcfs +64 +1 ' "$TMP/out" || fail "no ipcfs row: $(cat "$TMP/out")"
	ok "real bcast_ipcfs and bcast_floor"
else
	echo "ok - $TEST: real contenders not built (make bench): not run"
fi

# payload: its driver, or a clear error.
if [ -f "$SCRIPTS/run_payload.sh" ]; then
	expect_fail 1 "ipcfs bench: payload: no payload_* contender in $FB/bench" "$IPCFS" bench payload -b "$FB" -s "$SCRIPTS" -o "$TMP/res"
fi
mkdir "$TMP/noscripts"
expect_fail 1 "ipcfs bench: payload: no driver $TMP/noscripts/run_payload.sh" "$IPCFS" bench payload -b "$FB" -s "$TMP/noscripts"
expect_fail 1 "ipcfs bench: no benchmark binaries: $TMP/nobuild/bench is not a directory" "$IPCFS" bench bcast -b "$TMP/nobuild"
# Usage.
expect_fail 2 "which benchmark" "$IPCFS" bench
expect_fail 2 "unknown benchmark 'fast'" "$IPCFS" bench fast
expect_fail 2 "--scale '0'" "$IPCFS" bench bcast --scale 0
expect_fail 2 "--sizes 'big'" "$IPCFS" bench bcast --sizes big
expect_fail 2 "--timeout 0 out of range" "$IPCFS" bench bcast --timeout 0
run "$IPCFS" bench --help
expect_eq "$RC $(head -n1 "$TMP/out" | cut -d' ' -f1-3)" "0 usage: ipcfs bench" "bench --help"
ok "errors and usage"
