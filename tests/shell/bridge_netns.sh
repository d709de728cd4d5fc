#!/bin/bash
# Two machines simulated on one: network namespaces a and b joined by a
# veth pair (10.9.0.1, 10.9.0.2), each with its own mount namespace, its
# own /dev/shm and ipcfsd, which starts ipcfs-bridge once nodes and node
# are written. A group of 4 ranks, 0-1 on a and 2-3 on b: a broadcast
# from rank 0 reaches the local rank 1 and the remote ranks 2 and 3
# exactly once and in order, with back-pressure (a ring of 8 slots,
# thousands of messages); unicast from b to a; a payload of 3 MiB through
# both arenas arrives whole; members shows each rank's node, bridge and
# stat the counters per remote node; a bridge killed with SIGKILL is
# restarted by its daemon and carries messages again; a partition with
# 12 MiB queued in ZeroMQ neither crashes the bridge (views it sent from
# were unmapped) nor delivers bytes of reused blocks; rmdir of the group
# while only remote ranks are live stops the bridge and succeeds. Traffic
# only on the veth pair; everything bounded in time; skipped (77) without netns.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
export NETNS_SH

# ZeroMQ (Debian's libzmq, not instrumented) hands messages and their
# memory between its threads and ours through its own lock-free queues,
# which ThreadSanitizer cannot see: it would report races that are not.
case ${SAN:-} in *thread*) skip "SAN=thread: libzmq is not built with ThreadSanitizer" ;; esac
BRIDGE=$BUILD/ipcfs-bridge
IPCFS=$BUILD/ipcfs
[ -x "$BRIDGE" ] || fail "$BRIDGE is not built"
netns_pair "" 10.9.0

N=3000          # broadcast messages
M=500           # unicast messages
head -c $((3 << 20)) /dev/urandom > "$TMP/big.bin"
for i in $(seq 16); do printf garbage; head -c $((1 << 20)) /dev/zero | tr '\0' x; echo; done > "$TMP/garbage.txt"
BRIDGE_FAULT=$BUILD/tests/ipcfs-bridge-fault
[ -x "$BRIDGE_FAULT" ] || fail "$BRIDGE_FAULT is not built"
export TMP IPCFSD BRIDGE BRIDGE_FAULT IPCFS MEMBER N M
export IPCFS_BRIDGE=$BRIDGE

# One node, run inside its namespaces: daemon, group, bridge, its part.
cat > "$TMP/node.sh" <<'NODE'
set -u
. "$NETNS_SH"
# b's bridge is the build with death points: held right after a delivery
# while $TMP/gate exists.
if [ "$1" = b ]; then
	export IPCFS_BRIDGE=$BRIDGE_FAULT IPCFS_FAULT_GATE=bridge_delivered:$TMP/gate
fi
node_start "$1" 128m
G=$T/mnt/groups/g
mkdir "$G" && echo 4 > "$G/ranks" && echo 8 > "$G/slots" && echo 16M > "$G/arena_bytes" &&
	echo 1500 > "$G/node_timeout_ms" &&
	printf 'a tcp://10.9.0.1:7100 0-1\nb tcp://10.9.0.2:7100 2-3\n' > "$G/nodes" &&
	echo "$me" > "$G/node" || exit 11
for i in $(seq 100); do [ "$(bpid)" != 0 ] && break; sleep 0.05; done
bpid=$(bpid)
[ "$bpid" != 0 ] || exit 13
rc=0
if [ "$me" = b ]; then
	"$MEMBER" -n "$N" -s 0 -t 20000 "$G" 2 recv > "$T/r2.out" &
	r2=$!
	"$MEMBER" -n "$N" -s 0 -t 20000 "$G" 3 recv > "$T/r3.out" &
	r3=$!
	for i in $(seq 100); do live 2 && live 3 && break; sleep 0.05; done
	touch "$TMP/b.joined"
	wait $r2 || rc=20
	wait $r3 || rc=21
	# The broadcast made our network thread and a's proxies poll
	# (bridge.h, struct flow). Idle now, with ranks live on both sides
	# (a holds rank 1 and has a proxy of our rank 2), they must sleep.
	"$MEMBER" -t 20000 "$G" 2 hold > /dev/null &
	h2=$!
	for i in $(seq 100); do live 2 && break; sleep 0.05; done
	touch "$TMP/b.idle"
	idle_ticks "$bpid" > "$T/idle.ticks"
	await a.idle
	kill $h2
	wait $h2
	# Unicast to a's rank 1 once it is there.
	await a.r1
	seq 1 "$M" | timeout 30 "$IPCFS" send --rank 2 --to 1 "$G" || rc=22
	# A large payload from a's rank 0 to our rank 3.
	timeout 30 "$IPCFS" recv --rank 3 --from 0 --count 1 --raw "$G" > "$T/big.out" &
	big=$!
	for i in $(seq 100); do live 3 && break; sleep 0.05; done
	touch "$TMP/b.r3"
	wait $big || rc=23
	touch "$TMP/b.big"
	# After a's bridge was killed and restarted: another broadcast (the
	# proxy of a's rank 0 that sent the payload gone first, or -w 0
	# would see it and recv end with EPIPE when it goes).
	for i in $(seq 100); do live 0 || break; sleep 0.05; done
	"$MEMBER" -n 100 -s 0 -w 0 -t 20000 "$G" 2 recv > "$T/k2.out" &
	k2=$!
	for i in $(seq 100); do live 2 && break; sleep 0.05; done
	touch "$TMP/b.k2"
	wait $k2 || rc=24
	cp "$G/members" "$T/members"
	cp "$G/stat" "$T/stat"
	cp "$G/bridge" "$T/bridge"
	# A remote process killed: a's reader of rank 3 gets EPIPE.
	"$MEMBER" -t 20000 "$G" 3 hold > /dev/null &
	h3=$!
	for i in $(seq 100); do live 3 && break; sleep 0.05; done
	touch "$TMP/b.h3"
	await a.d1
	kill -9 $h3
	wait $h3
	# A partition: rank 2 waits for a's rank 0; the link goes down for
	# longer than the node timeout, then up; a's reader of rank 2 got
	# EPIPE meanwhile, and after it a's rank 0 reaches our rank 2.
	# (the proxy of a's earlier rank 0 gone first: -w 0 waits for the next)
	for i in $(seq 100); do live 0 || break; sleep 0.05; done
	"$MEMBER" -n 50 -s 0 -w 0 -t 40000 "$G" 2 recv > "$T/p2.out" &
	p2=$!
	for i in $(seq 100); do live 2 && break; sleep 0.05; done
	touch "$TMP/b.p2"
	await a.p1
	ip link set vb down
	await a.part
	ip link set vb up
	wait $p2 || rc=25
	# Messages queued in a's ZeroMQ when the link went down: rank 2
	# reads from any sender (rank 3 holds: one stays live) until "end",
	# through a partition long enough for a's proxies to leave.
	"$MEMBER" -t 60000 "$G" 3 hold > /dev/null &
	h3q=$!
	"$MEMBER" -e -n 1000 -t 40000 "$G" 2 recv > "$T/q2.out" 2>&1 &
	q2=$!
	for i in $(seq 100); do live 2 && live 3 && break; sleep 0.05; done
	touch "$TMP/b.q2"
	wait $q2
	kill $h3q
	wait $h3q
	# Our bridge killed right after it delivered a message, before it
	# recorded or acked it: the reader of a's rank 0 gets EPIPE there
	# (that proxy died), then the rest; none twice.
	"$MEMBER" -c -e -s 0 -n 1000 -t 30000 "$G" 2 recv > "$T/x2.out" 2>&1 &
	x2=$!
	for i in $(seq 100); do live 2 && break; sleep 0.05; done
	touch "$TMP/b.x2"
	got() { for i in $(seq 200); do [ "$(grep -c '^0: msg' "$T/x2.out")" -ge "$1" ] && return 0; sleep 0.05; done; return 1; }
	got 10 || rc=26
	touch "$TMP/gate"
	touch "$TMP/b.gate"
	got 11 || rc=27
	kill -9 "$(bpid)"
	rm -f "$TMP/gate"
	touch "$TMP/b.killed"
	wait $x2 || rc=28
	# A reader that waits for a's rank 1 before it reads while a's rank 0
	# has filled our ring: the news that rank 1 is live must not wait
	# behind those messages.
	"$MEMBER" -w 1 -s 0 -n 20 -t 20000 "$G" 2 recv > "$T/z2.out" 2>&1 &
	z2=$!
	for i in $(seq 100); do live 2 && break; sleep 0.05; done
	touch "$TMP/b.z2"
	wait $z2 || rc=60
	# A rank that joins, sends one message and leaves, most often between
	# two heartbeats (200 ms): its proxy on a joined for the message, and
	# must leave. Three times: one run seen by a heartbeat hides it.
	for k in 1 2 3; do
		await a.y1.$k
		"$MEMBER" -n 1 -d 1 -w 1 -t 20000 "$G" 3 send > /dev/null || rc=29
		touch "$TMP/b.y3.$k"
		await a.y3.$k
	done
	# Any to any: every rank broadcasts to the three others at once.
	await a.a2a
	"$MEMBER" -w 0,1,2,3 -n 300 -b 100000 -t 30000 "$G" 2 a2a > "$T/a2a2.out" 2>&1 &
	p2=$!
	"$MEMBER" -w 0,1,2,3 -n 300 -b 100000 -t 30000 "$G" 3 a2a > "$T/a2a3.out" 2>&1 &
	p3=$!
	wait $p2 || rc=62
	wait $p3 || rc=63
	touch "$TMP/b.done"
	# Our rank 3 live while a removes the group: only a's proxy of it
	# is live there.
	"$MEMBER" -t 20000 "$G" 3 hold > /dev/null &
	h3=$!
	for i in $(seq 100); do live 3 && break; sleep 0.05; done
	touch "$TMP/b.h3b"
	await a.done
	kill $h3
	wait $h3
else
	await b.joined
	"$MEMBER" -n "$N" -s 0 -t 20000 "$G" 1 recv > "$T/r1.out" &
	r1=$!
	for i in $(seq 100); do live 1 && break; sleep 0.05; done
	"$MEMBER" -n "$N" -w 0,1,2,3 -t 20000 "$G" 0 send > "$T/s0.out" || rc=30
	wait $r1 || rc=31
	# Idle after the broadcast: see b.
	"$MEMBER" -t 20000 "$G" 1 hold > /dev/null &
	h1=$!
	await b.idle
	for i in $(seq 100); do live 1 && live 2 && break; sleep 0.05; done
	idle_ticks "$bpid" > "$T/idle.ticks"
	touch "$TMP/a.idle"
	kill $h1
	wait $h1
	awk '$1 == 0 { for (i = 2; i <= NF; i++) if ($i ~ /^stalls=/) print substr($i, 8) }' "$G/members" > "$T/stalls"
	timeout 30 "$IPCFS" recv --rank 1 --from 2 --count "$M" "$G" > "$T/u1.out" &
	u1=$!
	for i in $(seq 100); do live 1 && break; sleep 0.05; done
	touch "$TMP/a.r1"
	wait $u1 || rc=32
	await b.r3
	timeout 30 "$IPCFS" send --rank 0 --to 3 --whole "$G" "$TMP/big.bin" || rc=33
	# Kill our bridge (once it carried the payload): the daemon starts
	# another, which joins again.
	await b.big
	kill -9 "$bpid"
	# One read of the file per look: the pid judged is the pid kept.
	for i in $(seq 200); do
		p=$(bpid)
		[ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$bpid" ] && break
		sleep 0.05
	done
	[ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$bpid" ] || rc=34
	bpid=$p
	echo "$bpid" > "$T/newpid"
	await b.k2
	for i in $(seq 100); do live 2 && break; sleep 0.05; done
	"$MEMBER" -n 100 -w 0,2 -t 20000 "$G" 0 send > /dev/null || rc=35
	cp "$G/bridge" "$T/bridge"
	await b.h3
	for i in $(seq 100); do live 3 && break; sleep 0.05; done
	"$MEMBER" -n 1 -s 3 -t 20000 "$G" 1 recv > "$T/d1.out" &
	d1=$!
	for i in $(seq 100); do live 1 && break; sleep 0.05; done
	touch "$TMP/a.d1"
	wait $d1
	for i in $(seq 100); do [ "$(state 3)" != live ] && break; sleep 0.05; done
	state 3 > "$T/d1.state"
	await b.p2
	for i in $(seq 100); do live 2 && break; sleep 0.05; done
	"$MEMBER" -n 1 -s 2 -t 30000 "$G" 1 recv > "$T/p1.out" &
	p1=$!
	for i in $(seq 100); do live 1 && break; sleep 0.05; done
	touch "$TMP/a.p1"
	wait $p1
	for i in $(seq 100); do [ "$(state 2)" != live ] && break; sleep 0.05; done
	state 2 > "$T/p1.state"
	touch "$TMP/a.part"
	"$MEMBER" -n 50 -w 0,2 -t 30000 "$G" 0 send > /dev/null || rc=36
	# 12 MiB to b's ranks 2 and 3 with the link down: more than TCP buffers,
	# the rest stays queued in ZeroMQ, read from our arena in place.
	# Once b is declared silent and the proxies left, those blocks are
	# taken again by other messages; whatever reaches b's rank 2 after
	# the link is back must still be what was sent to it.
	await b.q2
	for i in $(seq 100); do live 2 && live 3 && break; sleep 0.05; done
	silent=$(grep -c "node b silent" "$T/daemon.log")
	ip link set va down
	# (it stops with ENOTCONN once the proxies left, if not before)
	"$MEMBER" -n 12 -b 1048576 -t 10000 "$G" 0 send > "$T/q0.out" 2>&1 ||
		grep -q '^ENOTCONN: send' "$T/q0.out" || rc=44
	for i in $(seq 200); do [ "$(grep -c "node b silent" "$T/daemon.log")" -gt "$silent" ] && break; sleep 0.05; done
	for i in $(seq 200); do live 2 || live 3 || break; sleep 0.05; done
	"$MEMBER" -n 16 -s 0 -w 0 -t 20000 "$G" 1 recv > /dev/null 2> "$T/g1.err" &
	g1=$!
	timeout 20 "$IPCFS" send --rank 0 --to 1 "$G" "$TMP/garbage.txt" || rc=45
	wait $g1 || rc=46
	ip link set va up
	echo end | timeout 30 "$IPCFS" send --rank 0 --to 2 -W 20000 "$G" || rc=47
	# One sender for the restart of b's bridge (see b).
	await b.x2
	for i in $(seq 100); do live 2 && break; sleep 0.05; done
	mkfifo "$T/x0.in"
	timeout 60 "$IPCFS" send --rank 0 --to 2 -W 20000 "$G" < "$T/x0.in" 2> "$T/x0.err" &
	x0=$!
	exec 7> "$T/x0.in"
	# (in a subshell: a sender that ended early kills that with SIGPIPE,
	# not this script; its x0.err says why)
	feed() { (echo "$1" >&7) || rc=48; }
	for i in $(seq 0 9); do feed "msg $i"; done
	await b.gate
	# (b's reader has ten messages: this proxy of its rank 2 carried them)
	j2=$(rank_field 2 joins)
	feed "msg 10"
	await b.killed
	# b's new bridge says it restarted: our proxy of its rank 2 ends and
	# joins again. Judged by its joins, not by seeing it not live: that
	# can be shorter than one look, or come later than five seconds.
	for i in $(seq 400); do
		[ "$(rank_field 2 joins)" -gt "$j2" ] && live 2 && break
		sleep 0.05
	done
	[ "$(rank_field 2 joins)" -gt "$j2" ] || rc=66
	for i in $(seq 11 19); do feed "msg $i"; done
	feed end
	exec 7>&-
	wait $x0 || rc=48
	await b.z2
	for i in $(seq 100); do live 2 && break; sleep 0.05; done
	"$MEMBER" -n 20 -d 2 -t 20000 "$G" 0 send > /dev/null &
	z0=$!
	sleep 1
	"$MEMBER" -t 30000 "$G" 1 hold > /dev/null &
	z1=$!
	wait $z0 || rc=61
	kill $z1
	wait $z1
	for k in 1 2 3; do
		"$MEMBER" -n 1 -w 3 -s 3 -t 20000 "$G" 1 recv > "$T/y1.out" 2>&1 &
		y1=$!
		for i in $(seq 100); do live 1 && break; sleep 0.05; done
		touch "$TMP/a.y1.$k"
		wait $y1 || rc=51
		await b.y3.$k
		for i in $(seq 40); do live 3 || break; sleep 0.05; done
		live 3 && rc=52
		touch "$TMP/a.y3.$k"
	done
	touch "$TMP/a.a2a"
	"$MEMBER" -w 0,1,2,3 -n 300 -b 100000 -t 30000 "$G" 0 a2a > "$T/a2a0.out" 2>&1 &
	p0=$!
	"$MEMBER" -w 0,1,2,3 -n 300 -b 100000 -t 30000 "$G" 1 a2a > "$T/a2a1.out" 2>&1 &
	p1=$!
	wait $p0 || rc=64
	wait $p1 || rc=65
	await b.done
	# rmdir: EBUSY while a local member is live (the bridge untouched);
	# with only the proxies of b's ranks live, it stops the bridge and
	# removes the group.
	await b.h3b
	for i in $(seq 100); do live 3 && break; sleep 0.05; done
	live 3 || rc=37
	"$MEMBER" -t 20000 "$G" 1 hold > /dev/null &
	h1=$!
	for i in $(seq 100); do live 1 && break; sleep 0.05; done
	rmdir "$G" 2>/dev/null && rc=38
	[ "$(bpid)" = "$bpid" ] || rc=39
	kill $h1
	wait $h1
	# The bridge's record of what it delivered goes with the group.
	[ -e "$ST/g.seg.bridge" ] || rc=49
	rmdir "$G" 2> "$T/rmdir.err" || rc=42
	[ "$bpid" -gt 0 ] && kill -0 "$bpid" 2>/dev/null && rc=43
	[ -e "$ST/g.seg.bridge" ] && rc=50
	touch "$TMP/a.done"
fi
node_stop || rc=$?
[ "$bpid" -gt 0 ] && kill -0 "$bpid" 2>/dev/null && rc=41 # the daemon stopped its bridge
exit $rc
NODE

run_nodes 120 6 "*.log" "*.out" "*.err"

want=$(seq 0 $((N - 1)) | sed 's/^/0: msg /')
for f in a/r1 b/r2 b/r3; do
	expect_eq "$(cat "$TMP/$f.out" | grep -v '^joined')" "$want" "$f: every broadcast once, in order"
done
ok "broadcast: local rank 1 and remote ranks 2, 3 got $N messages once, in order"
[ "$(cat "$TMP/a/stalls")" -gt 0 ] || fail "the sender never waited for ring space (stalls 0)"
ok "back-pressure: the sender waited for the remote readers (stalls $(cat "$TMP/a/stalls"))"
# A bridge that polled while messages flowed stops when they stop: a
# spinning thread would use most of a second; idle, heartbeats and
# timeouts use a few ticks.
hz=$(getconf CLK_TCK)
for n in a b; do
	[ "$(cat "$TMP/$n/idle.ticks")" -lt $((hz / 4)) ] ||
		fail "node $n's bridge used $(cat "$TMP/$n/idle.ticks") of $hz ticks in an idle second"
done
ok "after the broadcast the bridges are idle ($(cat "$TMP/a/idle.ticks") and $(cat "$TMP/b/idle.ticks") of $hz ticks in a second)"
expect_eq "$(cat "$TMP/a/u1.out")" "$(seq 1 "$M")" "unicast b -> a"
ok "unicast: $M messages from rank 2 (b) to rank 1 (a) once, in order"
cmp -s "$TMP/big.bin" "$TMP/b/big.out" || fail "3 MiB payload differs after the bridge"
ok "a 3 MiB payload through both arenas arrived whole"
expect_eq "$(grep -v '^joined' "$TMP/b/k2.out")" "$(seq 0 99 | sed 's/^/0: msg /')" \
	"after a's bridge was killed and restarted"
grep -q "bridge started (pid $(cat "$TMP/a/newpid"))" "$TMP/a/daemon.log" || fail "no restart in a's log"
grep -q "bridge (pid [0-9]*) killed by signal 9" "$TMP/a/daemon.log" || fail "the kill is not in a's log"
ok "a bridge killed with SIGKILL is restarted by its daemon and carries messages again"
expect_eq "$(grep -v '^joined' "$TMP/a/d1.out")" "EPIPE: recv" "a's reader of b's rank 3 after its process was killed"
expect_eq "$(cat "$TMP/a/d1.state")" dead "a's members: b's rank 3 after its process was killed"
ok "a remote process killed: the reader of its rank gets EPIPE, members says dead"
expect_eq "$(grep -v '^joined' "$TMP/a/p1.out")" "EPIPE: recv" "a's reader of b's rank 2 during a partition"
grep -q "node b silent for \(1[5-9]\|2[0-9]\)[0-9][0-9] ms: down" "$TMP/a/daemon.log" ||
	fail "a did not see b go silent after node_timeout_ms 1500: $(grep silent "$TMP/a/daemon.log")"
expect_eq "$(grep -v '^joined' "$TMP/b/p2.out")" "$(seq 0 49 | sed 's/^/0: msg /')" "after the partition healed"
expect_eq "$(cat "$TMP/a/p1.state")" dead "a's members: b's rank 2 during a partition"
ok "a partition: readers of the silent node's ranks get EPIPE, members says dead; healed, messages flow again"
# What reached b's rank 2 of the 12 messages queued at the partition: in
# order, each once, never another message's bytes; then the last one.
q2=$(grep -v '^joined' "$TMP/b/q2.out")
expect_eq "$(echo "$q2" | tail -n 1)" "0: end" "b's rank 2 after the partition: the last message"
body=$(echo "$q2" | sed '$d')
expect_eq "$(echo "$body" | grep -v '^0: msg [0-9]*$' | head -c 200)" "" "b's rank 2: only what rank 0 sent it"
expect_eq "$(echo "$body" | sort -t' ' -k3,3n | uniq)" "$body" "b's rank 2: in order, each once"
want=$( (seq 0 10; echo EPIPE; seq 11 19) | sed 's/^\([0-9]\)/0: msg \1/'; echo "0: end")
# (what it printed before the first message: the EPIPE of an earlier
# sender of rank 0 gone, when it looked before the new one came)
expect_eq "$(sed '/^0: msg 0$/,$!d' "$TMP/b/x2.out")" "$want" "b's reader of a's rank 0 across a restart of b's bridge"
ok "b's bridge killed after a delivery, before recording or acking it: EPIPE there, then the rest, none twice"
expect_eq "$(grep -c '^0: msg' "$TMP/b/z2.out")" 20 "b's reader waiting for a's rank 1 behind a full ring"
ok "a rank's arrival is not held up behind messages stalled on a full ring"
for r in 0 1 2 3; do
	n=a; [ $r -ge 2 ] && n=b
	expect_eq "$(tail -n 1 "$TMP/$n/a2a$r.out")" "a2a 300 from each of 3" "any to any: rank $r"
done
ok "any to any: four ranks on two nodes broadcast 300 messages each at once (every tenth through the arenas), all received once, in order"
ok "messages queued in ZeroMQ across a partition: $(echo "$body" | grep -c msg) of 12 delivered intact, none with reused bytes"
for r in 0 1 2 3; do
	want=a; [ $r -ge 2 ] && want=b
	expect_eq "$(member_field "$TMP/b/members" $r node)" $want "members: node of rank $r"
done
expect_eq "$(awk '$1 == "state" { print $2 }' "$TMP/b/bridge")" running "bridge file state"
[ "$(kv "$TMP/b/stat" node.a.rx_msgs)" -ge $((N + 1)) ] || fail "stat node.a.rx_msgs: $(cat "$TMP/b/stat")"
[ "$(kv "$TMP/b/stat" node.a.tx_msgs)" -ge "$M" ] || fail "stat node.a.tx_msgs"
expect_eq "$(kv "$TMP/b/stat" node.a.up)" 1 "stat node.a.up"
ok "members shows the node of each rank; bridge and stat the counters per remote node"
# A broadcast crosses the network once per remote node: b received N (+1
# large, +100 after the restart) messages from a for its two ranks, not 2N.
rx=$(kv "$TMP/b/stat" node.a.rx_msgs)
[ "$rx" -lt $((2 * N)) ] || fail "b received $rx messages from a for $N broadcasts to two ranks"
ok "a broadcast to two ranks of b crossed once ($rx messages for $N broadcasts)"
# The bridges are the daemons' children: what a sanitizer found in them is
# in the daemons' logs, and so is an exit that was not asked for.
for n in a b; do
	if grep -a -q "AddressSanitizer\|LeakSanitizer\|runtime error\|ThreadSanitizer" "$TMP/$n/daemon.log"; then
		grep -a -m1 -A20 "Sanitizer\|runtime error" "$TMP/$n/daemon.log" >&2
		[ -n "${BRIDGE_TEST_KEEP:-}" ] && cp -r "$TMP" "$BRIDGE_TEST_KEEP"
		fail "a sanitizer report in node $n's log"
	fi
	grep -a "bridge (pid [0-9]*) \(exited with\|stopped with status\)" "$TMP/$n/daemon.log" >&2 &&
		fail "a bridge of node $n ended on its own"
done
ok "no sanitizer report, no bridge ended on its own"
ok "rmdir: EBUSY with a local member live; with only remote ranks live it stops the bridge and removes the group"
