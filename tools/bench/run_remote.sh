#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run_remote.sh - the broadcast round trip to local and to remote ranks
# between two machines simulated on one, against the ways engines cross
# machines today; prints a table.
#
# usage: run_remote.sh BUILD_DIR [RESULTS_DIR]      (as root; exit 77 if not)
#
# Two network namespaces a (10.9.0.1) and b (10.9.0.2) joined by a veth
# pair; for ipcfs each has its own mount namespace, /dev/shm and ipcfsd,
# which starts ipcfs-bridge. A round trip: the sender writes the whole
# payload, sends it, the receiver checks it and acks with 8 bytes, the
# sender waits for the ack (remote_common.h). Contenders:
#   remote ipcfs        rank 0 (a) -> rank 2 (b), through both bridges
#   remote ipcfs-spin   the same in a group with spin_us 300 (default 50):
#                       its ranks spin so long before they sleep
#   remote ipcfs-bcast  one broadcast from rank 0 to rank 1 (a) and rank 2
#                       (b): rank 2's round trip ...
#   local  ipcfs-bcast  ... and, in the same iterations, rank 1's
#   local  ipcfs-alone  rank 0 -> rank 1 in a group without nodes (no
#                       bridge): local delivery without remote ranks,
#                       back to back
#   local  ipcfs-paced  the same, one round trip per mean ipcfs-bcast
#                       round (the sender asleep in between): the same
#                       pace as ipcfs-bcast, so the reader's wake-up from
#                       its sleep between messages is in both
#   local  ipcfs-nodes  rank 0 -> rank 1 in the group with remote ranks
#                       (live, but this message is not for them), at the
#                       same pace: their presence without their traffic
#   remote zmq          raw ZeroMQ PAIR over TCP between a and b, the same
#                       bytes (zmq_send copies them)
#   local  zmq          the same within a, over 127.0.0.1
#   remote vllm-zmq     vLLM's MessageQueue to a remote reader: XPUB/SUB,
#                       the payload a pickled bytes object, Python
#                       (remote_vllm.py), the ack on PUSH/PULL
#   paced  ipcfs, ipcfs-spin, zmq: the remote round trip again, one every
#                       BENCH_GAP_US (default 2000) microseconds, the
#                       sender asleep in between, as an engine's steps
#                       (at most a second of them per size)
#   remote mpi-tcp      Open MPI, MPI_Bcast + MPI_Reduce ack, rank 0 in a
#                       and rank 1 in b, BTL tcp only (remote_mpi.c)
# Sizes 64 B, 1 KiB, 64 KiB, 1 MiB, 16 MiB. Raw results, one JSON line per
# contender and size, go to RESULTS_DIR/remote.jsonl (default results/),
# what the programs print to RESULTS_DIR/remote.log, the table to stdout
# and RESULTS_DIR/remote.txt. CPU is that of every process in both
# namespaces during the timed round trips (daemons, bridges, mpirun, orted
# and every thread included), per 1000 round trips (the local and remote
# rows of ipcfs-bcast are one run: the same CPU). About a minute a round.
#
# Open MPI across the namespaces: one mpirun job with two "hosts", the
# namespaces' addresses; its ssh launcher is replaced (plm_rsh_agent) by
# a script that runs the daemon (orted) of host 10.9.0.2 through
# `ip netns exec`, so the job is wired as on two machines (oob and BTL
# over the veth pair) without ssh, an ompi-server or a port file.
#
# Environment: BENCH_ROUNDS (default 3: every contender runs that many
# times in turn, the table shows medians), BENCH_SCALE (multiplies the 2000 iterations per size, fewer
# above 64 KiB: remote_common.h), BENCH_SIZES (the sizes), BENCH_TIMEOUT
# (seconds per contender, default 300), MPIRUN, BENCH_MPI_ARGS (as
# run_bcast.sh), KEEP=1 keeps the scratch directory.
#
# Never part of make check. A contender that fails gets a line under the
# table; the others go on.

set -u

# shellcheck source=bench_lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"

[ "$(id -u)" = 0 ] || { echo "run_remote: needs root (network namespaces)" >&2; exit 77; }
bench_setup remote "$@"
case $build_dir in /*) ;; *) build_dir=$(pwd)/$build_dir ;; esac
bin_dir=$build_dir/bench
for b in ipcfsd ipcfs-bridge bench/remote_rt; do
	[ -x "$build_dir/$b" ] || { echo "run_remote: $build_dir/$b is not built" >&2; exit 1; }
done
command -v ip >/dev/null || { echo "run_remote: no ip (iproute2)" >&2; exit 77; }
iters=$(awk -v s="$scale" 'BEGIN { v = int(2000 * s); if (v < 20) v = 20; print v }')
sizes=$(echo "${BENCH_SIZES:-64 1024 65536 1048576 16777216}" | tr -s ' ' ',')
sizes=${sizes#,}
sizes=${sizes%,}
bench_note_load latencies

NA=ipcfs-bench-a.$$
NB=ipcfs-bench-b.$$
chmod 755 "$tmp"
cleanup() {
	for ns in $NA $NB; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	if [ -n "${KEEP:-}" ]; then echo "run_remote: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
if ! { ip netns add "$NA" && ip netns add "$NB" &&
	ip link add va netns "$NA" type veth peer name vb netns "$NB" &&
	ip -n "$NA" addr add 10.9.0.1/24 dev va && ip -n "$NB" addr add 10.9.0.2/24 dev vb &&
	ip -n "$NA" link set lo up && ip -n "$NB" link set lo up &&
	ip -n "$NA" link set va up && ip -n "$NB" link set vb up; }; then
	echo "run_remote: cannot set up the namespaces" >&2
	exit 77
fi
IPCFS_BENCH_NETNS="$(stat -L -c %i "/run/netns/$NA") $(stat -L -c %i "/run/netns/$NB")"
export IPCFS_BENCH_NETNS IPCFS_BRIDGE=$build_dir/ipcfs-bridge

# inns NS CMD...: run CMD in namespace NS. ip netns exec gives it a copy of
# the host's mounts, the FUSE mounts of everything else running here among
# them: let go of those (as tests/shell/bridge_netns.sh does), or their
# daemons could not exit after their own unmount until CMD ends.
cat >"$tmp/inns" <<'EOF'
#!/bin/bash
ns=$1
shift
exec ip netns exec "$ns" bash -c '
awk '\''$3 ~ /^fuse/ { print $2 }'\'' /proc/self/mounts |
	while read -r m; do umount -l "$m" 2>/dev/null; done
exec "$@"' inns "$@"
EOF
# Open MPI's launcher agent: "AGENT HOST COMMAND" as ssh would be called.
cat >"$tmp/rsh" <<EOF
#!/bin/bash
host=\$1
shift
case \$host in
10.9.0.1) ns=$NA ;;
10.9.0.2) ns=$NB ;;
*) echo "run_remote rsh: unknown host \$host" >&2; exit 1 ;;
esac
exec "$tmp/inns" "\$ns" /bin/sh -c "\$*"
EOF
chmod 755 "$tmp/inns" "$tmp/rsh"
inns="$tmp/inns"

# failed NAME REASON: a line under the table.
failed() {
	printf '%s\t%s\n' "$1 (round $round)" "$2" >>"$tmp/failed"
	echo "FAILED ($2; see $log)" >&2
}
: >"$tmp/failed"

# collect NAME RC OUT: keep OUT's JSON lines (those of the sizes done
# before a failure too), and say why if the run failed.
collect() {
	local n
	n=$(grep -c '"bench":"remote"' "$3" 2>/dev/null)
	grep '"bench":"remote"' "$3" 2>/dev/null | sed "s/^{/{\"round\":$round,/" >>"$jsonl"
	if [ "$2" = 0 ] && [ "${n:-0}" -gt 0 ]; then
		echo ok >&2
	elif [ "$2" = 124 ] || [ "$2" = 137 ]; then
		failed "$1" "timed out after ${run_timeout}s, ${n:-0} results"
	else
		failed "$1" "exit status $2, ${n:-0} results"
	fi
}

# ---- ipcfs: both nodes, with their daemons and bridges -------------------------
gap=${BENCH_GAP_US:-2000}
rounds=${BENCH_ROUNDS:-3}
case $rounds in ''|*[!0-9]*|0) echo "run_remote: BENCH_ROUNDS wants a count, not '$rounds'" >&2; exit 2 ;; esac
export TMPD=$tmp BUILD=$build_dir ITERS=$iters SIZES=$sizes GAP=$gap
cat >"$tmp/node.sh" <<'NODE'
set -u
me=$1
T=$TMPD/$me
mkdir -p "$T/mnt"
# The node's own /dev/shm, and the segments in it, as deployed (the
# default statedir is there): not on the disk of $TMPD, which would write
# back every page the messages dirty.
mount -t tmpfs -o size=512m tmpfs /dev/shm || exit 10
"$BUILD/ipcfsd" -f -o statedir=/dev/shm/ipcfs-state "$T/mnt" 2>>"$T/daemon.log" &
dpid=$!
for i in $(seq 100); do grep -q " $T/mnt fuse" /proc/self/mounts && break; sleep 0.05; done
# g: ranks 0-1 on a, 2-3 on b; l: the same shape without nodes; s: g
# with spin_us 300.
for g in g l s; do
	G=$T/mnt/groups/$g
	mkdir "$G" && echo 4 > "$G/ranks" && echo 64 > "$G/slots" &&
		echo 4096 > "$G/slot_bytes" && echo 96M > "$G/arena_bytes" || exit 11
done
echo 300 > "$T/mnt/groups/s/spin_us" || exit 11
for g in g s; do
	port=7100; [ $g = s ] && port=7101
	G=$T/mnt/groups/$g
	printf 'a tcp://10.9.0.1:%s 0-1\nb tcp://10.9.0.2:%s 2-3\n' $port $port > "$G/nodes" &&
		echo "$me" > "$G/node" || exit 11
done
G=$T/mnt/groups/g
S=$T/mnt/groups/s
await() { for i in $(seq 2400); do [ -e "$TMPD/$1" ] && return 0; sleep 0.05; done; echo "timeout: $1" >&2; return 1; }
RT=$BUILD/bench/remote_rt
rc=0
if [ "$me" = b ]; then
	"$RT" ipcfs-pong "$G" 2 0 &
	pong=$!
	"$RT" ipcfs-pong "$S" 2 0 &
	spong=$!
	touch "$TMPD/b.ready"
	wait $pong || rc=20
	wait $spong || rc=26
	await a.done || rc=21
else
	"$RT" ipcfs-pong "$G" 1 0 &
	p1=$!
	"$RT" ipcfs-pong "$T/mnt/groups/l" 1 0 &
	p2=$!
	if await b.ready; then
		"$RT" ipcfs-ping "$ITERS" "$SIZES" "ipcfs:$G:0:2=remote" "ipcfs-spin:$S:0:2=remote" \
			"ipcfs:$G:0:2=paced@${GAP}us" "ipcfs-spin:$S:0:2=paced@${GAP}us" \
			"ipcfs-bcast:$G:0:1=local,2=remote" \
			"ipcfs-alone:$T/mnt/groups/l:0:1=local" \
			"ipcfs-paced:$T/mnt/groups/l:0:1=local@ipcfs-bcast" \
			"ipcfs-nodes:$G:0:1=local@ipcfs-bcast" > "$TMPD/ipcfs.out" || rc=22
	else
		rc=23
	fi
	[ $rc = 0 ] || kill $p1 $p2 2>/dev/null
	wait $p1 || rc=24
	wait $p2 || rc=25
	touch "$TMPD/a.done"
fi
fusermount3 -u "$T/mnt"
wait $dpid
exit $rc
NODE

# Every contender, BENCH_ROUNDS times in turn: the table gives the median
# of each figure over the rounds (a burst of load moves one round only).
for round in $(seq "$rounds"); do
	echo "remote: round $round of $rounds" >&2
	# A fresh start for both nodes (their state is fresh anyway: each
	# mounts its own /dev/shm in a mount namespace of its own).
	rm -rf "$tmp/a" "$tmp/b" "$tmp/a.done" "$tmp/b.ready"
	echo "remote: ipcfs (both nodes, bridges) ... " >&2
	{
		echo "== ipcfs"
		timeout -k 5 "$run_timeout" "$inns" "$NB" bash "$tmp/node.sh" b &
		nb=$!
		timeout -k 5 "$run_timeout" "$inns" "$NA" bash "$tmp/node.sh" a
		rc=$?
		# a failed: b's pong would wait for a message that does not come.
		[ $rc = 0 ] || for p in $(ip netns pids "$NB"); do kill -9 "$p"; done
		wait $nb
		rcb=$?
		[ $rc != 0 ] || rc=$rcb
		cat "$tmp"/a/daemon.log "$tmp"/b/daemon.log 2>/dev/null
	} >>"$log" 2>&1
	collect ipcfs "$rc" "$tmp/ipcfs.out"

	# ---- raw ZeroMQ, remote and local ---------------------------------------------
	# zmq_pair TARGET PONG_NS ADDR [PERIOD_US]
	zmq_pair() {
		echo "remote: zmq $1 ... " >&2
		echo "== zmq $1" >>"$log"
		timeout -k 5 "$run_timeout" "$inns" "$2" "$bin_dir/remote_rt" zmq-pong "$3" 2>>"$log" &
		local pong=$! rc prc
		timeout -k 5 "$run_timeout" "$inns" "$NA" "$bin_dir/remote_rt" zmq-ping "$3" "$iters" \
			"$sizes" "$1" ${4:+"$4"} >"$tmp/zmq_$1.out" 2>>"$log"
		rc=$?
		[ $rc = 0 ] || kill $pong 2>/dev/null # (timeout passes it on)
		wait $pong
		prc=$?
		[ $rc != 0 ] || rc=$prc
		collect "zmq $1" "$rc" "$tmp/zmq_$1.out"
	}
	zmq_pair remote "$NB" tcp://10.9.0.2:7300
	zmq_pair local "$NA" tcp://127.0.0.1:7301
	zmq_pair paced "$NB" tcp://10.9.0.2:7302 "$gap"

	# ---- vLLM's MessageQueue to a remote reader (Python) ---------------------------
	py=/usr/bin/python3
	vllm=$(dirname "${BASH_SOURCE[0]}")/remote_vllm.py
	echo "remote: vllm-zmq ... " >&2
	if ! "$py" -c 'import zmq' 2>/dev/null; then
		failed vllm-zmq "no python3-zmq for $py (tools/install-deps.sh --bench)"
	else
		echo "== vllm-zmq" >>"$log"
		timeout -k 5 "$run_timeout" "$inns" "$NB" "$py" "$vllm" reader \
			tcp://10.9.0.1:7400 tcp://10.9.0.1:7401 2>>"$log" &
		reader=$!
		timeout -k 5 "$run_timeout" "$inns" "$NA" "$py" "$vllm" writer \
			tcp://10.9.0.1:7400 tcp://10.9.0.1:7401 "$iters" "$sizes" remote \
			>"$tmp/vllm.out" 2>>"$log"
		rc=$?
		[ $rc = 0 ] || kill $reader 2>/dev/null
		wait $reader
		prc=$?
		[ $rc != 0 ] || rc=$prc
		collect vllm-zmq "$rc" "$tmp/vllm.out"
	fi

	# ---- Open MPI over TCP between the namespaces ----------------------------------
	echo "remote: mpi-tcp ... " >&2
	if [ ! -x "$bin_dir/remote_mpi" ] || ! command -v "$mpirun" >/dev/null; then
		failed mpi-tcp "no $bin_dir/remote_mpi or no $mpirun (Open MPI)"
	else
		echo "== mpi-tcp" >>"$log"
		timeout -k 5 "$run_timeout" "$inns" "$NA" env OMPI_ALLOW_RUN_AS_ROOT=1 \
			OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$mpirun" --allow-run-as-root -np 2 \
			--host 10.9.0.1:1,10.9.0.2:1 --bind-to none \
			--mca plm_rsh_agent "$tmp/rsh" --mca plm_rsh_no_tree_spawn 1 \
			--mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include 10.9.0.0/24 \
			--mca oob_tcp_if_include 10.9.0.0/24 "${mpi_extra[@]}" \
			"$bin_dir/remote_mpi" "$iters" "$sizes" mpi-tcp remote \
			>"$tmp/mpi.out" 2>>"$log"
		collect mpi-tcp "$?" "$tmp/mpi.out"
	fi

done

# ---- the table -------------------------------------------------------------------
{
	echo "# remote round trip (message + 8-byte ack), two network namespaces on a veth pair;"
	echo "# $ncpus CPUs, load $load, $iters iterations per size (fewer above 64 KiB), BENCH_SCALE=$scale;"
	echo "# cpu: ms of every process in both namespaces per 1000 round trips;"
	echo "# paced: the remote round trip again, one every ${gap} us (BENCH_GAP_US), at most 1 s per size;"
	echo "# every figure the median over $rounds rounds (BENCH_ROUNDS), the contenders in turn in each"
	awk -v order="ipcfs ipcfs-spin ipcfs-bcast zmq vllm-zmq mpi-tcp ipcfs-alone ipcfs-paced ipcfs-nodes" "$bench_awk_jnum"'
	function jstr(line, key) {
		if (!match(line, "\"" key "\":\"[^\"]*\""))
			return ""
		return substr(line, RSTART + length(key) + 4, RLENGTH - length(key) - 5)
	}
	function human(b) {
		if (b >= 1048576 && b % 1048576 == 0) return (b / 1048576) "MiB"
		if (b >= 1024 && b % 1024 == 0) return (b / 1024) "KiB"
		return b "B"
	}
	# The median of the n[k] values v[k, 1..n[k]].
	function median(v, k, n,    a, i, j, t, m) {
		m = n[k]
		for (i = 1; i <= m; i++)
			a[i] = v[k, i]
		for (i = 2; i <= m; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
	}
	{
		sys = jstr($0, "system"); tgt = jstr($0, "target"); size = jnum($0, "size")
		k = tgt SUBSEP size SUBSEP sys
		c = ++n[k]
		v50[k, c] = jnum($0, "p50_us"); v99[k, c] = jnum($0, "p99_us"); vcpu[k, c] = jnum($0, "cpu_ms_per_1k")
		if (!(size in seen)) { seen[size] = 1; sizes[++ns] = size }
	}
	END {
		for (k in n) {
			p50[k] = median(v50, k, n); p99[k] = median(v99, k, n); cpu[k] = median(vcpu, k, n)
		}
		nsys = split(order, systems, " ")
		for (i = 1; i < ns; i++)
			for (j = i + 1; j <= ns; j++)
				if (sizes[j] < sizes[i]) { t = sizes[i]; sizes[i] = sizes[j]; sizes[j] = t }
		fmt = "%-7s %7s %-12s %10s %10s %11s %8s\n"
		printf fmt, "target", "size", "system", "p50_us", "p99_us", "cpu_ms/1k", "p50/zmq"
		split("remote paced local", targets, " ")
		for (ti = 1; ti <= 3; ti++)
			for (i = 1; i <= ns; i++) {
				print ""
				z = targets[ti] SUBSEP sizes[i] SUBSEP "zmq"
				for (s = 1; s <= nsys; s++) {
					k = targets[ti] SUBSEP sizes[i] SUBSEP systems[s]
					if (!(k in p50))
						continue
					r = "-"
					if ((z in p50) && p50[z] > 0)
						r = sprintf("%.2f", p50[k] / p50[z])
					printf fmt, targets[ti], human(sizes[i]), systems[s], sprintf("%.1f", p50[k]),
						sprintf("%.1f", p99[k]), sprintf("%.0f", cpu[k]), r
				}
			}
		print ""
		print "# targets, p50 ratios: remote ipcfs / zmq (aim <= 1.2; ipcfs-spin and paced beside it);"
		print "# local ipcfs-bcast / ipcfs-alone, ipcfs-bcast / ipcfs-paced, ipcfs-nodes / ipcfs-paced (aim: 1)"
		for (i = 1; i <= ns; i++) {
			a = "remote" SUBSEP sizes[i] SUBSEP "ipcfs"; z = "remote" SUBSEP sizes[i] SUBSEP "zmq"
			as = "remote" SUBSEP sizes[i] SUBSEP "ipcfs-spin"
			pa = "paced" SUBSEP sizes[i] SUBSEP "ipcfs"; pz = "paced" SUBSEP sizes[i] SUBSEP "zmq"
			l = "local" SUBSEP sizes[i] SUBSEP "ipcfs-bcast"; m = "local" SUBSEP sizes[i] SUBSEP "ipcfs-alone"
			q = "local" SUBSEP sizes[i] SUBSEP "ipcfs-paced"
			o = "local" SUBSEP sizes[i] SUBSEP "ipcfs-nodes"
			ra = rs = rp = rl = rq = ro = "-"
			if ((a in p50) && (z in p50) && p50[z] > 0)
				ra = sprintf("%.2fx", p50[a] / p50[z])
			if ((as in p50) && (z in p50) && p50[z] > 0)
				rs = sprintf("%.2fx", p50[as] / p50[z])
			if ((pa in p50) && (pz in p50) && p50[pz] > 0)
				rp = sprintf("%.2fx", p50[pa] / p50[pz])
			if ((l in p50) && (m in p50) && p50[m] > 0)
				rl = sprintf("%.2fx", p50[l] / p50[m])
			if ((l in p50) && (q in p50) && p50[q] > 0)
				rq = sprintf("%.2fx", p50[l] / p50[q])
			if ((o in p50) && (q in p50) && p50[q] > 0)
				ro = sprintf("%.2fx", p50[o] / p50[q])
			printf "%7s  remote %s (spin %s, paced %s)  local %s, %s, %s\n", human(sizes[i]), ra, rs,
				rp, rl, rq, ro
		}
	}' "$jsonl"
	while IFS=$'\t' read -r name reason; do
		echo "FAILED: $name: $reason"
	done <"$tmp/failed"
} | tee "$table"
[ -s "$tmp/failed" ] && exit 1
exit 0
