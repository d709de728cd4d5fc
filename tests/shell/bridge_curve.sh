#!/bin/bash
# CURVE between two machines simulated on one (network namespaces a and b
# joined by a veth pair, 10.9.1.1 and 10.9.1.2, each with its own mount
# namespace, /dev/shm and ipcfsd, as in bridge_netns.sh): with the group's
# keys file naming a directory made by `ipcfs-bridge keygen`, a broadcast
# from a reaches b's ranks and a unicast from b reaches a, once and in
# order. A third party on a's address (a ZeroMQ client without CURVE, and
# one with a key of no node) sends a message as rank 4 of node c (listed,
# not running) to b's rank 2; then the same client with c's key: b's rank
# 2 gets only that one, b's bridge file counts the refused connections,
# its error_log and the log say so. Then a client with c's key (valid: a
# node's) claims a's routing id at b, in the old form (the node's name),
# a's current one read from b's log, and another one of the new form,
# while a sends b a paced stream: the stream arrives whole, once and in
# order, a's connection to b stays the one it was (no reconnects), the
# clients get none of the acks meant for a, and what they send as a is
# dropped.
# Traffic only on the veth pair; bounded in time; skipped (77) without netns.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
export NETNS_SH

case ${SAN:-} in *thread*) skip "SAN=thread: libzmq is not built with ThreadSanitizer" ;; esac
PY=/usr/bin/python3
$PY -c 'import zmq; assert zmq.has("curve")' 2>/dev/null || skip "no python3-zmq with CURVE"
BRIDGE=$BUILD/ipcfs-bridge
IPCFS=$BUILD/ipcfs
[ -x "$BRIDGE" ] || fail "$BRIDGE is not built"
netns_pair c 10.9.1

K=$TMP/keys
for n in a b c; do $BRIDGE keygen "$K" $n > /dev/null || fail "keygen $n"; done
N=500 # broadcast messages
M=100 # unicast messages
P=150 # paced unicasts a -> b while a client claims a's routing id
# The wire header's magic, as this build has it (its layout: intruder.py).
WIRE_MAGIC=$(awk '$2 == "WIRE_MAGIC" { sub("u$", "", $3); print $3 }' "$(dirname "$0")/../../bridge/bridge.h")
export TMP IPCFSD BRIDGE IPCFS MEMBER N M P K PY WIRE_MAGIC
export IPCFS_BRIDGE=$BRIDGE

# The third party: a DEALER calling itself node c (no CURVE, a key of no
# node, or c's key; a routing id of the bridges' form, NAME#ID) that sends
# one DATA message from rank 4 to rank 2, for a second.
cat > "$TMP/intruder.py" <<'PY'
import os, struct, sys, time, zmq
mode, keydir = sys.argv[1:3]
s = zmq.Context().socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.ROUTING_ID, b"c#intruder.1")
if mode != "plain":
    s.curve_serverkey = open(keydir + "/b.pub").read().strip().encode()
    s.curve_publickey, s.curve_secretkey = zmq.curve_keypair()
if mode == "c":
    s.curve_publickey = open(keydir + "/c.pub").read().strip().encode()
    s.curve_secretkey = open(keydir + "/c.key").read().strip().encode()
s.connect("tcp://10.9.1.2:7100")
body = b"from c\n" if mode == "c" else b"INTRUDER\n"
# struct wire_hdr (bridge/bridge.h): magic, DATA, src 4, epoch, w 1, base 0,
# q 1, dest rank 2, kind 0, ack_src, flags, len, ack_w
hdr = struct.pack("=IHHQQQQQIHHQQ", int(os.environ["WIRE_MAGIC"], 16), 1, 4, 99, 1, 0, 1, 1 << 2, 0, 0, 0, len(body), 0)
for _ in range(10):
    try:
        s.send_multipart([hdr, body], zmq.DONTWAIT)
    except zmq.Again:
        pass
    time.sleep(0.1)
PY

# steal.py ROUTING SECONDS OUT: with c's key (a node's: it passes the
# handshake), a DEALER with routing id ROUTING (node a's) sends DATA as
# a's rank 0 to b's rank 2 every 50 ms for SECONDS, and writes to OUT how
# many messages b sent it (acks meant for a).
cat > "$TMP/steal.py" <<'PY'
import os, struct, sys, time, zmq
routing, secs, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
keydir = os.environ["K"]
s = zmq.Context().socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.ROUTING_ID, routing.encode())
s.curve_serverkey = open(keydir + "/b.pub").read().strip().encode()
s.curve_publickey = open(keydir + "/c.pub").read().strip().encode()
s.curve_secretkey = open(keydir + "/c.key").read().strip().encode()
s.connect("tcp://10.9.1.2:7100")
body = b"INTRUDER\n"
got, w, end = 0, 0, time.monotonic() + secs
while time.monotonic() < end:
    w += 1
    # struct wire_hdr: DATA from rank 0 (a's), w, dest rank 2
    hdr = struct.pack("=IHHQQQQQIHHQQ", int(os.environ["WIRE_MAGIC"], 16), 1, 0, 98, w, 0, w, 1 << 2, 0, 0, 0, len(body), 0)
    try:
        s.send_multipart([hdr, body], zmq.DONTWAIT)
    except zmq.Again:
        pass
    stop = time.monotonic() + 0.05
    while s.poll(max(1, int((stop - time.monotonic()) * 1000)), zmq.POLLIN):
        s.recv_multipart()
        got += 1
        if time.monotonic() >= stop:
            break
open(out, "w").write("%d\n" % got)
PY

cat > "$TMP/node.sh" <<'NODE'
set -u
. "$NETNS_SH"
node_start "$1" 64m
G=$T/mnt/groups/g
# keys before node: the bridge never starts without them.
mkdir "$G" && echo 5 > "$G/ranks" && echo 8 > "$G/slots" &&
	printf 'a tcp://10.9.1.1:7100 0-1\nb tcp://10.9.1.2:7100 2-3\nc tcp://10.9.1.3:7100 4\n' > "$G/nodes" &&
	echo "$K" > "$G/keys" && echo "$me" > "$G/node" || exit 11
for i in $(seq 100); do [ "$(bpid)" != 0 ] && break; sleep 0.05; done
[ "$(bpid)" != 0 ] || exit 13
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
	await a.r1
	seq 1 "$M" | timeout 30 "$IPCFS" send --rank 2 --to 1 "$G" || rc=22
	# The first message to rank 2, from anyone, after the intruders.
	timeout 30 "$IPCFS" recv --rank 2 --count 1 "$G" > "$T/final.out" &
	fin=$!
	for i in $(seq 100); do live 2 && break; sleep 0.05; done
	touch "$TMP/b.final"
	wait $fin || rc=23
	# The paced stream from a, while a client claims a's routing id.
	timeout 60 "$IPCFS" recv --rank 2 --from 0 --count "$P" "$G" > "$T/paced.out" &
	pr=$!
	for i in $(seq 100); do live 2 && break; sleep 0.05; done
	grep -c "node a connects as" "$T/daemon.log" > "$T/conn.before"
	touch "$TMP/b.paced"
	wait $pr || rc=24
	grep -c "node a connects as" "$T/daemon.log" > "$T/conn.after"
	cp "$G/bridge" "$T/bridge"
	cp "$G/error_log" "$T/error_log"
	touch "$TMP/b.done"
else
	await b.joined
	"$MEMBER" -n "$N" -w 2,3 -t 20000 "$G" 0 send > /dev/null || rc=30
	timeout 30 "$IPCFS" recv --rank 1 --from 2 --count "$M" "$G" > "$T/u1.out" &
	u1=$!
	for i in $(seq 100); do live 1 && break; sleep 0.05; done
	touch "$TMP/a.r1"
	wait $u1 || rc=32
	await b.final
	timeout 20 "$PY" "$TMP/intruder.py" plain "$K" || rc=33
	timeout 20 "$PY" "$TMP/intruder.py" unknown "$K" || rc=34
	timeout 20 "$PY" "$TMP/intruder.py" c "$K" || rc=35
	await b.paced
	# a's routing id at b, as b's log names it (the old form if none).
	aid=$(sed -n 's/.*node a connects as \([^ ]*\).*/\1/p' "$TMP/b/daemon.log" | tail -n 1)
	timeout 20 "$PY" "$TMP/steal.py" a 4 "$T/steal_old.out" &
	s1=$!
	timeout 20 "$PY" "$TMP/steal.py" "${aid:-a#1}" 4 "$T/steal_new.out" &
	s2=$!
	timeout 20 "$PY" "$TMP/steal.py" "a#2.0000000000000000" 4 "$T/steal_next.out" &
	s3=$!
	sleep 0.3
	for i in $(seq "$P"); do echo "p $i"; sleep 0.02; done |
		timeout 60 "$IPCFS" send --rank 0 --to 2 "$G" || rc=36
	wait $s1 || rc=37
	wait $s2 || rc=38
	wait $s3 || rc=39
	await b.done
fi
node_stop || rc=$?
exit $rc
NODE

run_nodes 90 8 "*.log" "*.out"

for n in a b; do
	grep -q "CURVE: connections authenticated with the keys of 3 nodes" "$TMP/$n/daemon.log" ||
		fail "node $n's bridge did not use CURVE"
done
want=$(seq 0 $((N - 1)) | sed 's/^/0: msg /')
for f in b/r2 b/r3; do
	expect_eq "$(grep -v '^joined' "$TMP/$f.out")" "$want" "$f: every broadcast once, in order"
done
expect_eq "$(cat "$TMP/a/u1.out")" "$(seq 1 "$M")" "unicast b -> a"
ok "with CURVE: $N broadcasts a -> b and $M unicasts b -> a, once and in order"

expect_eq "$(cat "$TMP/b/final.out")" "from c" "rank 2's first message: from c's key, none before it"
refused=$(awk '$1 == "auth" && $2 == "curve" { sub("refused=", "", $3); print $3 }' "$TMP/b/bridge")
[ "${refused:-0}" -ge 2 ] || fail "b's bridge file: ${refused:-no} refused, want >= 2: $(cat "$TMP/b/bridge")"
grep -q "bridge: .*connection(s) refused: not a node's key, or no CURVE" "$TMP/b/error_log" ||
	fail "b's error_log: $(cat "$TMP/b/error_log")"
grep -q "refused a connection from 10.9.1.1: its public key is not one of the nodes'" "$TMP/b/daemon.log" ||
	fail "b's log does not name the peer with a key of no node"
grep -q "refused a connection: its handshake failed" "$TMP/b/daemon.log" ||
	fail "b's log does not say a peer had no CURVE"
ok "a third party without CURVE or with a key of no node: nothing through (with c's key: through), refusals in bridge, error_log and log"

expect_eq "$(cat "$TMP/b/paced.out")" "$(seq 1 "$P" | sed 's/^/p /')" \
	"paced a -> b while c's key claims a's routing id: once, in order, nothing else"
for f in steal_old steal_new steal_next; do
	expect_eq "$(cat "$TMP/a/$f.out")" 0 "$f: messages b sent to the client claiming a's routing id"
done
expect_eq "$(cat "$TMP/b/conn.after")" "$(cat "$TMP/b/conn.before")" \
	"b's log: a's connections (node a connects as) before and after the claims"
grep -q "dropped a message with a bad routing id a " "$TMP/b/daemon.log" ||
	fail "b's log does not say it dropped the old-form routing id a"
grep -q "dropped a message that says it is from node a, sent with the key of c" "$TMP/b/daemon.log" ||
	fail "b's log does not say it dropped c's key claiming node a"
ok "c's key claiming a's routing id (old form, current, another): a's stream undisturbed, the clients dropped"

for n in a b; do
	if grep -a -q "AddressSanitizer\|LeakSanitizer\|runtime error" "$TMP/$n/daemon.log"; then
		grep -a -m1 -A20 "Sanitizer\|runtime error" "$TMP/$n/daemon.log" >&2
		fail "a sanitizer report in node $n's log"
	fi
	grep -a "bridge (pid [0-9]*) \(exited with\|stopped with status\)" "$TMP/$n/daemon.log" >&2 &&
		fail "a bridge of node $n ended on its own"
done
ok "no sanitizer report, no bridge ended on its own"
