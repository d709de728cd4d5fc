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

from . import create_group, destroy_group, join


def _ms(timeout):
    return -1 if timeout is None else max(0, int(timeout * 1000))


class Handle:
    """What a reader needs to join: picklable."""

    def __init__(self, path, n_reader):
        self.path = path
        self.n_reader = n_reader

    def __repr__(self):
        return "Handle(%r, n_reader=%d)" % (self.path, self.n_reader)


class MessageQueue:
    def __init__(self, n_reader, n_local_reader=None, local_reader_ranks=None,
                 max_chunk_bytes=10 << 20, max_chunks=10, connect_ip=None):
        """The writer's side: a new group of 1 + n_reader ranks. The arena
        holds max_chunks messages of max_chunk_bytes in flight (vLLM's
        ring); n_local_reader, local_reader_ranks and connect_ip are
        accepted for compatibility (every reader is local here)."""
        if n_local_reader is not None and n_local_reader != n_reader:
            raise ValueError("ipcfs MessageQueue: every reader must be on this machine "
                             "(n_local_reader=%d, n_reader=%d)" % (n_local_reader, n_reader))
        self.n_reader = n_reader
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
        """The side of reader ``rank`` (0..n_reader-1)."""
        self = cls.__new__(cls)
        self.n_reader = handle.n_reader
        self._tmp = None
        self._path = handle.path
        self._m = join(handle.path, rank + 1)
        self._writer = False
        self.local_reader_rank = rank
        return self

    def export_handle(self):
        return Handle(self._path, self.n_reader)

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

    def dequeue(self, timeout=None):
        """Reader: the next object from the writer. Arrays and tensors in it
        are read-only views of shared memory (they hold the writer's block
        until they are gone)."""
        if self._writer:
            raise RuntimeError("dequeue() is for readers; the writer enqueue()s")
        return self._m.recv_obj(0, _ms(timeout))

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
