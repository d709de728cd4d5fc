# SPDX-License-Identifier: MIT
"""Every structure shared between C and Python has the same size and
offsets on both sides: objmsg.h (C, compiled into the extension) against
the struct formats of ipcfs/_objects.py."""
import os
import struct
import sys
import unittest

sys.path.insert(0, os.environ.get("IPCFS_PYTHONPATH") or
                os.path.join(os.path.dirname(__file__), "..", "..", "build", "python"))
import ipcfs  # noqa: E402
from ipcfs import _native, _objects  # noqa: E402


def offsets(st, names):
    """Offsets of the fields of struct format ``st`` (no padding: '=')."""
    fmt, out, codes = st.format, {}, st.format.lstrip("=<>!@")
    prefix = fmt[0] if fmt[0] in "=<>!@" else ""
    for i, name in enumerate(names):
        out[name] = struct.calcsize(prefix + codes[:i])
    return out


class TestMirror(unittest.TestCase):
    def test_objmsg(self):
        c = _native._layout()
        size, offs = c["objmsg_hdr"]
        self.assertEqual(size, _objects.OBJ_HDR.size)
        self.assertEqual(offs, offsets(_objects.OBJ_HDR, ["magic", "nbuf", "stream_len"]))
        size, offs = c["objmsg_buf"]
        self.assertEqual(size, _objects.OBJ_BUF.size)
        self.assertEqual(offs, offsets(_objects.OBJ_BUF, ["off", "len"]))
        self.assertEqual(c["magic"], _objects.OBJ_MAGIC)
        self.assertEqual(c["align"], _objects.OBJ_ALIGN)

    def test_python_decoder_reads_what_c_wrote(self):
        """The mirrors in use: a message written by the extension, copied
        out as bytes, decoded by the struct formats alone."""
        import numpy as np
        import tempfile
        d = os.path.join(tempfile.mkdtemp(prefix="ipcfs-py."), "g")
        ipcfs.create_group(d, ranks=2, arena_bytes=1 << 20)
        try:
            a, b = ipcfs.join(d, 0), ipcfs.join(d, 1)
            obj = {"x": np.arange(1000, dtype=np.int32), "y": [1, "two"]}
            a.send_obj(obj, to=1)
            with b.recv(src=0, timeout_ms=5000) as m:
                raw = m.bytes()
            back = ipcfs.loads_bytes(raw)
            self.assertEqual(back["y"], [1, "two"])
            self.assertTrue((back["x"] == obj["x"]).all())
            a.leave()
            b.leave()
        finally:
            ipcfs.destroy_group(d)
            os.rmdir(os.path.dirname(d))


if __name__ == "__main__":
    unittest.main()
