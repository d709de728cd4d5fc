#!/bin/bash
# tests/fuzz/run.sh TARGET... - `make fuzz`: run each libFuzzer target
# ($BUILD/fuzz/fuzz_TARGET) for $FUZZ_SECONDS seconds from its corpus, then
# merge what it found into tests/fuzz/corpus/TARGET/, minimised (only
# inputs that add coverage stay). A crash, a hang (-timeout) or a leak
# leaves its input in tests/fuzz/crashes/TARGET-*; `make check` replays
# those, so a crash found fails the tests until it is fixed. Every target
# runs even after one crashed; the exit status says whether any did.
# One line per target: executions per second, coverage (cov: edges), new
# crashes. Extra libFuzzer options: $FUZZ_OPTS.
set -u
BUILD=${BUILD:-build}
SECONDS_EACH=${FUZZ_SECONDS:-30}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
failed=()
summary=()
# Longest input per target (-max_len, for fuzzing and for the corpus): the
# text parsers reach all their code with short inputs, and long ones only
# bloat the corpus; the others need room (a GPU record is 722 bytes).
max_len() {
	case $1 in
	fsd_state | fsd_attrs) echo 256 ;;
	*) echo 4096 ;;
	esac
}
for t in "$@"; do
	bin=$BUILD/fuzz/fuzz_$t corpus=tests/fuzz/corpus/$t work=$BUILD/fuzz/work_$t
	[ -x "$bin" ] || { echo "fuzz: $bin is not built" >&2; exit 1; }
	mkdir -p "$corpus" tests/fuzz/crashes
	rm -rf "$work" && mkdir -p "$work/new" "$work/min"
	before=$(ls tests/fuzz/crashes | grep -c "^$t-")
	# Past crashes first, under clang's sanitizers too (some undefined
	# behaviour only they see; make check replays them with gcc).
	past=(tests/fuzz/crashes/"$t"-*)
	if [ -e "${past[0]}" ] && ! "$bin" "${past[@]}" >"$work/past.log" 2>&1; then
		echo "fuzz: $t: a past crash crashes again (see $work/past.log)" >&2
		failed+=("$t")
	fi
	# -timeout: an input that runs for 10 s is a hang (every wait in the
	# targets has a zero timeout); -rss_limit_mb: a leak.
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
		-print_final_stats=1 -artifact_prefix="tests/fuzz/crashes/$t-" \
		${FUZZ_OPTS:-} "$work/new" "$corpus" >"$work/log" 2>&1
	rc=$?
	# Minimise corpus and new finds together into min/, then replace.
	if "$bin" -merge=1 -max_len="$(max_len "$t")" "$work/min" "$corpus" "$work/new" \
		>"$work/merge.log" 2>&1; then
		rm -f "$corpus"/* && cp "$work/min"/* "$corpus"/ 2>/dev/null
	else
		echo "fuzz: $t: merge failed (see $work/merge.log)" >&2
		rc=1
	fi
	after=$(ls tests/fuzz/crashes | grep -c "^$t-")
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1)
	line=$(printf '%-12s %10s runs %7s exec/s  %-10s corpus %4s files %6s  crashes %d' "$t" \
		"${execs:-?}" "${rate:-?}" "${cov:-cov: ?}" "$(ls "$corpus" | wc -l)" \
		"$(du -s --apparent-size -h "$corpus" | cut -f1)" $((after - before)))
	summary+=("$line")
	echo "fuzz: $line"
	if [ "$rc" -ne 0 ] || [ "$after" -ne "$before" ]; then
		echo "fuzz: $t FAILED (exit $rc); its log: $work/log" >&2
		grep -A30 '^==[0-9]*==ERROR\|^==[0-9]*== ERROR\|runtime error' "$work/log" | head -40 >&2
		failed+=("$t")
	fi
done
echo "fuzz: summary ($SECONDS_EACH s each):"
printf 'fuzz:   %s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
	echo "fuzz: crashed: ${failed[*]} (inputs in tests/fuzz/crashes/)" >&2
	exit 1
fi
