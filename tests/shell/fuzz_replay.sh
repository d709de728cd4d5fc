#!/bin/bash
# Replays the corpus of every libFuzzer target (tests/fuzz/fuzz_*.c, `make
# fuzz`) and every input that once crashed one (tests/fuzz/crashes/), through
# the targets built with the ordinary compiler (and the sanitizers of the
# build): a fix that regresses fails here, without clang.
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
n=0
for src in "$ROOT"/tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	t=${t#fuzz_}
	bin=$BUILD/tests/replay_$t
	[ -x "$bin" ] || { echo "FAIL fuzz_replay: $bin is not built"; exit 1; }
	set --
	[ -d "$ROOT/tests/fuzz/corpus/$t" ] && set -- "$ROOT/tests/fuzz/corpus/$t"
	for c in "$ROOT"/tests/fuzz/crashes/"$t"-*; do [ -e "$c" ] && set -- "$@" "$c"; done
	[ $# -gt 0 ] || { echo "FAIL fuzz_replay: $t has no corpus (tests/fuzz/corpus/$t)"; exit 1; }
	out=$("$bin" "$@" 2>&1) || { echo "FAIL fuzz_replay: $t: $out"; exit 1; }
	echo "ok - fuzz_replay: $t: $out"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "FAIL fuzz_replay: no targets in tests/fuzz"; exit 1; }
