# SPDX-License-Identifier: MIT
"""ipcfs: shared-memory messaging between the processes of one machine.

The hot path is a C extension (ipcfs._native) over libipcfs. Objects go
as pickle protocol 5 with their large buffers (numpy arrays, CPU torch
tensors, memoryviews) copied once, straight into shared memory; a reader
gets them back as read-only views of that memory, without a copy:

    import ipcfs, numpy as np
    g = ipcfs.create_group("/tmp/tp0", ranks=2)        # once, by the driver
    m = ipcfs.join("/tmp/tp0")                         # lowest free rank
    m.wait_ranks()                                     # raises, naming who is missing
    m.send_obj({"step": 1, "pixels": np.zeros((3, 336, 336), np.float32)})
    obj = m.recv_obj(src=0)                            # in a worker

Views and their lifetime: a received Message, and every memoryview, numpy
array or tensor made from it (msg.data, msg.arrays(), the arrays inside an
object from recv_obj()), keep the message held and the group mapped. The
message goes back to the group when the last of them is gone;
msg.release() while views are alive raises BufferError. A reader that
keeps views holds its sender back (the sender's slot or arena block is
not reused): the reader's `lag` in stat shows it.

Signals: waits (recv, send under back pressure, wait_ranks) release the
GIL and run Python signal handlers as soon as a signal arrives (and every
ipcfs._native.SLICE_MS, 50 ms, at the latest), so Ctrl-C raises
KeyboardInterrupt at once; a message not yet returned
stays queued for the next receive.

See README.md (Python) for defaults, errors and a driver/worker example.
"""

import atexit
import errno
import os

from . import _native
from ._native import (IpcfsError, IpcfsTimeoutError, IpcfsBlockingError,  # noqa: F401
                      IpcfsBrokenPipeError, IpcfsNotConnectedError, IpcfsMessageTooLongError,
                      Message)
from . import _objects
from ._objects import dumps, loads_bytes, OBJ_HDR, OBJ_BUF, OBJ_MAGIC, OBJ_ALIGN  # noqa: F401

__all__ = [
    "ALL", "ANY", "SRC_CTL", "KIND_RAW", "KIND_TYPED", "IpcfsError", "IpcfsTimeoutError",
    "IpcfsBlockingError", "IpcfsBrokenPipeError", "IpcfsNotConnectedError",
    "IpcfsMessageTooLongError", "create_group", "destroy_group", "join", "Member", "Message",
    "WAIT_RANKS_TIMEOUT_MS", "DEFAULT_ARENA_BYTES",
]

ALL = (1 << 64) - 1
ANY = -1
SRC_CTL = 64
KIND_RAW = 0
KIND_TYPED = 1
MAX_DIMS = 8

# wait_ranks() without a timeout gives up after this long (ms), naming the
# ranks that did not come: a job never hangs for ever on a rank count that
# does not match its processes. Pass timeout_ms=-1 to wait for ever.
WAIT_RANKS_TIMEOUT_MS = 60000

# A group created from Python without arena_bytes gets this arena, so that
# a message of any size up to it works (larger than slot_bytes goes to the
# arena). The memory is taken when the group is created.
DEFAULT_ARENA_BYTES = 32 << 20

EAGAIN, ETIMEDOUT, EPIPE, ENOTCONN = errno.EAGAIN, errno.ETIMEDOUT, errno.EPIPE, errno.ENOTCONN

# numpy dtype of each library dtype (enum ipcfs_dtype); bf16 as raw u2.
_DTYPES = {1: "u1", 2: "i1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "i8", 8: "u8",
           9: "f2", 10: "u2", 11: "f4", 12: "f8", 13: "?"}
_CODES = {"u1": 1, "i1": 2, "i2": 3, "u2": 4, "i4": 5, "u4": 6, "i8": 7, "u8": 8,
          "f2": 9, "f4": 11, "f8": 12, "b1": 13}


def _dtype_code(np, dt):
    dt = np.dtype(dt)
    if dt.name == "bfloat16":          # e.g. ml_dtypes; not in numpy itself
        return 10
    key = _CODES.get(dt.kind + str(dt.itemsize))
    if key is None or dt.byteorder == ">":
        raise TypeError("dtype %s has no ipcfs equivalent (use send_obj() for any object)" % dt)
    return key


# ---- groups and their lifetime -------------------------------------------------

# Groups this process created and owns: destroyed at exit, and registered
# with multiprocessing's resource tracker, a separate process that unlinks
# the segment if this one dies without cleaning up (SIGKILL included).
_owned = {}


def _segment_of(path):
    try:
        with open(os.path.join(path, "shm")) as f:
            return f.read().strip()
    except OSError:
        return None


def _track(seg, register):
    """Hand a /dev/shm segment to (or take it back from) the resource tracker."""
    if not seg or os.path.dirname(seg) != "/dev/shm":
        return
    from multiprocessing import resource_tracker
    name = "/" + os.path.basename(seg)
    (resource_tracker.register if register else resource_tracker.unregister)(name, "shared_memory")


def create_group(path, keep=False, **params):
    """Create a group in the plain directory ``path`` (no daemon needed).

    ``params``: ranks (default 8), slots (64), slot_bytes (4096), spin_us,
    timeout_ms, numa_node, mode, hugepage_kb, arena_bytes (default
    DEFAULT_ARENA_BYTES here: messages larger than slot_bytes use it).

    The group belongs to this process: it is destroyed when the process
    exits, and if the process is killed (even with SIGKILL) the resource
    tracker unlinks its memory; members still mapped keep working. A group
    whose creator died that way is re-created here without error.
    ``keep=True``: the group outlives this process (destroy_group() it).
    """
    params.setdefault("arena_bytes", DEFAULT_ARENA_BYTES)
    path = os.fspath(path)
    seg = _segment_of(path)
    if seg is not None and not os.path.exists(seg):
        # The segment is gone (its creator died and the tracker unlinked
        # it, or someone removed it): the directory only names it.
        try:
            os.unlink(os.path.join(path, "shm"))
        except FileNotFoundError:
            pass
    _native.group_create(path, **params)
    if not keep:
        seg = _segment_of(path)
        _track(seg, True)
        _owned[os.path.abspath(path)] = (seg, os.getpid())
    return path


def destroy_group(path):
    """Unlink the group's memory and files; members still mapped keep working."""
    path = os.fspath(path)
    seg, _ = _owned.pop(os.path.abspath(path), (None, None))
    try:
        _native.group_destroy(path)
    finally:
        _track(seg, False)              # also when someone else destroyed it


@atexit.register
def _destroy_owned():
    # Only in the process that created them (not in a fork child that exits).
    for path in [p for p, (_, pid) in _owned.items() if pid == os.getpid()]:
        try:
            destroy_group(path)
        except OSError:
            pass


def join(path, rank=-1):
    """Join the group in directory ``path`` (mounted or plain) as ``rank``
    (-1: the lowest free one)."""
    return Member(path, rank)


# ---- members -------------------------------------------------------------------

class Member(_native.Member):
    """A rank of a group (see ipcfs_join(3)). Methods in C: recv(src=ANY,
    timeout_ms=-1), recv_obj(src=ANY, timeout_ms=-1), send(data, to=ALL,
    timeout_ms=-1), live(), stat(rank=None), params(), leave()."""

    close = _native.Member.leave

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.leave()

    def wait_ranks(self, ranks=None, timeout_ms=None):
        """Wait until ``ranks`` (default: every rank of the group) are live.
        Without timeout_ms: WAIT_RANKS_TIMEOUT_MS; the error names the
        ranks that did not come."""
        if timeout_ms is None:
            timeout_ms = WAIT_RANKS_TIMEOUT_MS
        return _native.Member.wait_ranks(self, ranks, timeout_ms)

    def send_obj(self, obj, to=None, timeout_ms=-1):
        """Send any picklable object: pickle protocol 5, its out-of-band
        buffers (numpy arrays, CPU torch tensors, memoryviews) copied once
        into shared memory beside the stream."""
        _objects.send(self._send_pickled, obj, to, timeout_ms)

    def send_arrays(self, arrays, to=None, timeout_ms=-1):
        """Send {name: array} as one typed message: each array copied once,
        straight into shared memory."""
        import numpy as np
        fields = []
        for k, v in arrays.items():
            v = np.asarray(v)
            code, shape = _dtype_code(np, v.dtype), tuple(v.shape)
            # ascontiguousarray() would make a 0-d array 1-d: the shape is kept above.
            fields.append((k, code, shape, np.ascontiguousarray(v).reshape(-1).view(np.uint8)))
        self._send_fields(fields, to, timeout_ms)

    def build(self, spec, timeout_ms=-1):
        """Arrays for ``spec`` = {name: (dtype, shape)} to fill, and
        commit(to=ALL) that sends them as one typed message (one copy)."""
        import numpy as np
        arrays = {name: np.zeros(shape, dtype) for name, (dtype, shape) in spec.items()}

        def commit(to=None):
            self.send_arrays(arrays, to, timeout_ms)
        return arrays, commit


def _arrays(msg):
    """The fields of a typed message as {name: read-only numpy array} over
    the message's bytes (no copy); they keep the message held."""
    import numpy as np
    base = memoryview(msg)
    out = {}
    for name, code, shape, off, nbytes in msg._fields():
        a = np.frombuffer(base[off:off + nbytes], dtype=_DTYPES[code]).reshape(shape)
        out[name] = a
    return out


_native._set_arrays(_arrays)

