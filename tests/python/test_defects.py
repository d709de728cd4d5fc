# SPDX-License-Identifier: MIT
"""One test per defect of issue 10, each failing on the ctypes binding of
78c45e0 (run with IPCFS_PYTHONPATH pointing at it to see) and passing on
the extension. Crashes, hangs and signals are tried in child processes."""
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
import unittest

PKG = os.environ.get("IPCFS_PYTHONPATH") or \
    os.path.join(os.path.dirname(__file__), "..", "..", "build", "python")
sys.path.insert(0, PKG)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import ipcfs  # noqa: E402
from workloads import w1  # noqa: E402

PY = sys.executable
ENV = dict(os.environ, PYTHONPATH=PKG)


def child(code, *args, **kw):
    """Start ``code`` in a fresh interpreter that imports this ipcfs."""
    return subprocess.Popen([PY, "-c", "import sys\nsys.path.insert(0, %r)\n" % PKG +
                             textwrap.dedent(code)] + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, **kw)


def run(code, *args, timeout=60):
    p = child(code, *args)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("child still running after %d s (hung); stderr: %s" % (timeout, err))
    return p.returncode, out, err


class Dir:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="ipcfs-py.")
        self.dir = os.path.join(self.tmp, "g")

    def close(self):
        try:
            ipcfs.destroy_group(self.dir)
        except OSError:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)


class TestDefects(unittest.TestCase):
    def setUp(self):
        self.d = Dir()

    def tearDown(self):
        self.d.close()

    def test_1_views_survive_leave_and_gc(self):
        """Defect 1: an array read after leave() or after the Member was
        collected crashed the process (SIGSEGV)."""
        rc, out, err = run("""
            import gc, numpy as np, ipcfs
            d = sys.argv[1]
            ipcfs.create_group(d, ranks=3, arena_bytes=8 << 20)
            a, b = ipcfs.join(d, 0), ipcfs.join(d, 1)
            a.send_arrays({"x": np.arange(100000)}, to=1)
            msg = b.recv(src=0, timeout_ms=5000)
            x = msg.arrays()["x"]
            b.leave()                                   # message still held
            s1 = int(x.sum())
            b2 = ipcfs.join(d, 2)
            a.send_arrays({"x": np.arange(100000) * 2}, to=2)
            y = b2.recv(src=0, timeout_ms=5000).arrays()["x"]
            del b2, msg
            gc.collect()                                # the Member is gone
            s2 = int(y.sum())
            print(s1, s2)
        """, self.d.dir)
        self.assertEqual(rc, 0, "child died: rc %d, %s" % (rc, err))
        n = 100000
        self.assertEqual(out.split(), [str(n * (n - 1) // 2), str(n * (n - 1))])

    def test_2_views_do_not_go_stale(self):
        """Defect 2: views kept past release() changed when the sender
        reused the slot. Now release() refuses (BufferError) and the views
        keep the message held: the sender cannot overwrite it."""
        ipcfs.create_group(self.d.dir, ranks=2, slots=2, slot_bytes=4096, arena_bytes=0)
        a, b = ipcfs.join(self.d.dir, 0), ipcfs.join(self.d.dir, 1)
        a.send_arrays({"x": np.full(64, 7, np.int64)}, to=1)
        with self.assertRaises(BufferError):
            with b.recv(src=0, timeout_ms=5000) as msg:
                x = msg.arrays()["x"]
        # The sender fills the ring: its slot of x is not reused.
        sent = 0
        for i in range(8):
            try:
                a.send_arrays({"x": np.full(64, i, np.int64)}, to=1, timeout_ms=0)
                sent += 1
            except OSError:
                break
        self.assertLess(sent, 8)
        self.assertTrue((x == 7).all(), x)
        self.assertEqual(b.stat()["lag"], sent + 1)
        del x, msg
        self.assertEqual(b.stat()["lag"], sent)    # the last view handed it back
        a.leave()
        b.leave()

    def test_3_objects_with_arrays_and_tensors_share_memory(self):
        """Defect 3: no object broadcast; arrays were copied into the pickle."""
        import torch
        ipcfs.create_group(self.d.dir, ranks=2, arena_bytes=8 << 20)
        a, b = ipcfs.join(self.d.dir, 0), ipcfs.join(self.d.dir, 1)
        pix = np.random.rand(4, 3, 33, 33).astype(np.float32)
        t = torch.arange(2048, dtype=torch.int64)
        bf = torch.ones(5, 7, dtype=torch.bfloat16) * 1.5
        a.send_obj({"pixel_values": pix, "input_ids": t, "bf": bf, "meta": ("x", 17),
                    "raw": memoryview(b"abc")}, to=1)
        obj = b.recv_obj(src=0, timeout_ms=5000)
        self.assertTrue(np.array_equal(obj["pixel_values"], pix))
        self.assertFalse(obj["pixel_values"].flags.writeable)
        self.assertTrue(torch.equal(obj["input_ids"], t))
        self.assertEqual(obj["bf"].dtype, torch.bfloat16)
        self.assertTrue(torch.equal(obj["bf"], bf))
        self.assertEqual((obj["meta"], bytes(obj["raw"])), (("x", 17), b"abc"))
        # Views, not copies: they hold the message until the last is gone.
        self.assertEqual(b.held, 1)
        base = obj["pixel_values"]
        while isinstance(base, np.ndarray):
            base = base.base
        self.assertIsInstance(base, memoryview)
        self.assertIsInstance(base.obj, ipcfs.Message)
        del base
        p, ids = obj["pixel_values"], obj["input_ids"]
        del obj
        self.assertEqual(b.held, 1)
        del p
        self.assertEqual(b.held, 1)                 # the tensor still holds it
        self.assertEqual(int(ids.sum()), 2047 * 2048 // 2)
        del ids
        self.assertEqual(b.held, 0)
        a.leave()
        b.leave()

    def test_4_default_group_carries_any_size(self):
        """Defect 4: a default group could not carry a 6.2 KB pickle, and
        the error named no limit."""
        ipcfs.create_group(self.d.dir)
        a, b = ipcfs.join(self.d.dir), ipcfs.join(self.d.dir)
        data = pickle.dumps(w1(3), protocol=5)
        self.assertGreater(len(data), 6000)
        a.send(data, to=b.rank, timeout_ms=5000)
        msg = b.recv(src=a.rank, timeout_ms=5000)
        self.assertEqual(pickle.loads(msg.bytes()), w1(3))
        msg.release()
        a.leave()
        b.leave()
        ipcfs.destroy_group(self.d.dir)
        ipcfs.create_group(self.d.dir, ranks=2, arena_bytes=1 << 20)
        a = ipcfs.join(self.d.dir)
        with self.assertRaises(OSError) as e:
            a.send(bytes(2 << 20), to=1, timeout_ms=0)
        text = str(e.exception)
        for word in ("2097152", "slot_bytes", "arena_bytes", "4096", "1048576"):
            self.assertIn(word, text)
        self.assertTrue(e.exception.errno)
        a.leave()

    def test_5_wait_ranks_never_hangs_and_names_the_missing(self):
        """Defect 5: with the defaults (8 ranks) a 4-process job hung for
        ever in wait_ranks(); the timeout error named no rank."""
        rc, out, err = run("""
            import ipcfs
            d = sys.argv[1]
            ipcfs.create_group(d)
            ms = [ipcfs.join(d) for _ in range(4)]
            ipcfs.WAIT_RANKS_TIMEOUT_MS = 300           # the default, shortened
            try:
                ms[0].wait_ranks()
            except TimeoutError as e:
                print(e.errno, e)
        """, self.d.dir, timeout=30)
        self.assertEqual(rc, 0, err)
        self.assertIn("110", out)
        self.assertIn("4, 5, 6, 7", out)

    def test_6_sigkilled_creator_leaves_nothing(self):
        """Defect 6: after SIGKILL of the creator the segment stayed in
        /dev/shm for ever and create_group() failed with EEXIST."""
        p = child("""
            import ipcfs, time
            ipcfs.create_group(sys.argv[1], ranks=4, arena_bytes=8 << 20)
            print(open(sys.argv[1] + "/shm").read().strip(), flush=True)
            time.sleep(600)
        """, self.d.dir)
        try:
            seg = p.stdout.readline().strip()
            self.assertTrue(seg and os.path.exists(seg), p.stderr.read() if not seg else seg)
            p.send_signal(signal.SIGKILL)
            p.wait(30)
        finally:
            _end(p)
        deadline = time.monotonic() + 30
        while os.path.exists(seg) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(os.path.exists(seg), "the segment of a killed creator stays")
        ipcfs.create_group(self.d.dir, ranks=4)     # re-create works
        m = ipcfs.join(self.d.dir)
        self.assertEqual(m.size, 4)
        m.leave()

    def test_7_signals_interrupt_a_blocked_recv_and_lose_nothing(self):
        """Defect 7: a process blocked in recv() ignored Ctrl-C."""
        ipcfs.create_group(self.d.dir, ranks=2)
        p = child("""
            import ipcfs
            m = ipcfs.join(sys.argv[1], 1)
            print("ready", flush=True)
            try:
                m.recv(src=0)
            except KeyboardInterrupt:
                print("interrupted", flush=True)
            print("got", m.recv(src=0, timeout_ms=30000).bytes().decode(), flush=True)
        """, self.d.dir)
        try:
            self.assertEqual(p.stdout.readline().strip(), "ready")
            time.sleep(0.2)
            p.send_signal(signal.SIGINT)
            line = _readline(p, 20)
            self.assertEqual(line, "interrupted", "the blocked recv() ran no signal handler")
            a = ipcfs.join(self.d.dir, 0)
            a.send(b"hello", to=1)
            self.assertEqual(_readline(p, 20), "got hello")
            a.leave()
        finally:
            _end(p)

    def test_7_sigterm_handler_runs_in_blocked_send_and_wait_ranks(self):
        """Defect 7 (the other waits): a SIGTERM handler runs while a send
        waits for room (back pressure) and while wait_ranks() waits."""
        ipcfs.create_group(self.d.dir, ranks=3, slots=2, arena_bytes=0)
        reader = ipcfs.join(self.d.dir, 1)      # joined, never reads: the ring fills
        p = child("""
            import signal, ipcfs
            class Term(Exception):
                pass
            def on_term(sig, frame):
                raise Term()
            signal.signal(signal.SIGTERM, on_term)
            m = ipcfs.join(sys.argv[1], 0)
            for i in range(2):
                m.send(b"x", to=1)
            print("ready", flush=True)
            try:
                m.send(b"x", to=1)              # blocks: both slots held by rank 1
            except Term:
                print("send interrupted", flush=True)
            try:
                m.wait_ranks(timeout_ms=-1)     # rank 2 never joins
            except Term:
                print("wait interrupted", flush=True)
        """, self.d.dir)
        try:
            self.assertEqual(_readline(p, 20), "ready")
            time.sleep(0.2)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(_readline(p, 20), "send interrupted")
            time.sleep(0.2)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(_readline(p, 20), "wait interrupted")
            self.assertEqual(p.wait(20), 0)
        finally:
            _end(p)
            reader.leave()

    def test_8_no_ctypes_on_the_hot_path(self):
        """Defect 8: each new message length built a ctypes array type."""
        ipcfs.create_group(self.d.dir, ranks=2, arena_bytes=1 << 20)
        rc, out, err = run("""
            import ipcfs
            a, b = ipcfs.join(sys.argv[1], 0), ipcfs.join(sys.argv[1], 1)
            for n in range(1, 3000, 7):
                a.send(bytes(n), to=1)
                with b.recv(src=0, timeout_ms=5000) as m:
                    assert m.len == n
            print("ctypes" in sys.modules, "torch" in sys.modules, "numpy" in sys.modules)
        """, self.d.dir)
        # Neither ctypes nor (for bytes) torch or numpy is imported.
        self.assertEqual((rc, out.split()), (0, ["False", "False", "False"]), err)

    def test_9_send_copies_once(self):
        """Defect 9: send(bytes) copied the payload twice (a temporary of
        its size on the way)."""
        ipcfs.create_group(self.d.dir, ranks=2, arena_bytes=16 << 20)
        a, b = ipcfs.join(self.d.dir, 0), ipcfs.join(self.d.dir, 1)
        data = os.urandom(5400000)
        tracemalloc.start()
        try:
            a.send(data, to=1, timeout_ms=5000)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.assertLess(peak, 1 << 20, "send allocated %d bytes for a %d-byte message"
                        % (peak, len(data)))
        with b.recv(src=0, timeout_ms=5000) as m:
            self.assertEqual(m.bytes(), data)
        a.leave()
        b.leave()


def _end(p):
    """Kill a child if it still runs, reap it, close its pipes."""
    p.kill()
    p.wait()
    p.stdout.close()
    p.stderr.close()


def _readline(p, timeout):
    """A line of the child's stdout, or None after ``timeout`` s."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    ok = sel.select(timeout)
    sel.close()
    return p.stdout.readline().strip() if ok else None


if __name__ == "__main__":
    unittest.main()
