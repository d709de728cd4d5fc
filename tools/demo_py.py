#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/demo_py.py GROUP_DIR STEPS - the Python part of `make demo`: a
driver (rank 0) broadcasts scheduler-output-like objects with a large
array inside to three worker processes, which use the array in place
(a read-only view of shared memory: no copy per worker) and report.
GROUP_DIR: a group of a mounted ipcfsd with 4 ranks and an arena, or a
plain directory (the group is then created here)."""
import multiprocessing as mp
import os
import sys
import time

import numpy as np
import ipcfs


def worker(group, ready):
    with ipcfs.join(group) as m:
        ready.put(m.rank)
        while True:
            step = m.recv_obj(src=0, timeout_ms=30000)
            if step is None:
                break
            px = step["pixel_values"]
            # Where the array lives: inside the message, in shared memory.
            base = px
            while isinstance(base, np.ndarray):
                base = base.base
            shared = isinstance(base, memoryview) and isinstance(base.obj, ipcfs.Message)
            # One write per line: three workers print at once, and print()
            # writes the text and its newline apart (lines ran together).
            os.write(1, ("  worker rank %d: step %d, %d requests, pixel_values %s sum %.0f, "
                         "read in place: %s\n" % (m.rank, step["step"], len(step["reqs"]),
                                                   px.shape, px.sum(dtype=np.float64),
                                                   shared)).encode())
            del px, base, step          # the views hold the message: drop them
            m.send(b"done", to=0)


def main():
    group, steps = sys.argv[1], int(sys.argv[2])
    if not os.path.exists(os.path.join(group, "shm")):
        ipcfs.create_group(group, ranks=4)
    ctx = mp.get_context("fork")
    ready = ctx.Queue()
    with ipcfs.join(group, 0) as m:
        procs = [ctx.Process(target=worker, args=(group, ready)) for _ in range(3)]
        for p in procs:
            p.start()
        m.wait_ranks(timeout_ms=30000)
        for step in range(steps):
            obj = {"step": step,
                   "reqs": [{"id": "req-%d" % i, "tokens": list(range(i, i + 16))} for i in range(32)],
                   "pixel_values": np.full((4, 3, 336, 336), step + 1, np.float32)}
            t0 = time.monotonic()
            m.send_obj(obj)             # pickle 5: the 5.4 MB array copied once, into the arena
            for _ in procs:
                m.recv(timeout_ms=30000).release()
            print("driver: step %d to 3 workers and back in %.2f ms" % (
                step, (time.monotonic() - t0) * 1000), flush=True)
            time.sleep(0.3)             # idle between steps, as an engine is
        m.send_obj(None)
        for p in procs:
            p.join(30)


if __name__ == "__main__":
    main()
