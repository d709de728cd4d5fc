# SPDX-License-Identifier: MIT
"""A queue with the shape of vLLM's shared-memory MessageQueue
(vllm.distributed.device_communicators.shm_broadcast), over an ipcfs group:
one writer, n_reader readers, objects sent with send_obj() (large arrays
and tensors copied once into shared memory, read in place by every
reader).

    q = MessageQueue(n_reader=3)                  # writer (rank 0 of a new group)
    handle = q.export_handle()                    # picklable: give it to the readers
    r = MessageQueue.create_from_handle(handle, 0)   # in reader 0 (of 0..n_reader-1)
    q.wait_until_ready(); r.wait_until_ready()
    q.enqueue({"step": 1}); obj = r.dequeue(timeout=5.0)
    q.broadcast_object(obj)  /  obj = r.broadcast_object()

Timeouts are in seconds (None: for ever) and raise TimeoutError. A reader
that dies no longer counts: the writer goes on with the live ones. The
writer owns the group: it goes away with the writer (see create_group()).

Readers on other nodes (issue 15; README, "Python: readers on other
nodes"): the writer names them, and each node's bridge address, with
remote_nodes= and connect_ip=; the queue is then a group of the writer's
ipcfsd mount spanning the nodes (ipcfs._span), and a reader on another
node calls the same create_from_handle(handle, rank), which sets the group
up in its own node's mount; enqueue() and dequeue() do not change.

    q = MessageQueue(4, connect_ip="10.0.0.1", node="a",
                     remote_nodes={"b": ("10.0.0.2", [2, 3])})   # readers 0, 1 local
    r = MessageQueue.create_from_handle(handle, 2)    # on node b
"""

import errno
import os
import shutil
import tempfile
import time

from . import create_group, destroy_group, join
from . import _span


def _ms(timeout):
    # At least 1 ms: a wait that gives up says TimeoutError, as vLLM's does
    # (0 would mean "do not wait", BlockingIOError).
    return -1 if timeout is None else max(1, int(timeout * 1000))


def _slots(max_chunks):
    return max(2, 1 << (max_chunks - 1).bit_length())


class Handle:
    """What a reader needs to join: picklable. local_reader_ranks: the
    ranks (as the engine numbers its processes) of the readers on the
    writer's node, in order; remote_reader_ranks: those of the readers on
    other nodes (empty for a queue of one machine); span: the group's
    layout across nodes (ipcfs._span.Span, None for one machine).
    create_from_handle(handle, rank) joins as the reader of that rank,
    on whichever node it runs."""

    def __init__(self, path, n_reader, local_reader_ranks=None, remote_reader_ranks=None,
                 span=None):
        self.path = path
        self.n_reader = n_reader
        self.local_reader_ranks = list(range(n_reader)) if local_reader_ranks is None \
            else list(local_reader_ranks)
        self.remote_reader_ranks = list(remote_reader_ranks or [])
        self.span = span

    @property
    def remote_subscribe_addr(self):
        """As vLLM's: where remote readers connect (here: the address of
        the bridge on the writer's node), None without remote readers."""
        return self.span.nodes[0][1] if self.span is not None else None

    def __repr__(self):
        return "Handle(%r, n_reader=%d, local_reader_ranks=%r, remote_reader_ranks=%r, " \
            "span=%r)" % (self.path, self.n_reader, self.local_reader_ranks,
                          self.remote_reader_ranks, self.span)


class MessageQueue:
    def __init__(self, n_reader, n_local_reader=None, local_reader_ranks=None,
                 max_chunk_bytes=10 << 20, max_chunks=10, connect_ip=None, *,
                 remote_nodes=None, node=None, mount=None, node_timeout_ms=None,
                 setup_timeout=10.0):
        """The writer's side: a new group of 1 + n_reader ranks. The arena
        holds max_chunks messages of max_chunk_bytes in flight (vLLM's
        ring). local_reader_ranks (default: the lowest ranks not remote)
        name the readers for create_from_handle(), as in vLLM.

        Readers on other nodes (see README, Python: remote readers):
        remote_nodes = {name: (address, [reader ranks])}, the address of
        each node's bridge ("10.0.0.2", or "tcp://10.0.0.2:7100"; without a
        port, the writer's); connect_ip: this node's address ("tcp://ip:port"
        or an IP: a free port is taken; default _span.host_ip()); node:
        this node's name (default $IPCFS_NODE, else the host name); mount: this node's ipcfsd mount
        (default $IPCFS_MOUNT, $XDG_RUNTIME_DIR/ipcfs, /run/ipcfs), where
        the group is created with its nodes and node; node_timeout_ms: how
        long a silent node lives (the daemon's default without)."""
        self._span = None
        self._pid = os.getpid()           # a fork child must not destroy the group
        self._tmp = None
        self._m = None
        if remote_nodes:
            local, remote, span, node = self._plan(n_reader, n_local_reader, local_reader_ranks,
                                                   max_chunk_bytes, max_chunks, connect_ip,
                                                   remote_nodes, node, node_timeout_ms)
            self._reader_ranks, self._remote_ranks = local, remote
            self._path = _span.set_up(mount or _span.default_mount(), span, node, setup_timeout)
            self._span, self._node = span, node
        else:
            if n_local_reader is not None and n_local_reader != n_reader:
                raise ValueError("ipcfs MessageQueue: n_local_reader=%d of n_reader=%d: say "
                                 "where the other readers are with remote_nodes="
                                 % (n_local_reader, n_reader))
            if local_reader_ranks is not None and len(local_reader_ranks) != n_reader:
                raise ValueError("local_reader_ranks %r: need one rank per reader (%d)"
                                 % (local_reader_ranks, n_reader))
            self._reader_ranks, self._remote_ranks = local_reader_ranks, []
            self._tmp = tempfile.mkdtemp(prefix="ipcfs-mq.")
            self._path = os.path.join(self._tmp, "g")
            create_group(self._path, ranks=n_reader + 1, slots=_slots(max_chunks),
                         slot_bytes=8192, arena_bytes=max_chunk_bytes * max_chunks)
        self.n_reader = n_reader
        self._writer = True
        self.local_reader_rank = -1
        try:
            self._m = join(self._path, 0)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _plan(n_reader, n_local_reader, local_reader_ranks, max_chunk_bytes, max_chunks,
              connect_ip, remote_nodes, node, node_timeout_ms):
        node = node or _span.node_name()
        connect_ip = connect_ip or _span.host_ip()
        ip, port = _span.parse_address(connect_ip, None, "connect_ip")
        free = _span.check_local(ip, "connect_ip %r" % connect_ip)
        local, remote, nodes = _span.layout(n_reader, n_local_reader, local_reader_ranks,
                                            dict(remote_nodes), node, (ip, port or free))
        group = "mq-%d-%s" % (os.getpid(), os.urandom(4).hex())
        span = _span.Span(group, nodes, {
            "ranks": n_reader + 1, "slots": _slots(max_chunks), "slot_bytes": 8192,
            "arena_bytes": max_chunk_bytes * max_chunks, "node_timeout_ms": node_timeout_ms})
        return local, remote, span, node

    @classmethod
    def create_from_handle(cls, handle, rank, mount=None, setup_timeout=10.0):
        """The side of the reader of ``rank``: one of
        handle.local_reader_ranks (on the writer's node; by default
        0..n_reader-1) or of handle.remote_reader_ranks (on the node the
        writer's remote_nodes names for it: the group is set up there in
        ``mount``, default as the writer's, by its first reader)."""
        span = getattr(handle, "span", None)
        remote = getattr(handle, "remote_reader_ranks", [])
        if rank not in handle.local_reader_ranks and rank not in remote:
            raise ValueError("rank %r is not a reader of this queue (local_reader_ranks %r, "
                             "remote_reader_ranks %r)" % (rank, handle.local_reader_ranks,
                                                          remote))
        self = cls.__new__(cls)
        self.n_reader = handle.n_reader
        self._tmp = None
        self._m = None
        self._writer = False
        self._pid = os.getpid()
        self._span = span
        if rank in handle.local_reader_ranks:
            self.local_reader_rank = handle.local_reader_ranks.index(rank)
            self._path = handle.path
            grank = self.local_reader_rank + 1
            if span is not None:
                self._node, ip = span.nodes[0][0], span.node_of(0)[1]
                _span.check_local(ip, "reader rank %r is on the writer's node %r (%s in the "
                                  "queue's handle): run it there, or list it in the "
                                  "writer's remote_nodes" % (rank, self._node, ip))
        else:
            self.local_reader_rank = -1
            grank = 1 + len(handle.local_reader_ranks) + remote.index(rank)
            self._node, ip = span.node_of(grank)
            _span.check_local(ip, "reader rank %r is on node %r (%s in the queue's handle): "
                              "run it there, or give the writer's remote_nodes this "
                              "machine's address" % (rank, self._node, ip))
            self._path = _span.set_up(mount or _span.default_mount(), span, self._node,
                                      setup_timeout)
        try:
            self._m = join(self._path, grank)
        except BaseException:
            self.close()
            raise
        return self

    def export_handle(self):
        return Handle(self._path, self.n_reader, self._reader_ranks, self._remote_ranks,
                      self._span)

    @staticmethod
    def create_from_process_group(pg, max_chunk_bytes, max_chunks, writer_rank=0):
        """As vLLM's: the writer_rank of torch.distributed group ``pg``
        makes the queue, every other rank of it reads; collective. Ranks
        on other nodes than the writer's (by _span.node_name(): $IPCFS_NODE,
        else the host name) read remotely: each node's address is
        _span.host_ip() there, and its mount the default one."""
        import torch.distributed as dist
        group_rank = dist.get_rank(pg)
        ranks = dist.get_process_group_ranks(pg) if hasattr(dist, "get_process_group_ranks") \
            else list(range(dist.get_world_size(pg)))
        where = [None] * len(ranks)
        dist.all_gather_object(where, _span.node_name(), group=pg)
        if group_rank == writer_rank:
            try:
                q = MessageQueue._for_ranks(ranks, where, writer_rank, max_chunk_bytes,
                                            max_chunks, pg)
                obj = [q.export_handle()]
            except Exception as e:      # the readers are told, not left waiting
                obj = [e]
        else:
            if len(set(where)) > 1:        # the writer gathers the addresses
                dist.all_gather_object([None] * len(ranks), _span.host_ip(), group=pg)
            obj = [None]
        dist.broadcast_object_list(obj, src=ranks[writer_rank], group=pg)
        if isinstance(obj[0], Exception):
            raise obj[0]
        if group_rank != writer_rank:
            q = MessageQueue.create_from_handle(obj[0], ranks[group_rank])
        q.wait_until_ready()
        return q

    @staticmethod
    def _for_ranks(ranks, where, writer_rank, max_chunk_bytes, max_chunks, pg):
        """The writer's side of create_from_process_group(): where[i] is
        rank i's node name."""
        readers = [r for r in ranks if r != ranks[writer_rank]]
        node = where[writer_rank]
        if len(set(where)) == 1:
            return MessageQueue(len(readers), len(readers), readers, max_chunk_bytes, max_chunks)
        import torch.distributed as dist
        ips = [None] * len(ranks)
        dist.all_gather_object(ips, _span.host_ip(), group=pg)
        remote = {}
        for i, (r, n) in enumerate(zip(ranks, where)):
            if n != node:
                ip, rs = remote.setdefault(n, (ips[i], []))
                if ip != ips[i]:
                    raise _span.IpcfsError(errno.EINVAL, "ranks of node %r say two addresses, "
                                           "%s and %s: set IPCFS_HOST_IP (or IPCFS_NODE) "
                                           "alike on each node" % (n, ip, ips[i]))
                rs.append(r)
        local = [r for r, n in zip(ranks, where) if n == node and r != ranks[writer_rank]]
        return MessageQueue(len(readers), len(local), local, max_chunk_bytes, max_chunks,
                            ips[writer_rank], remote_nodes=remote, node=node)

    def wait_until_ready(self, timeout=None):
        """The writer: wait until every reader has joined; a reader: until
        the writer has (None: the default of Member.wait_ranks(), whose
        error names who is missing). A reader does not wait for the other
        readers: on another node it would see them only through its
        bridge, behind the writer's first objects, which it must read
        for them to come (ipcfs-bridge(8))."""
        ranks = None if self._writer else [0, self._m.rank]
        self._m.wait_ranks(ranks, timeout_ms=None if timeout is None else _ms(timeout))

    def enqueue(self, obj, timeout=None):
        """Writer: send obj to every live reader (waits while the readers
        still hold max_chunks messages)."""
        if not self._writer:
            raise RuntimeError("enqueue() is for the writer; readers dequeue()")
        self._m.send_obj(obj, None, _ms(timeout))

    def dequeue(self, timeout=None, cancel=None):
        """Reader: the next object from the writer. Arrays and tensors in it
        are read-only views of shared memory (they hold the writer's block
        until they are gone). ``cancel``: a threading.Event whose setting
        ends the wait with RuntimeError (looked at every 100 ms)."""
        if self._writer:
            raise RuntimeError("dequeue() is for readers; the writer enqueue()s")
        if cancel is None:
            return self._m.recv_obj(0, _ms(timeout))
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if cancel.is_set():
                raise RuntimeError("dequeue cancelled")
            left = 0.1 if deadline is None else min(0.1, max(0.0, deadline - time.monotonic()))
            try:
                return self._m.recv_obj(0, _ms(left))
            except TimeoutError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    def broadcast_object(self, obj=None):
        if self._writer:
            self.enqueue(obj)
            return obj
        return self.dequeue()

    def close(self):
        m, self._m = self._m, None
        if m is not None:
            me = m.rank
            m.leave()
        span, self._span = getattr(self, "_span", None), None
        if span is not None and self._pid == os.getpid():
            # The last rank of this node to close removes the group here.
            _span.tear_down(self._path, self._node, me if m is not None else -1)
        if self._writer and self._tmp and self._pid == os.getpid():
            try:
                destroy_group(self._path)
            except OSError:
                pass
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
