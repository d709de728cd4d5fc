#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run_bcast.sh - run the broadcast round-trip benchmark and print a table.
#
# usage: run_bcast.sh BUILD_DIR [RESULTS_DIR]
#
# Runs every contender found in BUILD_DIR/bench (bcast_ipcfs, bcast_floor,
# bcast_mpi, bcast_zmq, bcast_unix) for each payload size (64, 1024, 16384,
# 65536 bytes) and reader count (1, 3). Raw results, one JSON object per
# run, go to RESULTS_DIR/bcast.jsonl (default results/; rewritten on every
# run); everything the contenders print goes to RESULTS_DIR/bcast.log.
# The table goes to stdout, progress to stderr.
#
# Environment:
#   BENCH_SCALE    multiplies the iteration counts (default 1; 0.1 for a
#                  quick look). At 1 the whole run takes about a minute
#                  on 2 cores (ZeroMQ is most of it).
#   BENCH_TIMEOUT  seconds one run may take before it counts as failed
#                  (default 300).
#   BENCH_SIZES, BENCH_READERS   override the lists above.
#   MPIRUN         the MPI launcher (default mpirun).
#   BENCH_MPI_ARGS extra mpirun arguments, split on spaces (default none),
#                  e.g. "--mca btl_vader_single_copy_mechanism none", which
#                  on a VM beats the default CMA for 16-64 KiB.
#
# A contender that fails (non-zero exit, timeout, no result) gets a FAILED
# row; the run goes on.

set -u

usage() {
	echo "usage: $0 BUILD_DIR [RESULTS_DIR]" >&2
	exit 2
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	usage
fi
build_dir=$1
results_dir=${2:-results}
bin_dir=$build_dir/bench
scale=${BENCH_SCALE:-1}
run_timeout=${BENCH_TIMEOUT:-300}
sizes=${BENCH_SIZES:-64 1024 16384 65536}
readers_list=${BENCH_READERS:-1 3}
mpirun=${MPIRUN:-mpirun}
read -r -a mpi_extra <<<"${BENCH_MPI_ARGS:-}"
systems="ipcfs floor mpi zmq unix"

[ -d "$bin_dir" ] || { echo "$0: no directory $bin_dir" >&2; exit 2; }
if ! awk -v s="$scale" 'BEGIN { exit !(s + 0 > 0) }'; then
	echo "$0: BENCH_SCALE must be a positive number, not '$scale'" >&2
	exit 2
fi
mkdir -p "$results_dir" || exit 1
jsonl=$results_dir/bcast.jsonl
log=$results_dir/bcast.log
: >"$jsonl" || exit 1
: >"$log" || exit 1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run_bcast.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
rows=$tmp/rows  # size TAB readers TAB system TAB OK|FAILED TAB json-or-reason
: >"$rows"

ncpus=$(nproc 2>/dev/null || echo 1)

# Other work on the machine shows up as multi-millisecond p99 outliers.
load=$(cut -d ' ' -f 1 /proc/loadavg 2>/dev/null || echo 0)
if awk -v l="$load" 'BEGIN { exit !(l + 0 >= 0.5) }'; then
	echo "bcast: warning: load average $load before the run; expect noisy p99" >&2
fi
echo "== $ncpus CPUs, load average $load, BENCH_SCALE=$scale" >>"$log"

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

found=0
for sys in $systems; do
	[ -x "$bin_dir/bcast_$sys" ] && found=1
done
[ "$found" = 1 ] || { echo "$0: no bcast_* contender in $bin_dir" >&2; exit 1; }

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
			if [ "$sys" = mpi ]; then
				# Open MPI busy-polls; with more ranks than CPUs it must
				# yield or it collapses (it would guess so itself; say it).
				yield=0
				[ $((n + 1)) -gt "$ncpus" ] && yield=1
				cmd=(env OMPI_MCA_mpi_yield_when_idle="$yield"
					"$mpirun" --allow-run-as-root --oversubscribe --bind-to none
					-np $((n + 1)) --mca pml ob1 --mca btl "self,vader"
					"${mpi_extra[@]}" "$bin" "${args[@]}")
			else
				cmd=("$bin" "${args[@]}")
			fi
			printf 'bcast: %-5s size=%-5s readers=%s iters=%s ... ' \
				"$sys" "$size" "$n" "$iters" >&2
			echo "== ${cmd[*]}" >>"$log"
			timeout -k 5 "$run_timeout" "${cmd[@]}" </dev/null >>"$log" 2>&1
			rc=$?
			lines=0
			[ -f "$out" ] && lines=$(wc -l <"$out")
			if [ "$rc" -eq 0 ] && [ "$lines" -eq 1 ] && grep -q '"p50_us":' "$out"; then
				cat "$out" >>"$jsonl"
				printf '%s\t%s\t%s\tOK\t%s\n' "$size" "$n" "$sys" "$(cat "$out")" >>"$rows"
				echo ok >&2
			else
				reason="exit status $rc"
				[ "$rc" -eq 124 ] && reason="timed out after ${run_timeout}s"
				[ "$rc" -eq 0 ] && reason="no result line"
				echo "== FAILED: $reason" >>"$log"
				printf '%s\t%s\t%s\tFAILED\t%s\n' "$size" "$n" "$sys" "$reason" >>"$rows"
				echo "FAILED ($reason; see $log)" >&2
			fi
		done
	done
done

echo "# bcast round trip: sender fill -> N readers verify -> acks; $ncpus CPUs, BENCH_SCALE=$scale"
awk -F '\t' '
function jnum(line, key,    m) {
	if (!match(line, "\"" key "\":[-0-9.eE+]+"))
		return ""
	m = substr(line, RSTART, RLENGTH)
	sub(/^[^:]*:/, "", m)
	return m + 0
}
{
	k = $1 SUBSEP $2
	if (!(k in seen)) {
		seen[k] = 1
		order[++ngroups] = k
	}
	nrow[k]++
	row[k, nrow[k]] = $0
	if ($3 == "ipcfs" && $4 == "OK")
		ipcfs_p50[k] = jnum($5, "p50_us")
}
END {
	fmt = "%-7s %6s %7s %10s %10s %10s %13s\n"
	printf fmt, "system", "size", "readers", "p50_us", "p99_us", "p50/ipcfs", "peak_rss_MiB"
	for (g = 1; g <= ngroups; g++) {
		k = order[g]
		if (g > 1)
			print ""
		for (i = 1; i <= nrow[k]; i++) {
			split(row[k, i], f, "\t")
			if (f[4] != "OK") {
				printf fmt, f[3], f[1], f[2], "FAILED", "-", "-", "-"
				continue
			}
			p50 = jnum(f[5], "p50_us")
			p99 = jnum(f[5], "p99_us")
			rss = jnum(f[5], "peak_rss_kib")
			ratio = "-"
			if ((k in ipcfs_p50) && ipcfs_p50[k] > 0)
				ratio = sprintf("%.3g", p50 / ipcfs_p50[k])
			printf fmt, f[3], f[1], f[2], sprintf("%.3f", p50), sprintf("%.3f", p99),
				ratio, sprintf("%.1f", rss / 1024)
		}
	}
}' "$rows"
