#!/usr/bin/env bash
# check_quick.sh - `make check-gpu-quick`: what the next machine with a GPU
# runs first, in under 8 minutes on one H100/H200 with the tree built.
# Prints the GPU, driver, runtime and NCCL versions; runs the single-process
# kernel test, the multi-process communicator test (worlds 2, 3, 8 with the
# library's default grid: 8 ranks x two-shot bf16 at 4 MiB is the
# co-residency case; world 2 has the late peer with queued calls, the
# timeout, the soak), and a short benchmark; ends with one summary line.
# Several ranks on one GPU need MPS: started here (private directories) when
# nvidia-cuda-mps-control exists, quit at the end.
# Exit: 0 all passed; 1 something failed (also: a GPU is there but CUDA
# cannot use it, or the GPU binaries are not built); 77 no GPU here.
set -u
BUILD=${BUILD:-build}
T0=$(date +%s)
if [ ! -e /dev/nvidia0 ] && ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
	echo "check-gpu-quick: SKIP: no NVIDIA GPU on this machine (no /dev/nvidia0, nvidia-smi lists none)"
	exit 77
fi
for f in "$BUILD/libipcfs_cuda.so" "$BUILD/tests/gpu_allreduce_local" \
	 "$BUILD/tests/gpu_allreduce_ipc" "$BUILD/bench/gpu_allreduce"; do
	[ -e "$f" ] || { echo "check-gpu-quick: FAIL: $f is not built (make with nvcc)"; exit 1; }
done

echo "== GPU"
nvidia-smi --query-gpu=name,driver_version,compute_mode,memory.total --format=csv,noheader 2>&1
echo "== libipcfs_cuda.so"
ldd "$BUILD/libipcfs_cuda.so" | grep -E 'cudart|nccl|not found'
if command -v cuobjdump >/dev/null; then
	echo "== SASS of the barriers (sm_90)"
	cuobjdump -sass -arch sm_90 "$BUILD/kernels/allreduce.o" 2>/dev/null |
		grep -oE 'MEMBAR[.A-Z]*|STRONG\.SYS|CCTL[.A-Z]*|GLOBALTIMER|FENCE[.A-Z]*' |
		sort | uniq -c | head
fi

export CUDA_MODULE_LOADING=EAGER CUDA_DEVICE_MAX_CONNECTIONS=32 IPCFS_GPU_TEST_QUICK=1
MPS_DIR=
if command -v nvidia-cuda-mps-control >/dev/null; then
	MPS_DIR=$(mktemp -d /tmp/ipcfs-mps.XXXXXX)
	mkdir -p "$MPS_DIR/pipe" "$MPS_DIR/log"
	export CUDA_MPS_PIPE_DIRECTORY=$MPS_DIR/pipe CUDA_MPS_LOG_DIRECTORY=$MPS_DIR/log
	if nvidia-cuda-mps-control -d; then
		export IPCFS_GPU_TEST_NO_MPS=1  # the tests use this one
		echo "== MPS started ($MPS_DIR)"
	else
		echo "== MPS could not start: the rank processes time-slice (slow)"
		rm -rf "$MPS_DIR"
		MPS_DIR=
	fi
fi
stop_mps() {
	[ -n "$MPS_DIR" ] || return 0
	echo quit | timeout 20 nvidia-cuda-mps-control || echo "check-gpu-quick: could not quit MPS"
	rm -rf "$MPS_DIR"
	MPS_DIR=
}
trap stop_mps EXIT

results=()
fails=0
step() {  # step NAME LIMIT_S COMMAND...
	local name=$1 limit=$2 rc t
	shift 2
	echo "== $name"
	t=$(date +%s)
	timeout --kill-after=10 "$limit" "$@"
	rc=$?
	[ $rc -eq 124 ] && echo "$name: TIMEOUT after $limit s"
	results+=("$name=$rc($(( $(date +%s) - t ))s)")
	[ $rc -eq 0 ] || fails=$((fails + 1))
}

step local 100 "$BUILD/tests/gpu_allreduce_local"
step ipc 240 env IPCFS_GPU_TEST_WORLDS=2,3,8 IPCFS_GPU_SOAK=2000 "$BUILD/tests/gpu_allreduce_ipc"
step rr 45 env IPCFS_GPU_TEST_WORLDS=2 IPCFS_TEST_DEVICES=rr IPCFS_GPU_SOAK=500 \
	"$BUILD/tests/gpu_allreduce_ipc"
step bench 45 env IPCFS_BENCH_RANKS=2 "$BUILD/bench/gpu_allreduce"
stop_mps

echo "check-gpu-quick: $([ $fails -eq 0 ] && echo PASS || echo FAIL): ${results[*]}; $(( $(date +%s) - T0 )) s"
[ $fails -eq 0 ]
