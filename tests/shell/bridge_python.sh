#!/bin/bash
# Python across two machines simulated on one (as bridge_netns.sh: network
# namespaces a and b joined by a veth pair, each with its own mount
# namespace, /dev/shm and ipcfsd, which runs ipcfs-bridge): real python3
# processes on both nodes (tests/shell/bridge_python_node.py).
# send_obj/recv_obj of nested objects with numpy arrays and torch tensors
# to a local and to remote ranks, unicast and broadcast, and from a remote
# rank, exactly once and in order; a remote process killed: its local
# reader gets IpcfsBrokenPipeError. ipcfs.mq.MessageQueue with readers on
# both nodes (remote ones through the handle and their node's mount), one
# remote reader killed midway: the writer and the other readers go on;
# after the writer closes, readers get IpcfsBrokenPipeError; handles that
# do not fit the node get their errors; each node's group goes with its
# last rank. MessageQueue.create_from_process_group() over a gloo group
# spanning the nodes. Traffic only on the veth pair; bounded; skipped (77) without
# root, network namespaces or Debian's python3 with numpy and torch.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
export NETNS_SH

case ${SAN:-} in *thread*) skip "SAN=thread: python3 cannot preload its runtime (see python.sh)" ;; esac
PY=${PYTHON:-/usr/bin/python3}
"$PY" -c 'import numpy, torch' 2>/dev/null || skip "$PY with numpy and torch not found"
top=$(cd "$(dirname "$0")/../.." && pwd)
ls "$BUILD"/python/ipcfs/_native*.so >/dev/null 2>&1 || fail "the Python extension is not built"
[ -x "$BUILD/ipcfs-bridge" ] || fail "$BUILD/ipcfs-bridge is not built"
# Sanitizer builds: the runtimes preloaded into the uninstrumented python3.
case ",${SAN:-}," in
,,) ;;
*)
	preload=
	case ",$SAN," in *address*) preload="$preload $(${CC:-gcc} -print-file-name=libasan.so)" ;; esac
	case ",$SAN," in *undefined*) preload="$preload $(${CC:-gcc} -print-file-name=libubsan.so)" ;; esac
	export PY_PRELOAD="${preload# }" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ;;
esac
netns_pair p 10.9.0
mkdir "$TMP/sync"
export TMP IPCFSD PY top
export IPCFS_BRIDGE=$BUILD/ipcfs-bridge IPCFS_PYTHONPATH=$BUILD/python OMP_NUM_THREADS=1

cat > "$TMP/node.sh" <<'NODE'
set -u
. "$NETNS_SH"
node_start "$1" 256m
G=$T/mnt/groups/g
mkdir "$G" && echo 4 > "$G/ranks" && echo 8 > "$G/slots" && echo 16M > "$G/arena_bytes" &&
	echo 1500 > "$G/node_timeout_ms" &&
	printf 'a tcp://10.9.0.1:7100 0-1\nb tcp://10.9.0.2:7100 2-3\n' > "$G/nodes" &&
	echo "$me" > "$G/node" || exit 11
rc=0
# Part 3 (a gloo group across the nodes): this node's name and mount, the master
# that gives each node's address, gloo's interface.
export IPCFS_NODE=$me IPCFS_MOUNT=$T/mnt MASTER_ADDR=10.9.0.1 MASTER_PORT=29533 GLOO_SOCKET_IFNAME=v$me
LD_PRELOAD=${PY_PRELOAD:-} "$PY" "$top/tests/shell/bridge_python_node.py" "$me" "$G" "$T/mnt" \
	"$TMP/sync" >> "$T/py.out" 2>&1 || rc=20
echo "python exited, rc $rc" >> "$T/py.out"
# The bridge of a group just removed (the daemon stops it) may hold the
# mount a moment longer: EBUSY, then it is gone.
node_stop 2>> "$T/py.out" || rc=$?
exit $rc
NODE

run_nodes 150 15 py.out daemon.log
while read -r want; do
	grep -qxF "PASS $want" "$TMP/a/py.out" "$TMP/b/py.out" || {
		cat "$TMP/a/py.out" "$TMP/b/py.out" >&2
		fail "missing: $want"
	}
	ok "$want"
done <<'WANT'
local rank 1 got 120 objects from rank 0 once, in order
remote rank 2 got 120 objects from rank 0 once, in order
remote rank 3 got 120 broadcasts and 12 unicasts from rank 0 once, in order
local rank 1 got 60 objects from remote rank 2 once, in order
a remote rank killed: the local reader of it gets IpcfsBrokenPipeError (EPIPE)
queue writer: 90 objects to a local and two remote readers, one of them killed midway, without an error
queue reader 1 (local): 90 objects once, in order; after the writer closed, IpcfsBrokenPipeError
queue reader 2 (remote): 90 objects once, in order; after the writer closed, IpcfsBrokenPipeError
a handle whose nodes differ from the mount's group: EEXIST with a sentence naming what to change
a reader of the writer's node started on another: EADDRNOTAVAIL with a sentence naming what to change
a remote reader without an ipcfsd mount: ENOENT with a sentence naming what to change
node a: the queue's group is removed when its last rank there closes
node b: the queue's group is removed when its last rank there closes
create_from_process_group: rank 0 on node a, objects with arrays once, in order
create_from_process_group: rank 1 on node a, objects with arrays once, in order
create_from_process_group: rank 2 on node b, objects with arrays once, in order
create_from_process_group: rank 3 on node b, objects with arrays once, in order
node a: the process group's queue is removed after close
node b: the process group's queue is removed after close
WANT
for n in a b; do
	if grep -a -q "AddressSanitizer\|LeakSanitizer\|runtime error" "$TMP/$n/daemon.log" "$TMP/$n/py.out"; then
		grep -a -m1 -A20 "Sanitizer\|runtime error" "$TMP/$n/daemon.log" "$TMP/$n/py.out" >&2
		fail "a sanitizer report on node $n"
	fi
done
ok "no sanitizer report"
