# SPDX-License-Identifier: MIT
"""Pickling for object messages (Member.send_obj / recv_obj).

dumps() pickles with protocol 5 and hands every large buffer out of band:
numpy arrays (numpy does that itself), CPU torch tensors and memoryviews
(reduced here to a PickleBuffer of their bytes), so that the extension
copies each of them once, straight into shared memory, and the reader's
pickle.loads(buffers=...) rebuilds them as views of that memory.

The layout of an object message is defined in objmsg.h; OBJ_HDR and
OBJ_BUF mirror its two structs (tests/python/test_mirror.py checks them)
for loads_bytes(), which decodes a message copied out of the group.
"""

import io
import pickle
import struct
import sys
import threading
import warnings

OBJ_HDR = struct.Struct("=IIQ")    # struct objmsg_hdr: magic, nbuf, stream_len
OBJ_BUF = struct.Struct("=QQ")     # struct objmsg_buf: off, len
OBJ_MAGIC = 0x35595049             # "IPY5"
OBJ_ALIGN = 64


def _rebuild_tensor(buf, dtype, shape):
    import torch
    with warnings.catch_warnings():
        # torch has no read-only tensors: it warns that the buffer is not
        # writable. The tensor is a view of the sender's data; writing to
        # it is an error the reader owns.
        warnings.simplefilter("ignore")
        t = torch.frombuffer(buf, dtype=torch.uint8) if len(buf) else torch.empty(0, dtype=torch.uint8)
    return t.view(getattr(torch, dtype)).reshape(shape)


def _reduce_tensor(t):
    import torch
    if t.device.type != "cpu" or t.requires_grad or t.layout != torch.strided or \
            t.is_quantized or type(t) is not torch.Tensor:
        return t.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
    t = t.detach().contiguous()
    raw = t.reshape(-1).view(torch.uint8) if t.numel() else torch.empty(0, dtype=torch.uint8)
    return _rebuild_tensor, (pickle.PickleBuffer(raw.numpy()), str(t.dtype)[len("torch."):],
                             tuple(t.shape))


def _reduce_memoryview(mv):
    return _rebuild_memoryview, (pickle.PickleBuffer(mv),)


def _rebuild_memoryview(buf):
    return memoryview(buf)


class _Pickler(pickle.Pickler):
    """Protocol 5 with tensors and memoryviews out of band. The process-wide
    copyreg table is left alone; reducer_override is only asked about
    objects of classes that are not built into pickle (numpy arrays,
    tensors, ...), so plain data pays nothing for it."""

    def reducer_override(self, obj):
        if type(obj) is memoryview:
            return _reduce_memoryview(obj)
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(obj, torch.Tensor):
            return _reduce_tensor(obj)
        return NotImplemented


class _State(threading.local):
    """One pickler per thread, reused: building one costs more than
    pickling a small object."""

    def __init__(self):
        self.file = io.BytesIO()
        self.buffers = []
        self.pickler = _Pickler(self.file, 5, buffer_callback=self.buffers.append)
        self.busy = False


_state = _State()


def send(send_pickled, obj, to, timeout_ms):
    """Pickle obj and hand the stream (a view of the pickler's buffer, not
    a copy) and its out-of-band buffers to send_pickled."""
    st = _state
    if st.busy:                         # pickling obj sent an object itself
        st = _State()
    st.busy = True
    try:
        st.pickler.dump(obj)
        with st.file.getbuffer() as stream:
            send_pickled(stream, st.buffers, to, timeout_ms)
    finally:
        del st.buffers[:]               # the caller's arrays are not kept
        st.pickler.clear_memo()
        st.file.seek(0)
        st.file.truncate()
        st.busy = False


def dumps(obj, buffers):
    """The pickle stream of obj (bytes); its out-of-band buffers appended
    to ``buffers``."""
    f = io.BytesIO()
    _Pickler(f, 5, buffer_callback=buffers.append).dump(obj)
    return f.getvalue()


def loads_bytes(data):
    """Decode an object message from its bytes (e.g. Message.bytes()): the
    buffers become views of ``data``."""
    mv = memoryview(data).cast("B")
    magic, nbuf, slen = OBJ_HDR.unpack_from(mv, 0)
    if magic != OBJ_MAGIC:
        raise ValueError("not an object message (magic %#x)" % magic)
    bufs = []
    for i in range(nbuf):
        off, n = OBJ_BUF.unpack_from(mv, OBJ_HDR.size + i * OBJ_BUF.size)
        bufs.append(mv[off:off + n])
    start = OBJ_HDR.size + nbuf * OBJ_BUF.size
    return pickle.loads(mv[start:start + slen], buffers=bufs)
