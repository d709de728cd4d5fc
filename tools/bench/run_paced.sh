#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run_paced.sh - the broadcast round trip with idle gaps between messages,
# as an inference engine sends one broadcast per model step, and print a
# table of latency and CPU time.
#
# usage: run_paced.sh BUILD_DIR [RESULTS_DIR]
#
# The sender sleeps G (0.5, 2 and 10 ms) before each broadcast of SIZE
# bytes (default 1024) to N readers (1, 3), then waits for their acks; the
# round trip after the gap is measured. Contenders:
#   ipcfs        the library's default waiting
#   ipcfs-spin   spin_us at its maximum: readers spin (the latency reference
#                of the library itself)
#   ipcfs-sleep  spin_us 0: readers only sleep on the futex (the CPU
#                reference)
#   floor        readers spin on a shared cache line (the latency floor)
#   floor-yield  readers spin with sched_yield, like vLLM's shared-memory
#                queue
#   mpi          Open MPI's MPI_Bcast over shared memory (vader)
# The table reports p50 and p99 of the round trip, CPU milliseconds of all
# processes per 1000 broadcasts (idle time included: that is the point),
# p50 against the floor and CPU against ipcfs-sleep. Raw results:
# RESULTS_DIR/paced.jsonl; the contenders' output: RESULTS_DIR/paced.log;
# the table, as printed: RESULTS_DIR/paced.txt.
#
# Environment:
#   BENCH_SCALE    multiplies the iteration counts (default 1: about 2 s a
#                  run, 1.5 minutes in all)
#   BENCH_TIMEOUT  seconds one run may take (default 300)
#   BENCH_GAPS     gaps in microseconds (default "500 2000 10000")
#   BENCH_SIZE     payload bytes (default 1024)
#   BENCH_READERS  reader counts (default "1 3")
#   BENCH_PIN      "0" (default), "1" or "0 1"

set -u

# shellcheck source=bench_lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"

bench_setup paced "$@"
gaps=${BENCH_GAPS:-500 2000 10000}
size=${BENCH_SIZE:-1024}
pins=${BENCH_PIN:-0}
systems="ipcfs ipcfs-spin ipcfs-sleep floor floor-yield mpi"
# rows: gap TAB readers TAB pinned TAB system TAB OK|FAILED TAB json-or-reason

bench_note_load "p99 and CPU"

# About two seconds of gaps a run, at least 100 iterations.
iters_for() {
	awk -v g="$1" -v s="$scale" 'BEGIN { v = int(2000000 / g * s); if (v < 100) v = 100; print v }'
}

bench_need_contender bcast_ ipcfs floor mpi

for pin in $pins; do
for gap in $gaps; do
	for n in $readers_list; do
		iters=$(iters_for "$gap")
		warmup=$((iters / 10 > 10 ? iters / 10 : 10))
		for sys in $systems; do
			base=${sys%%-*}
			bin=$bin_dir/bcast_$base
			[ -x "$bin" ] || continue
			out=$tmp/one.json
			rm -f "$out"
			args=(--size "$size" --readers "$n" --iters "$iters" --warmup "$warmup"
				--gap-us "$gap" --out "$out")
			[ "$pin" = 1 ] && args+=(--pin)
			bench_cmd "$base" "$n" "$bin" "${args[@]}"
			case $sys in
			ipcfs-spin) cmd=(env BENCH_IPCFS_SPIN_US=1000000 "${cmd[@]}") ;;
			ipcfs-sleep) cmd=(env BENCH_IPCFS_SPIN_US=0 "${cmd[@]}") ;;
			floor-yield) cmd=(env BENCH_FLOOR_YIELD=1 "${cmd[@]}") ;;
			esac
			printf 'paced: %-11s gap=%-5s readers=%s pinned=%s iters=%s ... ' \
				"$sys" "$gap" "$n" "$pin" "$iters" >&2
			bench_run "$out" p50_us "$gap" "$n" "$pin" "$sys" && cat "$out" >>"$jsonl"
		done
	done
done
done

{
echo "# paced bcast: sender sleeps GAP, then size=$size round trip to N readers; $ncpus CPUs, BENCH_SCALE=$scale"
awk -F '\t' "$bench_awk_jnum$bench_awk_table"'
{
	k = table_add()
	if ($5 == "OK" && $4 == "floor")
		floor_p50[k] = jnum($6, "p50_us")
	if ($5 == "OK" && $4 == "ipcfs-sleep")
		sleep_cpu[k] = jnum($6, "cpu_ms_per_1k")
}
function print_row(k, f, pinned,    p50, cpu, r1, r2) {
	p50 = jnum(f[6], "p50_us")
	cpu = jnum(f[6], "cpu_ms_per_1k")
	r1 = (k in floor_p50) && floor_p50[k] > 0 ? sprintf("%.3g", p50 / floor_p50[k]) : "-"
	r2 = (k in sleep_cpu) && sleep_cpu[k] > 0 ? sprintf("%.3g", cpu / sleep_cpu[k]) : "-"
	printf fmt, f[4], f[1], f[2], pinned, sprintf("%.3f", p50),
		sprintf("%.3f", jnum(f[6], "p99_us")), sprintf("%.2f", cpu), r1, r2
}
END {
	fmt = "%-12s %7s %7s %6s %10s %10s %10s %10s %12s\n"
	printf fmt, "system", "gap_us", "readers", "pinned", "p50_us", "p99_us", "cpu_ms/1k",
		"p50/floor", "cpu/sleeper"
	table_print()
}' "$rows"
} | tee "$table"
