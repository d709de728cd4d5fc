# SPDX-License-Identifier: MIT
"""A MessageQueue whose readers are on several nodes (issue 15).

The queue is one ipcfs group spanning the nodes: rank 0 is the writer,
ranks 1..L the readers on the writer's node, then the readers of each
remote node. Every node serves the group under the same name in its own
ipcfsd mount, with the same `nodes` file and its own `node` (ipcfs(7));
each daemon runs the group's ipcfs-bridge(8), which makes the ranks of the
other nodes ordinary ranks here. So the writer's enqueue() and a reader's
dequeue() are the same calls as for a local queue.

Span is what a node needs to set up its side: it travels in the handle.
layout() checks the writer's arguments; the rest works on a mount.
"""

import errno
import gc
import os
import re
import socket
import time

from ._native import IpcfsError, IpcfsTimeoutError

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
# How often (s) a bridge tells the others which of its ranks are live
# (ipcfs-bridge(8): every 200 ms), with a margin: before a bridge is
# stopped, a rank that just left is given this long to be reported.
_REPORT_S = 0.5


def default_mount():
    """The mount point, as ipcfs(1) finds it: $IPCFS_MOUNT, else
    $XDG_RUNTIME_DIR/ipcfs, else /run/ipcfs."""
    m = os.environ.get("IPCFS_MOUNT")
    if m:
        return m
    x = os.environ.get("XDG_RUNTIME_DIR")
    return os.path.join(x, "ipcfs") if x else "/run/ipcfs"


def node_name():
    """This node's name among the nodes: $IPCFS_NODE, else the host name
    (its first label)."""
    return os.environ.get("IPCFS_NODE") or socket.gethostname().split(".")[0]


def host_ip():
    """This node's address for the other nodes, as vLLM's get_ip() finds
    it: $IPCFS_HOST_IP, else $VLLM_HOST_IP, else the source address of
    the route to $MASTER_ADDR (torch.distributed's), else of the default
    route (a UDP connect(2): nothing is sent)."""
    ip = os.environ.get("IPCFS_HOST_IP") or os.environ.get("VLLM_HOST_IP")
    if ip:
        return ip
    for target in (os.environ.get("MASTER_ADDR"), "8.8.8.8"):
        if not target:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect((target, 9))
            ip = s.getsockname()[0]
            if not ip.startswith("127."):
                return ip
        except OSError:
            pass
        finally:
            s.close()
    raise _fail(errno.EADDRNOTAVAIL, "cannot tell this node's address for the other nodes "
                "(no route to $MASTER_ADDR nor a default route): set IPCFS_HOST_IP, or "
                "pass connect_ip=")


def format_ranks(ranks):
    """[0, 1, 2, 5] -> "0-2,5" (the RANKS of a nodes line)."""
    out, rs = [], sorted(ranks)
    i = 0
    while i < len(rs):
        j = i
        while j + 1 < len(rs) and rs[j + 1] == rs[j] + 1:
            j += 1
        out.append(str(rs[i]) if i == j else "%d-%d" % (rs[i], rs[j]))
        i = j + 1
    return ",".join(out)


def parse_ranks(text):
    """"0-2,5" -> [0, 1, 2, 5]."""
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def parse_nodes(text):
    """A nodes file -> {name: (address, frozenset of ranks)}."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) == 3 and not f[0].startswith("#"):
            out[f[0]] = (f[1], frozenset(parse_ranks(f[2])))
    return out


def parse_address(addr, port=None, what="address"):
    """"10.0.0.2" or "tcp://10.0.0.2:7100" -> ("10.0.0.2", port); IPv4 only
    (the bridge's addresses are). Without a port: ``port``."""
    a = addr[6:] if addr.startswith("tcp://") else addr
    ip, sep, p = a.rpartition(":")
    if not sep:
        ip, p = a, None
    try:
        ok = len(ip.split(".")) == 4 and socket.inet_aton(ip) is not None
    except OSError:
        ok = False
    if not ok:
        raise ValueError("%s %r: need an IPv4 address, as 10.0.0.2 or tcp://10.0.0.2:7100"
                         % (what, addr))
    if p is not None:
        if not p.isdigit() or not 1 <= int(p) <= 65535:
            raise ValueError("%s %r: the port must be 1..65535" % (what, addr))
        return ip, int(p)
    return ip, port


class Span:
    """Picklable description of a queue's group across nodes.

    group: its name under groups/ of every node's mount; nodes: a list of
    (name, "tcp://ip:port", [group ranks]), the writer's node first;
    params: the group's attributes (ranks, slots, slot_bytes, arena_bytes,
    node_timeout_ms), the same on every node."""

    def __init__(self, group, nodes, params):
        self.group = group
        self.nodes = [(n, a, list(r)) for n, a, r in nodes]
        self.params = dict(params)

    def nodes_text(self):
        return "".join("%s %s %s\n" % (n, a, format_ranks(r)) for n, a, r in self.nodes)

    def node_of(self, grank):
        """(name, ip) of the node that holds group rank ``grank``."""
        for n, a, r in self.nodes:
            if grank in r:
                return n, parse_address(a)[0]
        raise ValueError("group rank %d is on no node of %r" % (grank, self.nodes))

    def create_command(self):
        return "create %s %s\n" % (self.group, " ".join(
            "%s=%s" % (k, v) for k, v in sorted(self.params.items()) if v is not None))

    def __repr__(self):
        return "Span(%r, %r, %r)" % (self.group, self.nodes, self.params)


def layout(n_reader, n_local_reader, local_reader_ranks, remote_nodes, node, address):
    """Check the writer's arguments and place the readers.

    remote_nodes: {name: (address, [reader ranks])} (the ranks as the
    engine numbers its processes); node: the writer's node name; address:
    (ip, port) of the writer's node. Returns (local_reader_ranks,
    remote_reader_ranks, nodes): group rank 1 + i is reader i of
    local_reader_ranks + remote_reader_ranks; nodes as in Span."""
    if not _NAME.match(node or ""):
        raise ValueError("node %r: the writer's node name must be 1..32 of [A-Za-z0-9_.-] "
                         "(pass node=)" % (node,))
    ip, port = address
    remote, seen_addr, nodes_in = [], {(ip, port): node}, []
    for name, spec in remote_nodes.items():
        if not _NAME.match(str(name)) or name == node:
            raise ValueError("remote node %r: names are 1..32 of [A-Za-z0-9_.-], unique, "
                             "and not the writer's node %r" % (name, node))
        try:
            addr, ranks = spec
            ranks = [int(r) for r in ranks]
        except (TypeError, ValueError):
            raise ValueError("remote_nodes[%r] = %r: need (address, [reader ranks])"
                             % (name, spec)) from None
        a = parse_address(addr, port, "remote_nodes[%r] address" % name)
        if a in seen_addr:
            raise ValueError("remote_nodes[%r]: address %s:%d is also node %r's"
                             % (name, a[0], a[1], seen_addr[a]))
        seen_addr[a] = name
        if not ranks or any(r < 0 for r in ranks) or len(set(ranks) | set(remote)) != \
                len(ranks) + len(remote):
            raise ValueError("remote_nodes[%r]: ranks %r must be non-negative, at least one, "
                             "each reader on one node only" % (name, ranks))
        remote.extend(ranks)
        nodes_in.append((name, "tcp://%s:%d" % a, ranks))
    n_local = n_reader - len(remote)
    if n_local < 0 or (n_local_reader is not None and n_local_reader != n_local):
        raise ValueError("n_reader=%d with %d remote readers (remote_nodes) leaves %d local, "
                         "but n_local_reader=%r" % (n_reader, len(remote), n_local,
                                                    n_local_reader))
    if local_reader_ranks is None:
        local, r = [], 0
        while len(local) < n_local:
            if r not in remote:
                local.append(r)
            r += 1
    else:
        local = [int(r) for r in local_reader_ranks]
        if len(local) != n_local or len(set(local)) != n_local or set(local) & set(remote):
            raise ValueError("local_reader_ranks %r: need %d distinct ranks (n_reader minus "
                             "the remote readers), none of them in remote_nodes"
                             % (local_reader_ranks, n_local))
    readers = local + remote
    nodes = [(node, "tcp://%s:%d" % (ip, port), list(range(0, n_local + 1)))]
    nodes += [(n, a, [1 + readers.index(r) for r in rs]) for n, a, rs in nodes_in]
    return local, remote, nodes


# ---- on a mount ----------------------------------------------------------------

def _fail(code, text):
    cls = IpcfsTimeoutError if code == errno.ETIMEDOUT else IpcfsError
    return cls(code, text)


def check_mount(mount):
    if not (os.path.isdir(os.path.join(mount, "groups")) and
            os.path.exists(os.path.join(mount, "ctl"))):
        raise _fail(errno.ENOENT, "no ipcfsd mount at %s: a queue with readers on other nodes "
                    "needs ipcfsd on every node; start it there, or pass mount= or set "
                    "IPCFS_MOUNT to where it is mounted" % mount)


def check_local(ip, what):
    """EADDRNOTAVAIL unless ``ip`` is an address of this machine."""
    s = socket.socket()
    try:
        s.bind((ip, 0))
        return s.getsockname()[1]
    except OSError as e:
        raise _fail(e.errno or errno.EADDRNOTAVAIL, "%s: %s is not an address of this "
                    "machine (%s)" % (what, ip, e.strerror)) from None
    finally:
        s.close()


def _read(path):
    with open(path) as f:
        return f.read()


def _write(gdir, name, text, what):
    try:
        with open(os.path.join(gdir, name), "w") as f:
            f.write(text)
    except OSError as e:
        log = ""
        try:
            log = _read(os.path.join(gdir, "error_log")).strip().splitlines()[-1]
        except (OSError, IndexError):
            pass
        raise _fail(e.errno, "%s: writing %s of %s failed (%s)%s" % (
            what, name, gdir, e.strerror, "; the daemon says: " + log if log else "")) from None


def set_up(mount, span, node, timeout):
    """Create and configure the group on this node's mount, or check that
    the one there (made by another reader of this node) matches ``span``;
    wait until its bridge runs. Returns the group directory."""
    check_mount(mount)
    gdir = os.path.join(mount, "groups", span.group)
    try:
        with open(os.path.join(mount, "ctl"), "w") as f:
            f.write(span.create_command())
        created = True
    except OSError as e:
        if e.errno != errno.EEXIST:
            raise _fail(e.errno, "creating group %s on %s: %s (command %r)" % (
                span.group, mount, e.strerror, span.create_command().strip())) from None
        created = False
    try:
        return _configure(gdir, mount, span, node, created, timeout)
    except BaseException:
        if created:            # what this call made goes again
            try:
                _write(gdir, "node", "\n", "cleaning up")
                os.rmdir(gdir)
            except OSError:
                pass
        raise


def _configure(gdir, mount, span, node, created, timeout):
    if created:
        _write(gdir, "nodes", span.nodes_text(), "queue group")
        _write(gdir, "node", node + "\n", "queue group")
    deadline = time.monotonic() + timeout
    while True:
        try:
            have_node = _read(os.path.join(gdir, "node")).strip()
            have_nodes = _read(os.path.join(gdir, "nodes"))
            ranks = int(_read(os.path.join(gdir, "ranks")))
        except OSError as e:
            raise _fail(e.errno, "group %s on %s: %s" % (span.group, mount, e.strerror)) from None
        if have_node or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    want = {n: (a, frozenset(r)) for n, a, r in span.nodes}
    if have_node != node or parse_nodes(have_nodes) != want or ranks != span.params["ranks"]:
        raise _fail(errno.EEXIST, "group %s on %s exists with node %r, ranks %d and nodes %r, "
                    "but the queue's handle says node %r, ranks %d and nodes %r: remove it "
                    "(rmdir %s) or give this queue another group" % (
                        span.group, mount, have_node, ranks, have_nodes, node,
                        span.params["ranks"], span.nodes_text(), gdir))
    wait_bridge(gdir, deadline)
    return gdir


def wait_bridge(gdir, deadline):
    state = {}
    while True:
        try:
            state = dict(ln.split(None, 1) for ln in _read(os.path.join(gdir, "bridge"))
                         .splitlines() if ln.count(" ") == 1)
        except OSError:
            pass
        if state.get("state") == "running" or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    if state.get("state") != "running":
        raise _fail(errno.ETIMEDOUT, "the bridge of %s is %s (last exit status %s), not "
                    "running: see the daemon's log; is ipcfs-bridge installed, and the "
                    "node's address free?" % (gdir, state.get("state", "unknown"),
                                              state.get("last_exit", "none")))


def _members(gdir):
    """{rank: (node, live, lag)} from ``members``."""
    out = {}
    try:
        for ln in _read(os.path.join(gdir, "members")).splitlines():
            f = dict(kv.split("=", 1) for kv in ln.split()[1:] if "=" in kv)
            out[int(ln.split()[0])] = (f.get("node"), f.get("state") == "live",
                                       int(f.get("lag", 0)))
    except (OSError, ValueError):
        pass
    return out


def live_here(gdir, node):
    """Live ranks of this node (not the bridge's proxies of other nodes)."""
    return [r for r, (n, live, _) in _members(gdir).items() if live and n == node]


def tear_down(gdir, node, me, wait_s=10.0):
    """After rank ``me`` left: stop the group's bridge and remove the group
    unless another rank of this node is live; best effort (False: left in
    place). ``me`` itself may still show live while views of its messages
    are alive (its leave waits for them): then rmdir fails (EBUSY) and the
    group stays (README: remote readers)."""
    gc.collect()       # arrays of the last objects received, if only garbage
    if [r for r in live_here(gdir, node) if r != me]:
        return False
    # Messages still held for remote ranks (lag of their proxies) have not
    # been acked by their node yet: stopping the bridge would lose them.
    deadline = time.monotonic() + wait_s
    while any(live and lag for n, live, lag in _members(gdir).values() if n != node) \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    # Let the bridge tell the other nodes which ranks just left.
    time.sleep(_REPORT_S)
    if [r for r in live_here(gdir, node) if r != me]:
        return False
    try:
        _write(gdir, "node", "\n", "closing the queue")
    except OSError:
        return False
    deadline = time.monotonic() + 2.0
    while True:
        try:
            os.rmdir(gdir)
            return True
        except FileNotFoundError:
            return True
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                return False
        time.sleep(0.05)
