# SPDX-License-Identifier: MIT
"""ipcfs: shared-memory messaging between the processes of one machine.

A thin ctypes layer over libipcfs (no compiled extension). Received
messages are views into shared memory: ``Message.data`` is a read-only
memoryview and ``Message.arrays()`` gives numpy arrays over the same bytes,
without copying. A view is handed back to the group (so the sender may
reuse its slot or arena block) when the message is released: explicitly
with ``release()``, at the end of a ``with`` block, or when the message and
every array made from it have been garbage-collected.

    import ipcfs, numpy as np
    m = ipcfs.join("/run/ipcfs/groups/tp0")           # lowest free rank
    m.wait_ranks()
    m.send_arrays({"ids": np.arange(8), "t": np.float32(0.7)})
    with m.recv(src=0) as msg:
        ids = msg.arrays()["ids"]                      # no copy

The library is found through $IPCFS_LIB, then next to this package in a
source tree (build/libipcfs.so), then the system (ldconfig).
"""

import ctypes
import ctypes.util
import errno
import os
import weakref

__all__ = [
    "ALL", "ANY", "SRC_CTL", "KIND_RAW", "KIND_TYPED", "IpcfsError",
    "Params", "create_group", "destroy_group", "join", "Member", "Message",
]

ALL = (1 << 64) - 1
ANY = -1
SRC_CTL = 64
KIND_RAW = 0
KIND_TYPED = 1
MAX_DIMS = 8
NAME_MAX = 255


def _load():
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("IPCFS_LIB"),
                  os.path.join(here, "..", "..", "build", "libipcfs.so"),
                  ctypes.util.find_library("ipcfs")]
    for path in candidates:
        if path and (os.path.exists(path) or not os.path.isabs(path)):
            try:
                return ctypes.CDLL(path)
            except OSError:
                continue
    raise ImportError("libipcfs not found: set IPCFS_LIB or install the library")


_lib = _load()


class IpcfsError(OSError):
    """A libipcfs call failed; errno is the library's error code."""


def _check(rc, what):
    if rc < 0:
        raise IpcfsError(-rc, "%s: %s" % (what, os.strerror(-rc)))
    return rc


class Params(ctypes.Structure):
    """struct ipcfs_params (see ipcfs_params_init(3))."""
    _fields_ = [("ranks", ctypes.c_uint32), ("slots", ctypes.c_uint32),
                ("slot_bytes", ctypes.c_uint32), ("spin_us", ctypes.c_uint32),
                ("timeout_ms", ctypes.c_uint32), ("numa_node", ctypes.c_int32),
                ("mode", ctypes.c_uint32), ("hugepage_kb", ctypes.c_uint32),
                ("arena_bytes", ctypes.c_uint64)]

    def __init__(self, **kw):
        super().__init__()
        _lib.ipcfs_params_init(ctypes.byref(self))
        for k, v in kw.items():
            if not hasattr(self, k):
                raise TypeError("no parameter %r" % k)
            setattr(self, k, v)


class _Msg(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t),
                ("src", ctypes.c_int), ("kind", ctypes.c_uint32),
                ("seq", ctypes.c_uint64), ("priv", ctypes.c_uint64 * 2)]


class _Field(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * (NAME_MAX + 1)), ("dtype", ctypes.c_int),
                ("ndim", ctypes.c_uint), ("shape", ctypes.c_uint64 * MAX_DIMS),
                ("count", ctypes.c_uint64), ("data", ctypes.c_void_p),
                ("bytes", ctypes.c_size_t)]


class _Builder(ctypes.Structure):
    _fields_ = [("m", ctypes.c_void_p), ("base", ctypes.c_void_p),
                ("cap", ctypes.c_size_t), ("used", ctypes.c_size_t),
                ("nfields", ctypes.c_uint)]


class _RankStat(ctypes.Structure):
    _fields_ = [("rank", ctypes.c_int), ("state", ctypes.c_int), ("pid", ctypes.c_int)] + [
        (n, ctypes.c_uint64) for n in (
            "sent", "sent_bytes", "recv", "recv_bytes", "waits", "spins", "sleeps",
            "wakeups", "stalls", "timeouts", "lag", "stalled_ms", "allreduce_oneshot",
            "allreduce_twoshot", "allreduce_nccl", "allreduce_bytes", "allreduce_errors")]


def _proto(name, res, *args):
    f = getattr(_lib, name)
    f.restype = res
    f.argtypes = list(args)
    return f


_P = ctypes.c_void_p
_proto("ipcfs_params_init", None, ctypes.POINTER(Params))
_proto("ipcfs_group_create", ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(Params))
_proto("ipcfs_group_destroy", ctypes.c_int, ctypes.c_char_p)
_proto("ipcfs_join", ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(_P))
_proto("ipcfs_leave", ctypes.c_int, _P)
_proto("ipcfs_rank", ctypes.c_int, _P)
_proto("ipcfs_size", ctypes.c_int, _P)
_proto("ipcfs_live", ctypes.c_int, _P, ctypes.POINTER(ctypes.c_uint64))
_proto("ipcfs_wait_ranks", ctypes.c_int, _P, ctypes.c_uint64, ctypes.c_int)
_proto("ipcfs_reserve", ctypes.c_int, _P, ctypes.c_size_t, ctypes.POINTER(_P), ctypes.c_int)
_proto("ipcfs_commit", ctypes.c_int, _P, ctypes.c_uint64, ctypes.c_size_t)
_proto("ipcfs_recv", ctypes.c_int, _P, ctypes.c_int, ctypes.POINTER(_Msg), ctypes.c_int)
_proto("ipcfs_release", ctypes.c_int, _P, ctypes.POINTER(_Msg))
_proto("ipcfs_stat_rank", ctypes.c_int, _P, ctypes.c_int, ctypes.POINTER(_RankStat))
_proto("ipcfs_state_name", ctypes.c_char_p, ctypes.c_int)
_proto("ipcfs_field_bytes", ctypes.c_longlong, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint,
       ctypes.POINTER(ctypes.c_uint64))
_proto("ipcfs_build_begin", ctypes.c_int, _P, ctypes.POINTER(_Builder), ctypes.c_size_t,
       ctypes.c_int)
_proto("ipcfs_build_add", ctypes.c_int, ctypes.POINTER(_Builder), ctypes.c_char_p, ctypes.c_int,
       ctypes.c_uint, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(_P))
_proto("ipcfs_build_commit", ctypes.c_int, ctypes.POINTER(_Builder), ctypes.c_uint64)
_proto("ipcfs_msg_nfields", ctypes.c_int, ctypes.POINTER(_Msg))
_proto("ipcfs_msg_field", ctypes.c_int, ctypes.POINTER(_Msg), ctypes.c_uint,
       ctypes.POINTER(_Field))

# numpy dtype names of the library's dtypes (enum ipcfs_dtype), in order.
_DTYPES = {1: "u1", 2: "i1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "i8", 8: "u8",
           9: "f2", 10: "bf16", 11: "f4", 12: "f8", 13: "?"}


def _dtype_code(np, dt):
    dt = np.dtype(dt)
    if dt.name == "bfloat16":          # e.g. ml_dtypes; not in numpy itself
        return 10
    key = {"u1": 1, "i1": 2, "i2": 3, "u2": 4, "i4": 5, "u4": 6, "i8": 7, "u8": 8,
           "f2": 9, "f4": 11, "f8": 12, "b1": 13}.get(dt.kind + str(dt.itemsize))
    if key is None or dt.byteorder == ">":
        raise TypeError("dtype %s has no ipcfs equivalent" % dt)
    return key


def _dest(to):
    if to is None or to == ALL:
        return ALL
    if isinstance(to, int):
        return 1 << to
    mask = 0
    for r in to:
        mask |= 1 << r
    return mask


def create_group(path, **params):
    """Create a group in a plain directory (no daemon); see ipcfs_group_create(3)."""
    _check(_lib.ipcfs_group_create(os.fsencode(path), ctypes.byref(Params(**params))),
           "create group %s" % path)


def destroy_group(path):
    _check(_lib.ipcfs_group_destroy(os.fsencode(path)), "destroy group %s" % path)


def join(path, rank=-1):
    """Join the group in directory ``path`` (mounted or plain) as ``rank``
    (-1: the lowest free one)."""
    return Member(path, rank)


class Message:
    """A received message: a view into shared memory until released."""

    def __init__(self, member, raw):
        self._member = member
        self._raw = raw
        self.src = raw.src
        self.seq = raw.seq
        self.kind = raw.kind
        self.len = raw.len
        # The bytes, as one ctypes buffer: arrays and memoryviews are made
        # over it, and the view goes back to the group when it is collected
        # (or on release()).
        self._buf = (ctypes.c_ubyte * raw.len).from_address(raw.data)
        self._done = False
        self._fin = weakref.finalize(self._buf, Message._free, member, raw)

    @staticmethod
    def _free(member, raw):
        if member._m:
            _lib.ipcfs_release(member._m, ctypes.byref(raw))

    @property
    def data(self):
        """The payload as a read-only memoryview (no copy)."""
        if self._done:
            raise ValueError("message already released")
        return memoryview(self._buf).cast("B").toreadonly()

    def bytes(self):
        """A copy of the payload."""
        return bytes(self.data)

    def arrays(self):
        """The fields of a typed message as {name: numpy array}, read-only
        views of shared memory (no copy). Valid until release()."""
        import numpy as np
        if self._done:
            raise ValueError("message already released")
        n = _check(_lib.ipcfs_msg_nfields(ctypes.byref(self._raw)), "typed message")
        base = self._raw.data
        out = {}
        for i in range(n):
            f = _Field()
            _check(_lib.ipcfs_msg_field(ctypes.byref(self._raw), i, ctypes.byref(f)), "field")
            code = _DTYPES[f.dtype]
            if code == "bf16":
                dt = np.dtype("u2")            # raw bits: numpy has no bfloat16
            else:
                dt = np.dtype(code)
            off = f.data - base
            a = np.frombuffer(self._buf, dtype=dt, count=f.count, offset=off)
            a = a.reshape(tuple(f.shape[:f.ndim]))
            a.flags.writeable = False
            out[f.name.decode()] = a
        return out

    def release(self):
        """Hand the view back now. Arrays and memoryviews of it must not be
        used afterwards."""
        if not self._done:
            self._done = True
            self._fin()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class Member:
    """A rank of a group (see ipcfs_join(3))."""

    def __init__(self, path, rank=-1):
        self._m = None
        m = ctypes.c_void_p()
        r = _check(_lib.ipcfs_join(os.fsencode(path), rank, ctypes.byref(m)), "join %s" % path)
        self._m = m
        self.rank = r
        self.size = _lib.ipcfs_size(m)

    def leave(self):
        if self._m:
            _lib.ipcfs_leave(self._m)
            self._m = None

    close = leave

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.leave()

    def __del__(self):
        self.leave()

    def live(self):
        mask = ctypes.c_uint64()
        _lib.ipcfs_live(self._m, ctypes.byref(mask))
        return [r for r in range(64) if mask.value >> r & 1]

    def wait_ranks(self, ranks=None, timeout_ms=-1):
        """Wait until ``ranks`` (default: all of the group) are live."""
        mask = ALL if ranks is None else _dest(ranks)
        _check(_lib.ipcfs_wait_ranks(self._m, mask, timeout_ms), "wait for ranks")

    def send(self, data, to=ALL, timeout_ms=-1):
        """Send bytes (any buffer) to ``to``: ALL, a rank, or ranks."""
        mv = memoryview(data).cast("B")
        buf = ctypes.c_void_p()
        _check(_lib.ipcfs_reserve(self._m, mv.nbytes, ctypes.byref(buf), timeout_ms), "reserve")
        if mv.nbytes:
            ctypes.memmove(buf.value, (ctypes.c_char * mv.nbytes).from_buffer_copy(mv)
                           if mv.readonly else (ctypes.c_char * mv.nbytes).from_buffer(mv),
                           mv.nbytes)
        _check(_lib.ipcfs_commit(self._m, _dest(to), mv.nbytes), "commit")

    def build(self, spec, timeout_ms=-1):
        """Reserve a typed message for ``spec`` = {name: (dtype, shape)} and
        return (arrays, commit): numpy arrays in shared memory to fill in
        place, and commit(to=ALL) to publish them."""
        import numpy as np
        items = []
        cap = 16
        for name, (dt, shape) in spec.items():
            shape = tuple(int(x) for x in np.atleast_1d(shape)) if np.ndim(shape) else \
                (() if shape == () else (int(shape),))
            code = _dtype_code(np, dt)
            arr = (ctypes.c_uint64 * MAX_DIMS)(*shape)
            nb = _check(_lib.ipcfs_field_bytes(name.encode(), code, len(shape), arr),
                        "field %s" % name)
            cap += nb
            items.append((name, np.dtype(dt), code, shape, arr))
        b = _Builder()
        _check(_lib.ipcfs_build_begin(self._m, ctypes.byref(b), cap, timeout_ms), "reserve")
        out = {}
        for name, dt, code, shape, arr in items:
            ptr = ctypes.c_void_p()
            _check(_lib.ipcfs_build_add(ctypes.byref(b), name.encode(), code, len(shape), arr,
                                        ctypes.byref(ptr)), "field %s" % name)
            count = 1
            for s in shape:
                count *= s
            raw = (ctypes.c_ubyte * (count * dt.itemsize)).from_address(ptr.value)
            out[name] = np.frombuffer(raw, dtype=dt, count=count).reshape(shape)

        def commit(to=ALL):
            _check(_lib.ipcfs_build_commit(ctypes.byref(b), _dest(to)), "commit")
        return out, commit

    def send_arrays(self, arrays, to=ALL, timeout_ms=-1):
        """Send {name: array} as one typed message: each array is copied
        once, straight into shared memory."""
        import numpy as np
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        views, commit = self.build({k: (v.dtype, v.shape) for k, v in arrays.items()},
                                   timeout_ms)
        for k, v in arrays.items():
            views[k][...] = v
        commit(to)

    def recv(self, src=ANY, timeout_ms=-1):
        """The next message for us from ``src`` (ANY: any rank)."""
        raw = _Msg()
        _check(_lib.ipcfs_recv(self._m, src, ctypes.byref(raw), timeout_ms), "recv")
        return Message(self, raw)

    def stat(self, rank=None):
        st = _RankStat()
        _check(_lib.ipcfs_stat_rank(self._m, self.rank if rank is None else rank,
                                    ctypes.byref(st)), "stat")
        d = {name: getattr(st, name) for name, _ in _RankStat._fields_}
        d["state"] = _lib.ipcfs_state_name(st.state).decode()
        return d


# Re-export errno names users compare against.
EAGAIN, ETIMEDOUT, EPIPE, ENOTCONN = errno.EAGAIN, errno.ETIMEDOUT, errno.EPIPE, errno.ENOTCONN
