# SPDX-License-Identifier: MIT
"""Tests of the Python binding: bytes and typed messages between processes,
numpy views without copies, release on garbage collection."""
import errno
import gc
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import unittest

# The staged package of the build (tests/shell/python.sh sets the path).
sys.path.insert(0, os.environ.get("IPCFS_PYTHONPATH") or
                os.path.join(os.path.dirname(__file__), "..", "..", "build", "python"))
import numpy as np  # noqa: E402
import ipcfs  # noqa: E402


class Group:
    def __init__(self, **params):
        self.tmp = tempfile.mkdtemp(prefix="ipcfs-py.")
        self.dir = os.path.join(self.tmp, "g")
        ipcfs.create_group(self.dir, **params)

    def close(self):
        ipcfs.destroy_group(self.dir)
        shutil.rmtree(self.tmp, ignore_errors=True)


def worker(dir, rank, n, q):
    """Receive n dicts of arrays from rank 0, check them, ack each."""
    try:
        with ipcfs.join(dir, rank) as m:
            for i in range(n):
                with m.recv(src=0, timeout_ms=20000) as msg:
                    a = msg.arrays()
                    ids = a["token_ids"]
                    assert ids.dtype == np.int64 and ids.shape == (4, 16), ids.shape
                    assert (ids == np.arange(64).reshape(4, 16) + i).all()
                    assert a["temperature"].shape == () and float(a["temperature"]) == 0.5
                    assert not ids.flags.writeable
                    del a, ids          # views hold the message: gone before release
                m.send(np.int64(i).tobytes(), to=0)
        q.put((rank, "ok"))
    except Exception as e:  # reported to the parent
        q.put((rank, repr(e)))


class TestIpcfs(unittest.TestCase):
    def setUp(self):
        self.g = Group(ranks=4, slots=8, slot_bytes=4096, arena_bytes=8 << 20)

    def tearDown(self):
        self.g.close()

    def test_bytes_and_errors(self):
        a, b = ipcfs.join(self.g.dir, 0), ipcfs.join(self.g.dir, 1)
        self.assertEqual((a.rank, b.rank, a.size), (0, 1, 4))
        a.send(b"hello", to=1)
        with b.recv(src=0, timeout_ms=0) as msg:
            self.assertEqual(msg.bytes(), b"hello")
            self.assertEqual((msg.src, msg.seq, msg.kind), (0, 1, ipcfs.KIND_RAW))
            self.assertTrue(msg.data.readonly)
        with self.assertRaises(ipcfs.IpcfsError) as e:
            b.recv(src=0, timeout_ms=0)
        self.assertEqual(e.exception.errno, ipcfs.EAGAIN)
        with self.assertRaises(ipcfs.IpcfsError) as e:
            a.send(b"x", to=3)           # not joined
        self.assertEqual(e.exception.errno, ipcfs.ENOTCONN)
        a.send(b"", to=1)                # empty messages work too
        msg = b.recv(src=0, timeout_ms=0)
        self.assertEqual(msg.len, 0)
        self.assertEqual(b.stat()["lag"], 1)
        msg.release()
        self.assertEqual(b.stat()["lag"], 0)
        with self.assertRaises(BufferError):
            msg.data
        self.assertEqual(b.stat()["recv"], 2)
        a.leave()
        b.leave()

    def test_a_long_wait_counts_one_timeout(self):
        # The wait checks for signals every 50 ms; those checks are not
        # timeouts (before: every 50 ms slice counted one in stat).
        a, b = ipcfs.join(self.g.dir, 0), ipcfs.join(self.g.dir, 1)
        with self.assertRaises(ipcfs.IpcfsTimeoutError):
            b.recv(src=0, timeout_ms=400)
        self.assertEqual(b.stat()["timeouts"], 1)
        a.send(b"late", to=1)
        with b.recv(src=0, timeout_ms=1000) as msg:
            self.assertEqual(msg.bytes(), b"late")
        a.leave()
        b.leave()

    def test_recv_obj_of_a_raw_message_loses_nothing(self):
        a, b = ipcfs.join(self.g.dir, 0), ipcfs.join(self.g.dir, 1)
        a.send(b"not a pickle", to=1)
        with self.assertRaises(ipcfs.IpcfsError) as e:
            b.recv_obj(src=0, timeout_ms=1000)
        self.assertEqual(e.exception.errno, errno.EBADMSG)
        self.assertIn("send_obj", str(e.exception))
        with e.exception.message as m:          # the message, still held
            self.assertEqual(m.bytes(), b"not a pickle")
        del e
        self.assertEqual(b.stat()["lag"], 0)
        a.leave()
        b.leave()

    def test_large_payload_zero_copy_and_release_on_gc(self):
        a, b = ipcfs.join(self.g.dir, 0), ipcfs.join(self.g.dir, 1)
        big = np.arange(1 << 20, dtype=np.float32)          # 4 MiB: arena
        a.send_arrays({"x": big}, to=1)
        msg = b.recv(src=0, timeout_ms=1000)
        x = msg.arrays()["x"]
        self.assertTrue((x == big).all())
        # The array is a view of the message's bytes, not a copy.
        addr = x.__array_interface__["data"][0]
        self.assertTrue(0 <= addr - ctypes_addr(msg) < msg.len)
        # Dropping the message keeps the view alive while x lives...
        del msg
        gc.collect()
        self.assertGreater(b.stat(1)["lag"], 0)
        # ...and hands it back once x is gone too.
        del x
        gc.collect()
        self.assertEqual(b.stat(1)["lag"], 0)
        # 4 MiB twice more fits the 8 MiB arena only if the first was freed.
        for _ in range(2):
            a.send_arrays({"x": big}, to=1, timeout_ms=1000)
            with b.recv(src=0, timeout_ms=1000) as m2:
                self.assertEqual(m2.arrays()["x"][-1], big[-1])
        a.leave()
        b.leave()

    def test_build_in_place(self):
        a, b = ipcfs.join(self.g.dir, 0), ipcfs.join(self.g.dir, 1)
        views, commit = a.build({"ids": (np.int64, (3,)), "w": (np.float16, (2, 2))})
        views["ids"][:] = [7, 8, 9]
        views["w"][:] = 1.5
        commit(to=[1])
        with b.recv(timeout_ms=0) as msg:
            arr = msg.arrays()
            self.assertEqual(arr["ids"].tolist(), [7, 8, 9])
            self.assertEqual(arr["w"].dtype, np.float16)
            self.assertEqual(arr["w"].sum(), 6.0)
            del arr
        a.leave()
        b.leave()

    def test_fork_child_neither_uses_nor_leaves_the_parents_rank(self):
        a, b = ipcfs.join(self.g.dir, 0), ipcfs.join(self.g.dir, 1)
        a.send(b"one", to=1)
        held = b.recv(src=0, timeout_ms=1000)
        pid = os.fork()
        if pid == 0:                    # the child drops its copies and exits normally
            code = 0
            try:
                try:
                    a.send(b"x", to=1)
                    code = 2            # it must not send as the parent's rank
                except ipcfs.IpcfsError as e:
                    code = 0 if e.errno == ipcfs.ENOTCONN else 3
                del held
                a.leave()
                del a, b
                gc.collect()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertEqual(a.live(), [0, 1])          # still ours
        self.assertEqual(b.stat()["lag"], 1)        # not released by the child
        held.release()
        a.send(b"two", to=1)
        with b.recv(src=0, timeout_ms=1000) as m:
            self.assertEqual(m.bytes(), b"two")
        a.leave()
        b.leave()

    def test_threads_release_and_leave_while_another_receives(self):
        import threading
        import time
        a, b = ipcfs.join(self.g.dir, 0), ipcfs.join(self.g.dir, 1)
        a.send(b"first", to=1)
        held = b.recv(src=0, timeout_ms=1000)
        out = []

        def receiver():
            try:
                out.append(b.recv(src=0))       # blocks: nothing more is sent
            except BaseException as e:          # reported to the test
                out.append(e)
        t = threading.Thread(target=receiver)
        t.start()
        time.sleep(0.1)
        # Released while the other thread is inside the library: handed
        # back by that thread after its slice.
        held.release()
        deadline = time.monotonic() + 10
        while a.stat(1)["lag"] and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(a.stat(1)["lag"], 0)
        # Leaving while it waits: it gets ENOTCONN, then the rank is left.
        b.leave()
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertIsInstance(out[0], ipcfs.IpcfsNotConnectedError)
        self.assertFalse(b.mapped)
        self.assertEqual(a.live(), [0])
        a.leave()

    def test_driver_and_three_workers(self):
        n = 50
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        procs = [ctx.Process(target=worker, args=(self.g.dir, r, n, q)) for r in (1, 2, 3)]
        for p in procs:
            p.start()
        with ipcfs.join(self.g.dir, 0) as m:
            m.wait_ranks(timeout_ms=20000)
            for i in range(n):
                m.send_arrays({"token_ids": np.arange(64).reshape(4, 16) + i,
                               "temperature": np.float32(0.5)})
                acks = set()
                for _ in range(3):
                    with m.recv(timeout_ms=20000) as ack:
                        self.assertEqual(int(np.frombuffer(ack.bytes(), np.int64)[0]), i)
                        acks.add(ack.src)
                self.assertEqual(acks, {1, 2, 3})
        results = sorted(q.get(timeout=30) for _ in procs)
        for p in procs:
            p.join(10)
        self.assertEqual(results, [(1, "ok"), (2, "ok"), (3, "ok")])


def ctypes_addr(msg):
    """Address of the message's bytes in this process (the temporary view
    is gone when this returns)."""
    return np.frombuffer(msg.data, np.uint8).__array_interface__["data"][0]


if __name__ == "__main__":
    unittest.main()
