#!/bin/bash
# The keys file of a group spanning machines (CURVE): `ipcfs-bridge keygen`
# writes key pairs 0600; a key directory is refused with its errno and a
# line in error_log when it or a key file is readable or writable by
# others, a symbolic link, garbage or missing, and nothing changes; keys
# survive a restart of the daemon; keys that went bad after the write keep
# the bridge from starting (never unauthenticated), and the bridge refuses
# them on its own too. With good keys the bridge (listening on loopback)
# lets in a client with a node's key only: a client without CURVE, one
# with a key of no node, and one with node c's key claiming to be node a
# get nothing through, and the bridge file and error_log say so.
. "$(dirname "$0")/lib.sh"

BRIDGE=$BUILD/ipcfs-bridge
PY=/usr/bin/python3
[ -x "$BRIDGE" ] || fail "$BRIDGE is not built"
$PY -c 'import zmq; assert zmq.has("curve")' 2>/dev/null || skip "no python3-zmq with CURVE"
export IPCFS_BRIDGE=$BRIDGE

K=$TMP/keys
for n in a b c; do
	$BRIDGE keygen "$K" $n > "$TMP/$n.printed" || fail "keygen $n"
done
expect_eq "$(stat -c %a "$K")" 700 "keygen made the directory 0700"
expect_eq "$(stat -c %a "$K/b.key") $(stat -c %a "$K/b.pub")" "600 600" "key files are 0600"
expect_eq "$(cat "$TMP/b.printed")" "$(cat "$K/b.pub")" "keygen prints the public key"
[ "$(wc -c < "$K/b.key")" = 41 ] || fail "b.key is not 40 characters and a newline"
cp "$K/b.key" "$TMP/b.key.orig"
expect_fail 1 "File exists" $BRIDGE keygen "$K" b
cmp -s "$K/b.key" "$TMP/b.key.orig" || fail "keygen replaced an existing key"
expect_fail 1 "node name" $BRIDGE keygen "$K" "a/b"
ok "ipcfs-bridge keygen writes NAME.key and NAME.pub 0600, never over a key"

start_daemon
A=$MNT/groups/g
mkdir "$A"
echo 3 > "$A/ranks"
expect_eq "$(cat "$A/keys")" "" "keys unset by default"
expect_eq "$(stat -c %a "$A/keys")" 660 "keys mode follows mode"
# Node b is this machine, on loopback; a and c cannot be reached.
PORT=$((20000 + $$ % 20000))
printf 'a tcp://198.51.100.1:7100 0\nb tcp://127.0.0.1:%s 1\nc tcp://198.51.100.3:7100 2\n' $PORT > "$A/nodes" ||
	fail "write nodes"

before=$(lines "$A/error_log")
expect_write "$A/keys" "keys" EINVAL
expect_write "$A/keys" "$K/../keys" EINVAL
expect_write "$A/keys" "$TMP/none" ENOENT
chmod 755 "$K"
expect_write "$A/keys" "$K" EACCES
chmod 700 "$K"
ln -s "$K" "$TMP/keylink"
expect_write "$A/keys" "$TMP/keylink" ELOOP
chmod 644 "$K/a.pub"
expect_write "$A/keys" "$K" EACCES
chmod 600 "$K/a.pub"
mv "$K/c.pub" "$TMP/c.pub"
ln -s "$TMP/c.pub" "$K/c.pub"
expect_write "$A/keys" "$K" ELOOP
rm "$K/c.pub"
expect_write "$A/keys" "$K" ENOENT
echo "not a key" > "$K/c.pub"
chmod 600 "$K/c.pub"
expect_write "$A/keys" "$K" EINVAL
mv "$TMP/c.pub" "$K/c.pub"
expect_eq "$(cat "$A/keys")" "" "keys unchanged by bad writes"
expect_eq "$(( $(lines "$A/error_log") - before ))" 9 "one error_log line per bad write"
grep -q "keys: .*keys directory has mode 0755: others may read or write it" "$A/error_log" ||
	fail "error_log says why the directory is refused: $(cat "$A/error_log")"
grep -q "keys: .*a.pub has mode 0644" "$A/error_log" || fail "error_log names the file"
grep -q "keys: .*c.pub: a symbolic link" "$A/error_log" || fail "error_log says symbolic link"
grep -q "keys: .*c.pub: not a key" "$A/error_log" || fail "error_log says not a key"
ok "bad key directories and files refused with their errno and a reason, nothing changed"

echo "$K" > "$A/keys" || fail "write keys"
expect_eq "$(cat "$A/keys")" "$K" "keys read back"
echo b > "$A/node" || fail "write node"
# The secret key is checked once node names this machine.
chmod 640 "$K/b.key"
echo "$K" > "$A/keys" 2>/dev/null && fail "keys with b.key 0640 accepted"
grep -q "b.key has mode 0640" "$A/error_log" || fail "error_log: b.key 0640"
# Gone bad after the write: the daemon does not start the bridge.
sleep 1
grep -q "^keys_error .*b.key has mode 0640" "$A/bridge" || fail "bridge file: $(cat "$A/bridge")"
expect_eq "$(kv "$A/bridge" starts)" 0 "a bridge started with bad keys"
# And the bridge itself refuses them.
expect_fail 1 "b.key has mode 0640: others may read or write it (chmod go-rw): refusing to run unauthenticated" \
	$BRIDGE "$A"
chmod 600 "$K/b.key"
cp "$K/b.key" "$TMP/b.key.good"
cp "$K/a.key" "$K/b.key"
expect_fail 1 "b.key is not the secret key of b.pub" $BRIDGE "$A"
cp "$TMP/b.key.good" "$K/b.key"
ok "keys gone bad after the write: no bridge started, and the bridge refuses them too"

wait_until 10 'grep -q "^state running" "$A/bridge"' || fail "bridge not started with good keys: $(cat "$A/bridge")"
starts=$(kv "$A/bridge" starts)
wait_until 5 'grep -q "^auth curve refused=0" "$A/bridge"' || fail "bridge file has no auth line: $(cat "$A/bridge")"
grep -q "CURVE: connections authenticated with the keys of 3 nodes" "$LOG" || fail "no CURVE line in the log"

# A client of the bridge's port: a DEALER with routing id ROUTING (of the bridges'
# form NAME#ID, bridge/net.c), then heartbeats that
# say ranks 0-2 are live on node a, for a second.
cat > "$TMP/client.py" <<'PY'
import os, struct, sys, time, zmq
addr, mode, keydir, routing = sys.argv[1:5]
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.ROUTING_ID, routing.encode())
if mode != "plain":
    s.curve_serverkey = open(keydir + "/b.pub").read().strip().encode()
    if mode == "unknown":
        pub, sec = zmq.curve_keypair()
    else:
        pub = open(keydir + "/" + mode + ".pub").read().strip().encode()
        sec = open(keydir + "/" + mode + ".key").read().strip().encode()
    s.curve_publickey, s.curve_secretkey = pub, sec
s.connect(addr)
# struct wire_hdr (bridge/bridge.h): magic, type HB, src, epoch, w, base,
# q (dead ranks), dest (live ranks), kind, ack_src, flags, len, ack_w
hb = struct.pack("=IHHQQQQQIHHQQ", int(os.environ["WIRE_MAGIC"], 16), 3, 0, 7, 0, 0, 0, 0x7, 0, 0, 0, 0, 0)
for _ in range(10):
    try:
        s.send(hb, zmq.DONTWAIT)
    except zmq.Again:
        pass
    time.sleep(0.1)
PY
# The wire header's magic, as this build has it (its layout: above).
WIRE_MAGIC=$(awk '$2 == "WIRE_MAGIC" { sub("u$", "", $3); print $3 }' "$(dirname "$0")/../../bridge/bridge.h")
export WIRE_MAGIC
client() { timeout 20 $PY "$TMP/client.py" "tcp://127.0.0.1:$PORT" "$@"; }
up() { awk -v n="$1" '$1 == "node" && $2 == n { print $3 }' "$A/bridge"; }
live0() { awk '$1 == 0 && / state=live/' "$A/members" | grep -q .; }
before=$(lines "$A/error_log")
client plain "$K" "a#1" || fail "client without CURVE"
client unknown "$K" "a#1" || fail "client with an unknown key"
client c "$K" "a#1" || fail "client with c's key claiming a"
sleep 0.6
live0 && fail "rank 0 joined through a client that is not node a"
[ "$(up a)" != "up=1" ] || fail "node a up after clients that are not a: $(cat "$A/bridge")"
refused=$(awk '$1 == "auth" { sub("refused=", "", $3); print $3 }' "$A/bridge")
[ "$refused" -ge 2 ] || fail "bridge file: $refused refused, want >= 2: $(cat "$A/bridge")"
[ "$(lines "$A/error_log")" -gt "$before" ] || fail "no error_log line for the refusals"
grep -q "bridge: .*connection(s) refused: not a node's key, or no CURVE" "$A/error_log" ||
	fail "error_log: $(tail -n 3 "$A/error_log")"
grep -q "refused a connection from 127.0.0.1: its public key is not one of the nodes'" "$LOG" ||
	fail "the log does not say which peer was refused"
grep -q "refused a connection: its handshake failed" "$LOG" || fail "no log of the client without CURVE"
grep -q "dropped a message that says it is from node a, sent with the key of c" "$LOG" ||
	fail "no log of c's key claiming node a"
ok "no CURVE, a key of no node, another node's key: nothing through, bridge file, error_log and log say so"

# Node a's own key: its heartbeats get through (rank 0 joins as a proxy).
client a "$K" "a#1"
live0 || wait_until 5 live0 || fail "rank 0 did not join with node a's key: $(cat "$A/members")"
ok "a client with node a's key gets through"

# A new keys value restarts the bridge (which must not go on with the old).
cp -a "$K" "$TMP/keys2"
echo "$TMP/keys2" > "$A/keys" || fail "write keys2"
wait_until 10 '[ "$(kv "$A/bridge" starts)" -gt "$starts" ] && grep -q "^state running" "$A/bridge"' ||
	fail "bridge not restarted after keys changed: $(cat "$A/bridge")"
ok "a change of keys restarts the bridge"

stop_daemon
start_daemon
expect_eq "$(cat "$A/keys")" "$TMP/keys2" "keys after a restart"
printf "\n" > "$A/keys" || fail "clear keys"
expect_eq "$(cat "$A/keys")" "" "keys cleared"
ok "kept across a restart, cleared by an empty line"

# The bridges are the daemon's children: what a sanitizer found in them is
# in its log. (ThreadSanitizer is left out: libzmq is not built with it.)
if grep -a -q "AddressSanitizer\|LeakSanitizer\|runtime error" "$LOG"; then
	grep -a -m1 -A20 "Sanitizer\|runtime error" "$LOG" >&2
	fail "a sanitizer report in the daemon's log"
fi
