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
"""

import os
import shutil
import tempfile
import time

from . import create_group, destroy_group, join


def _ms(timeout):
    # At least 1 ms: a wait that gives up says TimeoutError, as vLLM's does
    # (0 would mean "do not wait", BlockingIOError).
    return -1 if timeout is None else max(1, int(timeout * 1000))


class Handle:
    """What a reader needs to join: picklable. local_reader_ranks: the
    ranks (as the engine numbers its processes) of the readers, in order;
    create_from_handle(handle, rank) joins as the reader of that rank."""

    def __init__(self, path, n_reader, local_reader_ranks=None):
        self.path = path
        self.n_reader = n_reader
        self.local_reader_ranks = list(range(n_reader)) if local_reader_ranks is None \
            else list(local_reader_ranks)

    def __repr__(self):
        return "Handle(%r, n_reader=%d, local_reader_ranks=%r)" % (
            self.path, self.n_reader, self.local_reader_ranks)


class MessageQueue:
    def __init__(self, n_reader, n_local_reader=None, local_reader_ranks=None,
                 max_chunk_bytes=10 << 20, max_chunks=10, connect_ip=None):
        """The writer's side: a new group of 1 + n_reader ranks. The arena
        holds max_chunks messages of max_chunk_bytes in flight (vLLM's
        ring); n_local_reader, local_reader_ranks and connect_ip are
        accepted for compatibility (every reader is local here).
        local_reader_ranks (default 0..n_reader-1) name the readers for
        create_from_handle(), as in vLLM."""
        if n_local_reader is not None and n_local_reader != n_reader:
            raise ValueError("ipcfs MessageQueue: every reader must be on this machine "
                             "(n_local_reader=%d, n_reader=%d)" % (n_local_reader, n_reader))
        if local_reader_ranks is not None and len(local_reader_ranks) != n_reader:
            raise ValueError("local_reader_ranks %r: need one rank per reader (%d)"
                             % (local_reader_ranks, n_reader))
        self.n_reader = n_reader
        self._reader_ranks = local_reader_ranks
        self._tmp = tempfile.mkdtemp(prefix="ipcfs-mq.")
        self._path = os.path.join(self._tmp, "g")
        create_group(self._path, ranks=n_reader + 1, slots=max(2, 1 << (max_chunks - 1).bit_length()),
                     slot_bytes=8192, arena_bytes=max_chunk_bytes * max_chunks)
        self._m = join(self._path, 0)
        self._writer = True
        self._pid = os.getpid()           # a fork child must not destroy the group
        self.local_reader_rank = -1

    @classmethod
    def create_from_handle(cls, handle, rank):
        """The side of the reader of ``rank`` (one of
        handle.local_reader_ranks, by default 0..n_reader-1)."""
        if rank not in handle.local_reader_ranks:
            raise ValueError("rank %r is not a reader of this queue (local_reader_ranks %r)"
                             % (rank, handle.local_reader_ranks))
        self = cls.__new__(cls)
        self.n_reader = handle.n_reader
        self._tmp = None
        self._path = handle.path
        self.local_reader_rank = handle.local_reader_ranks.index(rank)
        self._m = join(handle.path, self.local_reader_rank + 1)
        self._writer = False
        return self

    def export_handle(self):
        return Handle(self._path, self.n_reader, self._reader_ranks)

    @staticmethod
    def create_from_process_group(pg, max_chunk_bytes, max_chunks, writer_rank=0):
        """As vLLM's: the writer_rank of torch.distributed group ``pg``
        makes the queue, every other rank of it reads; collective."""
        import torch.distributed as dist
        group_rank = dist.get_rank(pg)
        ranks = dist.get_process_group_ranks(pg) if hasattr(dist, "get_process_group_ranks") \
            else list(range(dist.get_world_size(pg)))
        readers = [r for r in ranks if r != ranks[writer_rank]]
        if group_rank == writer_rank:
            q = MessageQueue(len(readers), len(readers), readers, max_chunk_bytes, max_chunks)
            obj = [q.export_handle()]
        else:
            obj = [None]
        dist.broadcast_object_list(obj, src=ranks[writer_rank], group=pg)
        if group_rank != writer_rank:
            q = MessageQueue.create_from_handle(obj[0], ranks[group_rank])
        q.wait_until_ready()
        return q

    def wait_until_ready(self, timeout=None):
        """Wait until the writer and every reader have joined (None: the
        default of Member.wait_ranks(), whose error names who is missing)."""
        self._m.wait_ranks(timeout_ms=None if timeout is None else _ms(timeout))

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
            m.leave()
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
