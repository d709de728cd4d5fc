#!/bin/bash
# tools/bench/run_remote.sh [BUILD] [OUTDIR] - the round trip of one
# message and an 8-byte ack between two machines simulated on one (network
# namespaces a and b joined by a veth pair, each with its own /dev/shm and
# ipcfsd, which starts ipcfs-bridge), 64 B to 16 MiB:
#   remote   ipcfs rank 0 (a) -> rank 2 (b), through both bridges
#   zmq      raw ZeroMQ PAIR over TCP between the same namespaces, the same
#            bytes (the sender writes the payload, zmq_send copies it)
#   local    ipcfs rank 0 -> rank 1 on a, in the group with remote ranks,
#            and in a group of the same shape without nodes
# Prints a table (mean and median microseconds) and writes it to
# OUTDIR/remote.txt. Needs root (ip netns); never part of make check.
set -euo pipefail
BUILD=${1:-build}
OUT=${2:-results}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
[ "$(id -u)" = 0 ] || { echo "run_remote: needs root (network namespaces)" >&2; exit 77; }
for b in ipcfsd ipcfs-bridge bench/remote_rt; do
	[ -x "$BUILD/$b" ] || { echo "run_remote: $BUILD/$b is not built" >&2; exit 1; }
done
ITERS=${ITERS:-2000}
SIZES=${SIZES:-"64 1024 16384 65536 1048576 4194304 16777216"}
NA=ipcfs-bench-a.$$
NB=ipcfs-bench-b.$$
TMP=$(mktemp -d /tmp/ipcfs-remote.XXXXXX)
chmod 755 "$TMP"
cleanup() {
	for ns in $NA $NB; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ip netns add "$NA"
ip netns add "$NB"
ip link add va netns "$NA" type veth peer name vb netns "$NB"
ip -n "$NA" addr add 10.9.0.1/24 dev va
ip -n "$NB" addr add 10.9.0.2/24 dev vb
for ns in $NA $NB; do ip -n "$ns" link set lo up; done
ip -n "$NA" link set va up
ip -n "$NB" link set vb up
export TMP BUILD ITERS SIZES IPCFS_BRIDGE=$BUILD/ipcfs-bridge

cat > "$TMP/node.sh" <<'NODE'
set -u
me=$1
T=$TMP/$me
mkdir -p "$T/mnt" "$T/state"
chmod 711 "$T/state"
mount -t tmpfs -o size=512m tmpfs /dev/shm
"$BUILD/ipcfsd" -f -o statedir="$T/state" "$T/mnt" 2>>"$T/daemon.log" &
dpid=$!
for i in $(seq 100); do grep -q " $T/mnt fuse" /proc/self/mounts && break; sleep 0.05; done
for g in g l; do
	G=$T/mnt/groups/$g
	mkdir "$G"; echo 4 > "$G/ranks"; echo 64 > "$G/slots"; echo 4096 > "$G/slot_bytes"
	echo 96M > "$G/arena_bytes"
done
G=$T/mnt/groups/g
printf 'a tcp://10.9.0.1:7100 0-1\nb tcp://10.9.0.2:7100 2-3\n' > "$G/nodes"
echo "$me" > "$G/node"
await() { for i in $(seq 6000); do [ -e "$TMP/$1" ] && return 0; sleep 0.05; done; echo "timeout: $1" >&2; exit 1; }
RT=$BUILD/bench/remote_rt
if [ "$me" = b ]; then
	"$RT" ipcfs-pong "$G" 2 0 &
	pong=$!
	touch "$TMP/b.ready"
	wait $pong
	await a.done
else
	await b.ready
	"$RT" ipcfs-ping "$G" 0 2 "$ITERS" $SIZES > "$TMP/remote.txt"
	for g in g l; do
		"$RT" ipcfs-pong "$T/mnt/groups/$g" 1 0 &
		pong=$!
		"$RT" ipcfs-ping "$T/mnt/groups/$g" 0 1 "$ITERS" $SIZES > "$TMP/local_$g.txt"
		wait $pong
	done
	touch "$TMP/a.done"
fi
fusermount3 -u "$T/mnt"
wait $dpid
NODE

ip netns exec "$NB" bash "$TMP/node.sh" b &
ip netns exec "$NA" bash "$TMP/node.sh" a
wait
ip netns exec "$NB" "$BUILD/bench/remote_rt" zmq-pong tcp://10.9.0.2:7300 &
sleep 0.3
ip netns exec "$NA" "$BUILD/bench/remote_rt" zmq-ping tcp://10.9.0.2:7300 "$ITERS" $SIZES > "$TMP/zmq.txt"
wait

mkdir -p "$OUT"
{
	echo "# round trip (message + 8-byte ack), microseconds: mean / median"
	printf "%10s %20s %20s %8s %20s %20s\n" bytes "ipcfs remote" "zmq tcp" "ratio" "local (remote ranks)" "local (one node)"
	join <(sort -k1,1 "$TMP/remote.txt") <(sort -k1,1 "$TMP/zmq.txt") |
		join - <(sort -k1,1 "$TMP/local_g.txt") | join - <(sort -k1,1 "$TMP/local_l.txt") |
		sort -n | awk '{ printf "%10d %9.1f / %8.1f %9.1f / %8.1f %8.2f %9.1f / %8.1f %9.1f / %8.1f\n",
			$1, $2, $3, $4, $5, $3 / $5, $6, $7, $8, $9 }'
} | tee "$OUT/remote.txt"
