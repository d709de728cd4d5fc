#!/usr/bin/env bash
# tools/bench/run_ctl.sh BUILD_DIR [RESULTS_DIR] - control operations
# through a freshly mounted ipcfsd: p50/p99 per operation.
set -euo pipefail
BUILD=$1
RESULTS=${2:-results}
mkdir -p "$RESULTS"
tmp=$(mktemp -d /tmp/ipcfs-bench-ctl.XXXXXX)
state=$(mktemp -d /dev/shm/ipcfs-bench-ctl.XXXXXX)
mkdir "$tmp/mnt"
cleanup() {
	grep -q " $tmp/mnt fuse" /proc/self/mounts && fusermount3 -u -z "$tmp/mnt"
	rm -rf "$tmp" "$state"
}
trap cleanup EXIT
if [ ! -c /dev/fuse ]; then echo "ctl: no /dev/fuse, skipped"; exit 0; fi
"$BUILD/ipcfsd" -f -o statedir="$state" "$tmp/mnt" 2>"$tmp/log" &
for _ in $(seq 50); do grep -q " $tmp/mnt fuse" /proc/self/mounts && break; sleep 0.1; done
out=$RESULTS/ctl.jsonl
: > "$out"
"$BUILD/bench/ctl_ops" "$tmp/mnt" --iters "${BENCH_CTL_ITERS:-2000}" --out "$out"
fusermount3 -u "$tmp/mnt"
wait
{
echo "# control operations through the mount ($(nproc) CPUs)"
awk -F'[:,]' '{ for (i = 1; i < NF; i++) { gsub(/[{}"]/, "", $i); v[$i] = $(i + 1) }
	gsub(/"/, "", v["op"]); printf "%-12s p50 %8.1f us   p99 %8.1f us\n", v["op"], v["p50_us"], v["p99_us"] }' "$out"
} | tee "$RESULTS/ctl.txt"
