# SPDX-License-Identifier: MIT
"""ipcfs.mq.MessageQueue (the shape of vLLM's shm_broadcast.MessageQueue):
one writer, reader processes, objects with and without large arrays,
ordering, timeouts, a reader that dies."""
import multiprocessing as mp
import os
import pickle
import signal
import sys
import time
import unittest

sys.path.insert(0, os.environ.get("IPCFS_PYTHONPATH") or
                os.path.join(os.path.dirname(__file__), "..", "..", "build", "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import ipcfs  # noqa: E402
from ipcfs.mq import MessageQueue  # noqa: E402
from workloads import w1, w2, w3  # noqa: E402

N = 60


def reader(handle, rank, results, die_after=None):
    """Dequeue N objects, check each and its order; report a checksum."""
    try:
        q = MessageQueue.create_from_handle(handle, rank)
        q.wait_until_ready(timeout=30)
        total = 0
        for i in range(N):
            if die_after is not None and i == die_after:
                os.kill(os.getpid(), signal.SIGKILL)
            obj = q.dequeue(timeout=30)
            kind, step, body = obj
            assert step == i, (step, i)
            if kind == "w1":
                assert body == w1(i)
            elif kind == "w2":
                assert body == w2(i)
            else:
                px = body["pixel_values"]
                assert not px.flags.writeable and px.shape == (4, 3, 336, 336)
                assert int(body["input_ids"][0]) == i and float(px[3, 2, 335, 335]) == i % 7
                total += int(body["image_grid"].sum())
                del px
        last = q.broadcast_object()
        results.put((rank, "ok", total, last))
        q.close()
    except BaseException as e:  # reported to the parent
        results.put((rank, repr(e), 0, None))


def objects():
    for i in range(N):
        kind = ("w1", "w2", "w3")[i % 3]
        body = w1(i) if kind == "w1" else w2(i) if kind == "w2" else w3(i, np)
        yield kind, i, body


class TestMessageQueue(unittest.TestCase):
    def run_readers(self, n, die=None):
        ctx = mp.get_context("fork")
        q = MessageQueue(n_reader=n, max_chunk_bytes=6 << 20, max_chunks=4)
        handle = pickle.loads(pickle.dumps(q.export_handle()))   # picklable
        results = ctx.Queue()
        procs = [ctx.Process(target=reader, args=(handle, r, results, die if r == 0 else None))
                 for r in range(n)]
        for p in procs:
            p.start()
        try:
            q.wait_until_ready(timeout=30)
            want = 0
            for kind, i, body in objects():
                q.enqueue((kind, i, body), timeout=30)
                if kind == "w3":
                    want += int(body["image_grid"].sum())
            self.assertEqual(q.broadcast_object("done"), "done")
            got = sorted(results.get(timeout=60) for _ in range(n - (die is not None)))
        finally:
            for p in procs:
                p.join(30)
                if p.is_alive():
                    p.kill()
            q.close()
        return got, want

    def test_three_readers_in_order(self):
        got, want = self.run_readers(3)
        self.assertEqual(got, [(r, "ok", want, "done") for r in range(3)])

    def test_a_reader_that_dies(self):
        got, want = self.run_readers(3, die=10)
        self.assertEqual(got, [(r, "ok", want, "done") for r in (1, 2)])

    def test_timeouts_and_roles(self):
        q = MessageQueue(n_reader=1)
        r = MessageQueue.create_from_handle(q.export_handle(), 0)
        q.wait_until_ready(timeout=5)
        with self.assertRaises(TimeoutError):
            r.dequeue(timeout=0.05)
        with self.assertRaises(RuntimeError):
            r.enqueue(1)
        q.enqueue({"a": 1})
        self.assertEqual(r.dequeue(timeout=5), {"a": 1})
        r.close()
        # The only reader left: the writer is told, not left waiting.
        with self.assertRaises(ConnectionError) as e:
            q.enqueue(2)
        self.assertTrue(e.exception.errno)
        q.close()

    def test_wait_until_ready_names_missing_readers(self):
        q = MessageQueue(n_reader=2)
        t0 = time.monotonic()
        with self.assertRaises(TimeoutError) as e:
            q.wait_until_ready(timeout=0.2)
        self.assertIn("1, 2", str(e.exception))
        self.assertLess(time.monotonic() - t0, 60)
        q.close()


if __name__ == "__main__":
    unittest.main()
