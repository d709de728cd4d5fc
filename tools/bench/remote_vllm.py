#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""remote_vllm.py - the round trip of tools/bench/run_remote.sh the way
vLLM's MessageQueue (vllm/distributed/device_communicators/shm_broadcast.py)
serves a reader on another node: the writer binds a ZeroMQ XPUB socket
(XPUB_VERBOSE), the remote reader connects a SUB socket; each message is
pickle.dumps(obj, HIGHEST_PROTOCOL, buffer_callback=...) sent with
send_multipart(copy=False) and read back with recv_multipart(copy=False)
and pickle.loads(). The object is the payload as a bytes object (pickled
in band, as pickle does with bytes). vLLM's queue has no ack; here the
reader acks with 8 bytes on a PUSH socket to the writer's PULL, so that a
sample is a round trip like the other contenders'.

    remote_vllm.py writer PUB_ADDR ACK_ADDR ITERS SIZES TARGET
    remote_vllm.py reader PUB_ADDR ACK_ADDR

ADDRs are tcp://HOST:PORT (the writer binds both, the reader connects).
Workload, iteration counts, CPU accounting and the JSON lines are those of
remote_common.h (system "vllm-zmq"). Needs Debian's python3-zmq.
"""
import json
import os
import pickle
import sys
import time

import zmq

SYSTEM = "vllm-zmq"


def iters_for(iters, size):
    """remote_common.h's remote_iters()."""
    n = int(iters * 65536.0 / size) if size > 65536 else iters
    return max(n, 20)


def netns_inodes():
    env = os.environ.get("IPCFS_BENCH_NETNS", "").split()
    if env:
        return {int(x) for x in env}
    return {os.stat("/proc/self/ns/net").st_ino}


def cpu_open(inodes):
    """remote_common.h's remote_cpu_open(): the schedstat files of every
    thread of every process in the simulated machines' network
    namespaces, open (a reading is then a pread of each)."""
    fds = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino not in inodes:
                continue
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                fds.append(os.open(f"/proc/{pid}/task/{tid}/schedstat", os.O_RDONLY))
            except OSError:
                pass
    return fds


def cpu_read(fds):
    """remote_common.h's remote_cpu_read(): CPU seconds so far."""
    total = 0
    for fd in fds:
        try:
            total += int(os.pread(fd, 96, 0).split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def cpu_close(fds):
    for fd in fds:
        os.close(fd)


def report(target, size, t, cpu_s):
    n = len(t)
    t.sort()
    i99 = max(0, -(-n * 99 // 100) - 1)
    print(json.dumps({"bench": "remote", "system": SYSTEM, "target": target,
                      "size": size, "iters": n,
                      "p50_us": round(t[(n - 1) // 2], 2),
                      "p99_us": round(t[i99], 2),
                      "mean_us": round(sum(t) / n, 2),
                      "cpu_ms_per_1k": round(cpu_s * 1e6 / n, 2)},
                     separators=(",", ":")), flush=True)


def enqueue(sock, obj):
    """vLLM's MessageQueue.enqueue(), remote part."""
    all_buffers = [b""]

    def oob_callback(buf):
        raw = buf.raw()
        if len(raw) < 1024 * 1024:
            return True
        all_buffers.append(raw)
        return False

    all_buffers[0] = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL,
                                  buffer_callback=oob_callback)
    sock.send_multipart(all_buffers, copy=False)


def dequeue(sock):
    """vLLM's MessageQueue.recv()."""
    frames = sock.recv_multipart(copy=False)
    return pickle.loads(frames[0], buffers=frames[1:])


def one(pub, ack, size, tag):
    # As an engine does: the object built, then handed to the queue.
    enqueue(pub, bytes((tag,)) * size)
    if ack.recv() != b"ackackak":
        sys.exit("remote_vllm: a wrong ack")


def writer(pub_addr, ack_addr, iters, sizes, target):
    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.XPUB_VERBOSE, True)
    pub.bind(pub_addr)
    ack = ctx.socket(zmq.PULL)
    ack.bind(ack_addr)
    # vLLM's wait_until_ready(): the reader's subscription, then READY.
    if pub.recv() != b"\x01":
        sys.exit("remote_vllm: expected a subscription")
    pub.send(b"READY")
    inodes = netns_inodes()
    for size in sizes:
        n = iters_for(iters, size)
        fds = cpu_open(inodes)
        for i in range(iters // 10 + 1):
            one(pub, ack, size, i & 0xFF)
        t = [0.0] * n
        cpu0 = cpu_read(fds)
        for i in range(n):
            t0 = time.monotonic_ns()
            one(pub, ack, size, i & 0xFF)
            t[i] = (time.monotonic_ns() - t0) / 1e3
        cpu = cpu_read(fds) - cpu0
        cpu_close(fds)
        report(target, size, t, cpu)
    enqueue(pub, b"x")
    ack.recv()
    pub.close(linger=1000)
    ack.close()
    ctx.term()


def reader(pub_addr, ack_addr):
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt_string(zmq.SUBSCRIBE, "")
    sub.connect(pub_addr)
    ack = ctx.socket(zmq.PUSH)
    ack.connect(ack_addr)
    if sub.recv() != b"READY":
        sys.exit("remote_vllm: expected READY")
    while True:
        obj = dequeue(sub)
        if not isinstance(obj, bytes) or (len(obj) > 1 and obj[0] != obj[-1]):
            sys.exit("remote_vllm: payload check failed")
        ack.send(b"ackackak")
        if len(obj) == 1:
            break
    sub.close()
    ack.close(linger=1000)
    ctx.term()


def main(argv):
    if len(argv) == 7 and argv[1] == "writer":
        sizes = [int(s) for s in argv[5].split(",")]
        if int(argv[4]) < 1 or any(s < 2 for s in sizes):
            sys.exit("remote_vllm: ITERS >= 1 and every size >= 2")
        writer(argv[2], argv[3], int(argv[4]), sizes, argv[6])
    elif len(argv) == 4 and argv[1] == "reader":
        reader(argv[2], argv[3])
    else:
        sys.exit("usage: remote_vllm.py writer PUB_ADDR ACK_ADDR ITERS SIZES TARGET |\n"
                 "       remote_vllm.py reader PUB_ADDR ACK_ADDR")


if __name__ == "__main__":
    main(sys.argv)
