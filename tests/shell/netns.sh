# tests/shell/netns.sh - two machines simulated on one, for the tests of
# groups spanning nodes (sourced after lib.sh): network namespaces $NA and
# $NB joined by a veth pair (va NET.1 in a, vb NET.2 in b); each node runs
# the test's script $TMP/node.sh in its namespace. Every process in them
# is killed and the namespaces removed at the end (CLEANUP_HOOK).

# Where this file is, for the node scripts to source it too.
NETNS_SH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/netns.sh

# netns_pair TAG NET: make them (skip, 77, where that is not permitted).
netns_pair() {
	[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
	command -v ip >/dev/null 2>&1 || skip "no ip (iproute2)"
	NA=ipcfs-$1a.$$
	NB=ipcfs-$1b.$$
	ip netns add "$NA" 2>/dev/null || skip "cannot create a network namespace"
	CLEANUP_HOOK='for ns in $NA $NB; do for p in $(ip netns pids $ns 2>/dev/null); do kill -9 $p; done 2>/dev/null; ip netns del $ns 2>/dev/null; done'
	ip netns add "$NB" || fail "second namespace"
	ip link add va netns "$NA" type veth peer name vb netns "$NB" || skip "cannot create a veth pair"
	ip -n "$NA" addr add "$2.1/24" dev va && ip -n "$NB" addr add "$2.2/24" dev vb &&
		ip -n "$NA" link set va up && ip -n "$NB" link set vb up &&
		ip -n "$NA" link set lo up && ip -n "$NB" link set lo up || fail "veth setup"
}

# run_nodes SECONDS LINES FILE...: run node.sh as a and as b at once, each
# in its namespace, for at most SECONDS. If either fails: the last LINES
# lines of each FILE (globs, under each node's directory $TMP/a, $TMP/b),
# $TMP copied to $BRIDGE_TEST_KEEP if that is set, and the test fails.
run_nodes() {
	local secs=$1 lines=$2 pa pb ra=0 rb=0 f n g
	shift 2
	ip netns exec "$NA" timeout "$secs" bash "$TMP/node.sh" a &
	pa=$!
	BGPIDS="$BGPIDS $pa"
	ip netns exec "$NB" timeout "$secs" bash "$TMP/node.sh" b &
	pb=$!
	BGPIDS="$BGPIDS $pb"
	wait $pa || ra=$?
	wait $pb || rb=$?
	[ $ra = 0 ] && [ $rb = 0 ] && return 0
	for g in "$@"; do
		for n in a b; do
			for f in "$TMP"/$n/$g; do
				[ -e "$f" ] && { echo "--- $f"; tail -n "$lines" "$f"; }
			done
		done
	done >&2
	[ -n "${BRIDGE_TEST_KEEP:-}" ] && cp -r "$TMP" "$BRIDGE_TEST_KEEP"
	fail "node a exited $ra, node b exited $rb"
}

# In node.sh (which sources this file through $NETNS_SH), as node $1 of
# /dev/shm size $2: its directory $T, a /dev/shm of its own holding its
# state directory $ST (and so its segments, as deployed: not on the disk
# under $TMP), and its ipcfsd on $T/mnt (pid $dpid), mounted when this
# returns. $TMP and $IPCFSD come from the test's environment.
node_start() {
	me=$1
	T=$TMP/$me
	ST=/dev/shm/ipcfs-state
	mkdir -p "$T/mnt"
	# This mount namespace began as a copy of the host's, with every FUSE
	# mount of the tests running beside this one: let go of those copies
	# (ip netns exec made / a slave, so this stays here), or their daemons
	# could not exit after their own unmount until this namespace ends.
	awk '$3 ~ /^fuse/ { print $2 }' /proc/self/mounts | while read -r m; do umount -l "$m" 2>/dev/null; done
	mount -t tmpfs -o size="$2" tmpfs /dev/shm || exit 10
	"$IPCFSD" -f -o statedir="$ST" "$T/mnt" 2>>"$T/daemon.log" &
	dpid=$!
	for i in $(seq 100); do grep -q " $T/mnt fuse" /proc/self/mounts && break; sleep 0.05; done
}

# node_stop: in node.sh, unmount this node's ipcfsd and wait for it to
# exit: 0; 41 if the mount stayed busy for 5 s (who holds it on stderr;
# then unmounted lazily and the daemon stopped by SIGTERM); 40 if the
# daemon exited non-zero or was still there 10 s after its unmount. A plain unmount is retried while EBUSY:
# the group's bridge (the daemon's child) opens files of the mount for a
# moment when a proxy joins or leaves.
node_stop() {
	local i
	for i in $(seq 100); do fusermount3 -u "$T/mnt" 2>/dev/null && break; sleep 0.05; done
	if grep -q " $T/mnt fuse" /proc/self/mounts; then
		{ echo "$me: the mount stays busy:"; ps -eo pid,args | grep '[i]pcfs-bridge'
		  ls -l /proc/[0-9]*/fd /proc/[0-9]*/cwd 2>/dev/null | grep -F "$T/mnt"; } >&2
		# Whoever holds it would keep the daemon serving it: stop it.
		fusermount3 -u -z "$T/mnt"
		kill "$dpid" 2>/dev/null
		wait "$dpid"
		return 41
	fi
	# A child that exited stays a zombie (kill -0 still finds it) until
	# waited for: look at its state.
	for i in $(seq 200); do
		[ "$(awk '{ print $3 }' "/proc/$dpid/stat" 2>/dev/null)" = Z ] && break
		[ -e "/proc/$dpid" ] || break
		sleep 0.05
	done
	if [ -e "/proc/$dpid" ] && [ "$(awk '{ print $3 }' "/proc/$dpid/stat" 2>/dev/null)" != Z ]; then
		echo "$me: ipcfsd (pid $dpid) still runs 10 s after its unmount" >&2
		return 40
	fi
	wait "$dpid" || return 40
}

# In node.sh, once $G (this node's group directory) is set: the bridge's
# pid, whether rank $1 is live, field $2 of rank $1 in members, its state.
bpid() { awk '$1 == "pid" { print $2 }' "$G/bridge"; }
rank_field() { awk -v r="$1" -v k="$2=" '$1 == r { for (i = 2; i <= NF; i++) if (index($i, k) == 1) print substr($i, length(k) + 1) }' "$G/members"; }
state() { rank_field "$1" state; }
live() { [ "$(state "$1")" = live ]; }
# idle_ticks PID: the CPU time (clock ticks, every thread) PID uses in
# the next second.
idle_ticks() {
	local t0 t1
	t0=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
	sleep 1
	t1=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
	echo $((t1 - t0))
}
# await NAME: until the other node (or this one) made $TMP/NAME; exit 12
# after ${AWAIT_S:-20} s.
await() {
	local i
	for i in $(seq $((${AWAIT_S:-20} * 20))); do [ -e "$TMP/$1" ] && return 0; sleep 0.05; done
	echo "timeout waiting for $1" >&2
	exit 12
}
