#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run_payload.sh - run the large-payload benchmark and print two tables.
#
# usage: run_payload.sh BUILD_DIR [RESULTS_DIR]
#
# Contenders, from BUILD_DIR/bench: payload_ipcfs (built in place in an
# arena block), payload_mpi (MPI_Bcast, vader BTL), payload_zmq (PUB/SUB,
# zero-copy zmq_msg_init_data sends), payload_unix (a socketpair per
# reader), payload_floor (the same bytes through one shared mapping,
# verified in place, acks on cache lines: the floor of shared memory; and
# floor-yield, its waiters yielding the CPU) and payload_memcpy (one
# process, one memcpy: the ceiling).
# See tools/bench/payload_common.h for the workload.
#
#   run 1 "sizes":    1, 16, 64, 256 MiB to N = 1 and 3 readers, one message
#                     in flight: GB/s = size / p50 round trip (fill +
#                     broadcast + every reader verifies every byte + acks),
#                     its ratio to memcpy of the same size and to the floor
#                     (same size and readers; x_floor > 1 is slower),
#                     summed peak RSS.
#   run 2 "inflight": 16 MiB, K = 1, 8, 32 messages in flight, N = 1 and 3:
#                     summed peak RSS (and throughput over the run). ipcfs's
#                     arena holds K messages (arena_bytes = K blocks + 4 KiB);
#                     an extra row "ipcfs/arena4" gives it room for only 4,
#                     so the sender waits for readers (back pressure) and
#                     memory stays at the arena whatever K is.
#
# Peak RSS is the sum of every process's VmHWM. Shared memory (the ipcfs
# segment, Open MPI's segments) counts once in every process that maps it;
# the shm_MiB column says how much of the sum that is.
#
# Raw results, one JSON object per run with "run" and "label" added, go to
# RESULTS_DIR/payload.jsonl (default results/; rewritten on every run);
# what the contenders print goes to RESULTS_DIR/payload.log. Tables go to
# stdout and to RESULTS_DIR/payload.txt, progress to stderr. About a minute
# and a half on 2 cores.
#
# Environment:
#   BENCH_SCALE     multiplies the iteration counts (default 1; at least 1
#                   timed iteration is kept)
#   BENCH_TIMEOUT   seconds one run may take before it counts as failed
#                   (default 300)
#   PAYLOAD_SIZES_MIB   run 1 sizes in MiB (default "1 16 64 256")
#   PAYLOAD_KS          run 2 values of K (default "1 8 32")
#   PAYLOAD_K_SIZE_MIB  run 2 size in MiB (default 16)
#   BENCH_READERS       reader counts (default "1 3")
#   MPIRUN, BENCH_MPI_ARGS   as for run_bcast.sh
#
# A contender that fails gets a FAILED row, one that would not fit in
# MemAvailable a SKIPPED row; the run goes on.

set -u

# shellcheck source=bench_lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"

bench_setup payload "$@"
sizes_mib=${PAYLOAD_SIZES_MIB:-1 16 64 256}
ks=${PAYLOAD_KS:-1 8 32}
k_size_mib=${PAYLOAD_K_SIZE_MIB:-16}
systems="ipcfs mpi zmq unix"
bp_msgs=4 # arena of the back-pressure row, in messages
# rows: run TAB size TAB readers TAB K TAB label TAB OK|FAILED|SKIPPED TAB json-or-reason

bench_note_load numbers
# shellcheck disable=SC2086 # the list of systems splits on spaces
bench_need_contender payload_ $systems memcpy

# MemAvailable in KiB (0: unknown, never skip).
mem_avail_kib() {
	awk '/^MemAvailable:/ { print $2; found = 1 } END { if (!found) print 0 }' \
		/proc/meminfo 2>/dev/null || echo 0
}

# scaled BASE: BASE * BENCH_SCALE, at least 1.
scaled() {
	awk -v b="$1" -v s="$scale" 'BEGIN { v = int(b * s); if (v < 1) v = 1; print v }'
}

# Timed iterations of run 1 for SIZE_MIB, N readers: a few for large
# payloads (256 MiB to 3 readers over a socket takes most of a second).
iters_sizes() {
	local base
	case $1 in
	1) base=40 ;;
	16) base=12 ;;
	64) base=5 ;;
	*) base=3 ;;
	esac
	[ "$2" -gt 1 ] && [ "$base" -gt 3 ] && base=$((base * 2 / 3))
	scaled "$base"
}

# one RUN LABEL SYS SIZE N K ITERS WARMUP [EXTRA ARGS...]
one() {
	local run=$1 label=$2 sys=$3 size=$4 n=$5 k=$6 iters=$7 warmup=$8
	shift 8
	local bin=$bin_dir/payload_$sys out=$tmp/one.json need avail line
	# shellcheck disable=SC2034 # cmd: set by bench_cmd, run by bench_run
	local -a args cmd
	[ -x "$bin" ] || return 0
	# Rough worst case (ZeroMQ: K buffers in the sender, K read ahead in
	# every reader, and the kernel's copies): 2 * size * K * (N + 1).
	need=$((2 * size * k * (n + 1) / 1024))
	avail=$(mem_avail_kib)
	if [ "$avail" -gt 0 ] && [ "$need" -gt $((avail * 4 / 5)) ]; then
		bench_row "$run" "$size" "$n" "$k" "$label" SKIPPED "needs ~$((need / 1024)) MiB"
		echo "payload: $label size=$size readers=$n K=$k: SKIPPED (needs ~$((need / 1024)) MiB)" >&2
		return 0
	fi
	rm -f "$out"
	args=(--size "$size" --readers "$n" --inflight "$k" --iters "$iters" --warmup "$warmup"
		--out "$out" "$@")
	bench_cmd "$sys" "$n" "$bin" "${args[@]}"
	[ "$label" = floor-yield ] && cmd=(env BENCH_FLOOR_YIELD=1 "${cmd[@]}")
	printf 'payload: %-13s size=%-9s readers=%s K=%-2s iters=%s ... ' \
		"$label" "$size" "$n" "$k" "$iters" >&2
	if bench_run "$out" gbps_p50 "$run" "$size" "$n" "$k" "$label"; then
		line=$(cat "$out")
		printf '{"run":"%s","label":"%s",%s\n' "$run" "$label" "${line#\{}" >>"$jsonl"
	fi
}

# ---- run 1: sizes ---------------------------------------------------------
for mib in $sizes_mib; do
	size=$((mib * 1048576))
	one sizes memcpy memcpy "$size" 1 1 "$(scaled $((200 / mib + 5)))" 2
	for n in $readers_list; do
		iters=$(iters_sizes "$mib" "$n")
		warmup=1
		[ "$mib" -le 16 ] && warmup=2
		for sys in $systems; do
			one sizes "$sys" "$sys" "$size" "$n" 1 "$iters" "$warmup"
		done
		one sizes floor floor "$size" "$n" 1 "$iters" "$warmup"
		one sizes floor-yield floor "$size" "$n" 1 "$iters" "$warmup"
	done
done

# ---- run 2: messages in flight ------------------------------------------
size=$((k_size_mib * 1048576))
for k in $ks; do
	for n in $readers_list; do
		# K untimed messages fill the pipeline; then 2K + 8 timed.
		iters=$(scaled $((2 * k + 8)))
		for sys in $systems; do
			one inflight "$sys" "$sys" "$size" "$n" "$k" "$iters" "$k"
		done
		if [ "$k" -gt "$bp_msgs" ] && [ -x "$bin_dir/payload_ipcfs" ]; then
			one inflight "ipcfs/arena$bp_msgs" ipcfs "$size" "$n" "$k" "$iters" "$k" \
				--arena-msgs "$bp_msgs"
		fi
	done
done

# ---- tables ---------------------------------------------------------------
{
awk -F '\t' -v ncpus="$ncpus" -v scale="$scale" -v load="$load" "$bench_awk_jnum"'
function mib(kib) { return sprintf("%.1f", kib / 1024) }
{
	n++
	run[n] = $1; size[n] = $2; rd[n] = $3; k[n] = $4; label[n] = $5; st[n] = $6; js[n] = $7
	if ($1 == "sizes" && $5 == "memcpy" && $6 == "OK")
		ceiling[$2] = jnum($7, "gbps_p50")
	if ($1 == "sizes" && $5 == "floor" && $6 == "OK")
		floor[$2, $3] = jnum($7, "p50_us")
}
END {
	printf "# large payloads (1): fill + broadcast + every reader verifies every byte + acks, 1 in flight;\n"
	printf "# %d CPUs, load %s, BENCH_SCALE=%s. GB/s = size / p50 round trip; x_memcpy = that / memcpy GB/s;\n", ncpus, load, scale
	printf "# peak_RSS = sum of VmHWM of all processes, of which shm_MiB is shared memory counted once per process.\n"
	fmt = "%-13s %8s %7s %6s %9s %9s %8s %12s %9s\n"
	printf fmt, "system", "size_MiB", "readers", "iters", "GB/s_p50", "x_memcpy", "x_floor",
		"peak_RSS_MiB", "shm_MiB"
	last = ""
	for (i = 1; i <= n; i++) {
		if (run[i] != "sizes")
			continue
		if (last != "" && size[i] != last)
			print ""
		last = size[i]
		rdtxt = label[i] == "memcpy" ? "-" : rd[i]
		if (st[i] != "OK") {
			printf fmt, label[i], size[i] / 1048576, rdtxt, "-", st[i], "-", "-", "-", "-"
			continue
		}
		g = jnum(js[i], "gbps_p50")
		ratio = (size[i] in ceiling) && ceiling[size[i]] > 0 ? sprintf("%.2f", g / ceiling[size[i]]) : "-"
		fl = ((size[i], rd[i]) in floor) && floor[size[i], rd[i]] > 0 && label[i] != "memcpy" ? \
			sprintf("%.2f", jnum(js[i], "p50_us") / floor[size[i], rd[i]]) : "-"
		printf fmt, label[i], size[i] / 1048576, rdtxt, jnum(js[i], "iters"), sprintf("%.2f", g),
			ratio, fl, mib(jnum(js[i], "peak_rss_kib")), mib(jnum(js[i], "shm_kib"))
	}
	print ""
	printf "# large payloads (2): K messages in flight (sender waits for acks only when K are outstanding);\n"
	printf "# GB/s_total = timed bytes / time from first timed send to last ack; arena_MiB: ipcfs arena_bytes.\n"
	fmt = "%-13s %8s %3s %7s %12s %9s %11s %9s\n"
	printf fmt, "system", "size_MiB", "K", "readers", "peak_RSS_MiB", "shm_MiB", "GB/s_total", "arena_MiB"
	last = ""
	for (i = 1; i <= n; i++) {
		if (run[i] != "inflight")
			continue
		if (last != "" && (k[i] SUBSEP rd[i]) != last)
			print ""
		last = k[i] SUBSEP rd[i]
		if (st[i] != "OK") {
			printf fmt, label[i], size[i] / 1048576, k[i], rd[i], st[i], "-", "-", "-"
			continue
		}
		a = jnum(js[i], "arena_bytes")
		printf fmt, label[i], size[i] / 1048576, k[i], rd[i], mib(jnum(js[i], "peak_rss_kib")),
			mib(jnum(js[i], "shm_kib")), sprintf("%.2f", jnum(js[i], "gbps_total")),
			(a > 0 ? mib(a / 1024) : "-")
	}
}' "$rows"
} | tee "$table"
