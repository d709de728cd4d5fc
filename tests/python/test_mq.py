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


def pg_member(rank, world, port, results):
    """A rank of a gloo group making a queue with create_from_process_group."""
    try:
        sys.path.insert(0, os.environ.get("IPCFS_PYTHONPATH") or
                        os.path.join(os.path.dirname(__file__), "..", "..", "build", "python"))
        import torch.distributed as dist
        from ipcfs.mq import MessageQueue
        dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank,
                                world_size=world)
        q = MessageQueue.create_from_process_group(dist.group.WORLD, 1 << 20, 4)
        got = q.broadcast_object({"step": 1, "a": np.arange(10)} if rank == 0 else None)
        assert got["step"] == 1 and int(got["a"].sum()) == 45
        dist.barrier()
        q.close()
        dist.destroy_process_group()
        results.put((rank, "ok"))
    except BaseException as e:  # reported to the parent
        results.put((rank, repr(e)))


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

    def test_reader_ranks_and_cancel(self):
        import threading
        q = MessageQueue(n_reader=2, n_local_reader=2, local_reader_ranks=[5, 7])
        h = pickle.loads(pickle.dumps(q.export_handle()))
        with self.assertRaises(ValueError):
            MessageQueue.create_from_handle(h, 6)
        r7 = MessageQueue.create_from_handle(h, 7)
        r5 = MessageQueue.create_from_handle(h, 5)
        self.assertEqual((r5.local_reader_rank, r7.local_reader_rank), (0, 1))
        q.wait_until_ready(timeout=5)
        q.enqueue("x")
        self.assertEqual((r5.dequeue(timeout=5), r7.dequeue(timeout=5)), ("x", "x"))
        cancel = threading.Event()
        threading.Timer(0.2, cancel.set).start()
        with self.assertRaises(RuntimeError):
            r5.dequeue(cancel=cancel)
        with self.assertRaises(TimeoutError):
            r5.dequeue(timeout=0.15, cancel=threading.Event())
        for x in (r5, r7, q):
            x.close()

    def test_create_from_process_group(self):
        ctx = mp.get_context("spawn")
        results = ctx.Queue()
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        procs = [ctx.Process(target=pg_member, args=(r, 3, port, results)) for r in range(3)]
        for p in procs:
            p.start()
        got = sorted(results.get(timeout=120) for _ in procs)
        for p in procs:
            p.join(30)
        self.assertEqual(got, [(0, "ok"), (1, "ok"), (2, "ok")])

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
