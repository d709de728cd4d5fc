#!/bin/bash
# Replays the corpus of each fuzz target of the daemon's parsers, and every
# input that once crashed one (tests/fuzz/, `make fuzz-fsd`), through the
# targets built with the ordinary compiler (and the sanitizers of the build).
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
for t in fsd_state fsd_ctl; do
	bin=$BUILD/tests/replay_$t
	[ -x "$bin" ] || { echo "FAIL fsd_fuzz: $bin is not built"; exit 1; }
	set -- "$ROOT/tests/fuzz/corpus/$t"
	for c in "$ROOT"/tests/fuzz/crashes/$t-*; do [ -e "$c" ] && set -- "$@" "$c"; done
	out=$("$bin" "$@") || { echo "FAIL fsd_fuzz: $t: $out"; exit 1; }
	echo "ok - fsd_fuzz: $t: $out"
done
