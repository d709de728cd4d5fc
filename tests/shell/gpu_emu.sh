#!/usr/bin/env bash
# gpu_emu.sh - the GPU communicator of libipcfs end to end without a GPU:
# forked ranks (tests/emu/gpu_ranks.c) in plain group directories, over
# libipcfs_cuda_emu.so, a CPU stand-in for libipcfs_cuda.so with the same
# C ABI (tests/emu/cuda_emu.c). Covers what lib/gpu.c decides and
# exchanges: rendezvous, peer probe, algorithm per call (auto, forced,
# fallbacks), NCCL id exchange, stat counters, registered buffers, CUDA
# graph capture and registration after capture, timeouts, mismatched
# settings, destroy ordering. The kernels themselves: tests/gpu/ on a GPU.
set -u
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
TEST=gpu_emu
RANKS=$BUILD/tests/gpu_ranks
EMU=$BUILD/tests/libipcfs_cuda_emu.so
for f in "$RANKS" "$EMU"; do
	[ -e "$f" ] || { echo "FAIL $TEST: $f is not built"; exit 1; }
done
TMP=$(mktemp -d /tmp/ipcfs-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export IPCFS_CUDA_LIB=$EMU IPCFS_ONESHOT_MAX=4096
n=0

# run NAME [ENV=V...] -- [OPTIONS] SCENARIO: one scenario in a fresh group.
run() {
	local name=$1 out
	shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	local opts=("${@:1:$#-1}") scenario=${*: -1}
	n=$((n + 1))
	if ! out=$(env "${envs[@]}" timeout 120 "$RANKS" -c "${opts[@]}" "$TMP/g$n" "$scenario" 2>&1); then
		echo "$out" >&2
		echo "FAIL $TEST: $name"
		exit 1
	fi
	echo "ok - $TEST: $name: $(echo "$out" | tail -n 1)"
}

# One GPU for every rank (as on a one-GPU test machine): custom kernels,
# and no NCCL (it refuses two ranks on one device): odd sizes and sizes
# beyond the buffer fail with EOPNOTSUPP.
run "2 ranks, one device" -- -w 2 -i 3 mixed
run "4 ranks, one device" -- -w 4 mixed
# A device per rank: NCCL takes what the kernels cannot.
run "3 ranks, NCCL fallback" IPCFS_EMU_UUID=pid -- -w 3 mixed
run "8 ranks, NCCL fallback" IPCFS_EMU_UUID=pid -- -w 8 -i 1 mixed
# No peer access: everything through NCCL, or EOPNOTSUPP without it.
run "no peer access" IPCFS_EMU_UUID=pid IPCFS_EMU_NO_PEER=1 -- -w 3 -i 1 mixed
run "no peer access, NCCL failed" IPCFS_EMU_UUID=pid IPCFS_EMU_NO_PEER=1 IPCFS_EMU_NCCL_FAIL=1 -- -w 2 -i 1 mixed
run "IPCFS_NCCL=0" IPCFS_EMU_UUID=pid IPCFS_NCCL=0 -- -w 2 -i 1 mixed
# Forced algorithms (in a plain directory: IPCFS_ALGO).
run "forced two-shot" IPCFS_ALGO=twoshot -- -w 3 -i 1 -a twoshot mixed
run "forced one-shot" IPCFS_ALGO=oneshot -- -w 2 -i 1 -a oneshot mixed
run "forced NCCL" IPCFS_ALGO=nccl IPCFS_EMU_UUID=pid -- -w 2 -i 1 -a nccl mixed
# Registered buffers, graphs, failures.
run "registered buffer" -- -w 3 registered
run "registered buffer, NCCL beyond" IPCFS_EMU_UUID=pid -- -w 2 registered
run "registered buffer, no peer access" IPCFS_EMU_UUID=pid IPCFS_EMU_NO_PEER=1 -- -w 2 registered
run "registration that one rank failed" -- -w 3 register_fail
run "CUDA graph, registered after capture" -- -w 3 graph
run "CUDA graph, 8 ranks" -- -w 8 graph
run "CUDA graph replayed before registration" -- -w 2 graph_unregistered
run "CUDA graph, ranks captured different calls" -- -w 3 graph_mismatch
run "timeout" -- -w 2 timeout
run "mismatched settings" -- -w 3 mismatch
# Failures (tests/emu/gpu_faults.c): each fails on 78c45e0's protocol.
run "late peer, calls queued: every overlapping call fails" -- -w 2 late
run "timeout at barrier 1 fails on every rank" -- -w 2 stall1
run "timeout at barrier 2 fails on every rank" -- -w 2 stall2
run "graph replay after a timeout fails, never silently" -- -w 2 -b 65536 replay_late
run "IPCFS_GPU_TRAP=1: the failure is sticky in the stream" -- -w 2 -b 65536 trap
run "ranks with different sizes: EPROTO everywhere" -- -w 2 diverge_size
run "ranks with different algorithms: EPROTO everywhere" -- -w 2 diverge_algo
run "4 ranks share a 16-SM device with the default grid" -- -w 4 -b 1048576 coresident
run "NCCL fails on one rank, init without a timeout" IPCFS_EMU_UUID=pid -- -w 3 nccl_one
run "cudaMalloc fails on one rank, init without a timeout" -- -w 3 early_fail
run "a driver older than the runtime" -- -w 2 old_driver
run "a libipcfs_cuda.so without the table of operations" -- -w 2 wrong_lib
run "kernels preloaded at init" -- -w 2 preload
run "PCIe only, 2 ranks: custom kernels" IPCFS_EMU_UUID=pid IPCFS_EMU_VISIBLE=1 IPCFS_EMU_PCIE=1 -- -w 2 pcie
run "PCIe only, 4 ranks: NCCL" IPCFS_EMU_UUID=pid IPCFS_EMU_VISIBLE=1 IPCFS_EMU_PCIE=1 -- -w 4 pcie
run "a peer 12 s late with the default timeout" -- -w 2 skew
run "a peer's process dies: the next call fails at once" -- -w 2 killed

# libipcfs_cuda.so (when nvcc built it) loads NCCL at run time: no
# DT_NEEDED on libnccl, so it runs where NCCL is absent.
CUDA_SO=$BUILD/libipcfs_cuda.so
if [ -e "$CUDA_SO" ] && command -v readelf >/dev/null; then
	if readelf -d "$CUDA_SO" | grep -q 'NEEDED.*nccl'; then
		echo "FAIL $TEST: $CUDA_SO links libnccl (it must dlopen it)"
		exit 1
	fi
	readelf --dyn-syms "$CUDA_SO" | grep -q ' ipcfs_k_ops_v1$' ||
		{ echo "FAIL $TEST: $CUDA_SO does not export ipcfs_k_ops_v1"; exit 1; }
	echo "ok - $TEST: libipcfs_cuda.so: no libnccl dependency, ipcfs_k_ops_v1 exported"
fi
