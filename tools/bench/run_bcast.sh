#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run_bcast.sh - run the broadcast round-trip benchmark and print a table.
#
# usage: run_bcast.sh BUILD_DIR [RESULTS_DIR]
#
# Runs every contender found in BUILD_DIR/bench (bcast_ipcfs, bcast_floor,
# bcast_mpi, bcast_zmq, bcast_unix) for each payload size (64, 1024, 16384,
# 65536 bytes), reader count (1, 3) and placement: unpinned, and pinned
# (--pin: the sender and each reader on a CPU of its own, round robin, as
# taskset or mpirun --bind-to core place them). Raw results, one JSON object per
# run, go to RESULTS_DIR/bcast.jsonl (default results/; rewritten on every
# run); everything the contenders print goes to RESULTS_DIR/bcast.log; the
# table, as printed, to RESULTS_DIR/bcast.txt.
# The table goes to stdout, progress to stderr.
#
# Environment:
#   BENCH_SCALE    multiplies the iteration counts (default 1; 0.1 for a
#                  quick look). At 1 the whole run takes about a minute
#                  on 2 cores (ZeroMQ is most of it).
#   BENCH_TIMEOUT  seconds one run may take before it counts as failed
#                  (default 300).
#   BENCH_SIZES, BENCH_READERS   override the lists above.
#   BENCH_PIN      placements to run: "0 1" (default), "0" or "1".
#   MPIRUN         the MPI launcher (default mpirun).
#   BENCH_MPI_ARGS extra mpirun arguments, split on spaces (default none),
#                  e.g. "--mca btl_vader_single_copy_mechanism none", which
#                  on a VM beats the default CMA for 16-64 KiB.
#
# A contender that fails (non-zero exit, timeout, no result) gets a FAILED
# row; the run goes on.

set -u

# shellcheck source=bench_lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"

bench_setup bcast "$@"
sizes=${BENCH_SIZES:-64 1024 16384 65536}
systems="ipcfs floor mpi zmq unix"
pins=${BENCH_PIN:-0 1}
# rows: size TAB readers TAB pinned TAB system TAB OK|FAILED TAB json-or-reason

# Other work on the machine shows up as multi-millisecond p99 outliers.
bench_note_load p99

# Timed iterations for SIZE and N readers: fewer for large payloads and for
# N=3 (more processes than the 2 cores of the reference machine), times
# BENCH_SCALE, at least 100.
iters_for() {
	local base
	case $1 in
	65536) base=10000 ;;
	16384) base=20000 ;;
	*) base=50000 ;;
	esac
	[ "$2" -gt 1 ] && base=$((base / 2))
	awk -v b="$base" -v s="$scale" 'BEGIN { v = int(b * s); if (v < 100) v = 100; print v }'
}

# shellcheck disable=SC2086 # the list of systems splits on spaces
bench_need_contender bcast_ $systems

for pin in $pins; do
for size in $sizes; do
	for n in $readers_list; do
		iters=$(iters_for "$size" "$n")
		warmup=$((iters / 10 > 10 ? iters / 10 : 10))
		for sys in $systems; do
			bin=$bin_dir/bcast_$sys
			[ -x "$bin" ] || continue
			out=$tmp/one.json
			rm -f "$out"
			args=(--size "$size" --readers "$n" --iters "$iters" --warmup "$warmup" --out "$out")
			[ "$pin" = 1 ] && args+=(--pin)
			bench_cmd "$sys" "$n" "$bin" "${args[@]}"
			printf 'bcast: %-5s size=%-5s readers=%s pinned=%s iters=%s ... ' \
				"$sys" "$size" "$n" "$pin" "$iters" >&2
			bench_run "$out" p50_us "$size" "$n" "$pin" "$sys" && cat "$out" >>"$jsonl"
		done
	done
done
done

{
echo "# bcast round trip: sender fill -> N readers verify -> acks; $ncpus CPUs, BENCH_SCALE=$scale"
awk -F '\t' "$bench_awk_jnum$bench_awk_table"'
{
	k = table_add()
	if ($4 == "ipcfs" && $5 == "OK")
		ipcfs_p50[k] = jnum($6, "p50_us")
}
function print_row(k, f, pinned,    p50, p99, rss, cpu, ratio) {
	p50 = jnum(f[6], "p50_us")
	p99 = jnum(f[6], "p99_us")
	rss = jnum(f[6], "peak_rss_kib")
	cpu = jnum(f[6], "cpu_ms_per_1k")
	ratio = "-"
	if ((k in ipcfs_p50) && ipcfs_p50[k] > 0)
		ratio = sprintf("%.3g", p50 / ipcfs_p50[k])
	printf fmt, f[4], f[1], f[2], pinned, sprintf("%.3f", p50), sprintf("%.3f", p99),
		ratio, sprintf("%.1f", rss / 1024), sprintf("%.2f", cpu)
}
END {
	fmt = "%-7s %6s %7s %6s %10s %10s %10s %13s %10s\n"
	printf fmt, "system", "size", "readers", "pinned", "p50_us", "p99_us", "p50/ipcfs",
		"peak_rss_MiB", "cpu_ms/1k"
	table_print()
}' "$rows"
} | tee "$table"
