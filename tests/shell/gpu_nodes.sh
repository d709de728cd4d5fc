#!/bin/bash
# GPU all-reduce across two simulated nodes (the emulator of
# libipcfs_cuda.so and its NCCL): network namespaces a and b joined by a
# veth pair, each with its own mount namespace, /dev/shm, ipcfsd and
# ipcfs-bridge (as bridge_netns.sh). A group of 4 ranks, 0-1 on a and 2-3
# on b. The communicator must see that its ranks span nodes and use NCCL
# for every call, its NCCL id carried to b through the group's messages
# (the bridges), never a gpu/ record or a CUDA IPC handle:
#   mixed           every dtype, sizes 0..256 KiB, in and out of place:
#                   results equal the CPU reference bit for bit, every
#                   call counted as NCCL, no IPC handle exported or opened
#   span_nccl_off   IPCFS_NCCL=0 on rank 3 (b): EOPNOTSUPP on every rank
#   span_nccl_fail  NCCL fails on rank 2 (b): init fails on every rank,
#                   naming rank 2, none hangs
#   span_pending    rank 2 (b) sends rank 0 (a) a message just before init:
#                   EPROTO on rank 0, saying why; the others give up at once
# The emulated NCCL meets in IPCFS_EMU_NCCL_DIR, a directory both nodes
# see, through a file named only in the id. Skipped (77) without root or
# network namespaces.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
export NETNS_SH

case ${SAN:-} in *thread*) skip "SAN=thread: libzmq is not built with ThreadSanitizer" ;; esac
BRIDGE=$BUILD/ipcfs-bridge
RANKS=$BUILD/tests/gpu_ranks
EMU=$BUILD/tests/libipcfs_cuda_emu.so
for f in "$BRIDGE" "$RANKS" "$EMU"; do [ -e "$f" ] || fail "$f is not built"; done
netns_pair g 10.9.1

mkdir "$TMP/nccl"
export TMP IPCFSD RANKS
export IPCFS_BRIDGE=$BRIDGE IPCFS_CUDA_LIB=$EMU IPCFS_EMU_UUID=pid IPCFS_EMU_NCCL_DIR=$TMP/nccl

cat > "$TMP/node.sh" <<'NODE'
set -u
. "$NETNS_SH"
node_start "$1" 64m
G=$T/mnt/groups/g
mkdir "$G" && echo 4 > "$G/ranks" &&
	printf 'a tcp://10.9.1.1:7200 0-1\nb tcp://10.9.1.2:7200 2-3\n' > "$G/nodes" &&
	echo "$me" > "$G/node" || exit 11
for i in $(seq 100); do [ "$(bpid)" != 0 ] && break; sleep 0.05; done
bpid=$(bpid)
[ "$bpid" != 0 ] || exit 13
AWAIT_S=30
if [ "$me" = a ]; then mine=0-1 o1=2 o2=3 other=b; else mine=2-3 o1=0 o2=1 other=a; fi
rc=0
s=0
for sc in mixed span_nccl_off span_nccl_fail span_pending; do
	s=$((s + 1))
	touch "$TMP/$me.$s"
	await "$other.$s"
	timeout 60 "$RANKS" -s -w 4 -r "$mine" "$G" "$sc" > "$T/$sc.out" 2>&1 || { rc=$((20 + s)); break; }
	# The next scenario starts once the other node's ranks of this one
	# are gone here too (their proxies left), on both nodes.
	for i in $(seq 200); do live $o1 || live $o2 || break; sleep 0.05; done
	if live $o1 || live $o2; then
		echo "the proxies of ranks $o1, $o2 stayed live after their processes left" >&2
		rc=30
		break
	fi
	touch "$TMP/$me.$s.gone"
	await "$other.$s.gone"
done
touch "$TMP/$me.end"
await "$other.end"
ls "$G/gpu" > "$T/gpu.ls" 2>&1
cp "$G/stat" "$T/stat"
node_stop || rc=$?
exit $rc
NODE

run_nodes 200 8 "*.out" "*.log"
for n in a b; do
	grep -q "mixed: 2 ranks passed" "$TMP/$n/mixed.out" || fail "node $n: $(cat "$TMP/$n/mixed.out")"
	expect_eq "$(cat "$TMP/$n/gpu.ls")" "" "node $n: gpu/ records of a communicator across nodes"
done
grep -q "NCCL [1-9]" "$TMP/a/mixed.out" || fail "no NCCL calls counted: $(cat "$TMP/a/mixed.out")"
[ "$(kv "$TMP/a/stat" allreduce_oneshot)" = 0 ] && [ "$(kv "$TMP/a/stat" allreduce_twoshot)" = 0 ] ||
	fail "custom kernels used across nodes: $(cat "$TMP/a/stat")"
ok "all-reduce across two nodes through NCCL: every dtype and size exact, no IPC, no gpu/ record"
ok "IPCFS_NCCL=0 on a remote rank: EOPNOTSUPP on every rank of both nodes, naming it"
ok "NCCL failing on a remote rank: init fails on every rank, naming it, no hang"
ok "a message pending from a remote rank at init: EPROTO saying why, the others give up at once"
expect_eq "$(ls "$TMP/nccl")" "" "files of the emulated NCCL left behind"
ok "the emulated NCCL's meeting files removed"
