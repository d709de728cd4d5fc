# SPDX-License-Identifier: MIT
"""ipcfs._span and the parts of ipcfs.mq for readers on other nodes that
need no second machine: the layout of ranks over nodes, the nodes text,
addresses, the handle, and the errors of arguments and handles that do not
fit. The queue across two nodes itself: tests/shell/bridge_python.sh."""
import errno
import os
import pickle
import sys
import unittest

sys.path.insert(0, os.environ.get("IPCFS_PYTHONPATH") or
                os.path.join(os.path.dirname(__file__), "..", "..", "build", "python"))
import ipcfs  # noqa: E402
from ipcfs import _span  # noqa: E402
from ipcfs.mq import Handle, MessageQueue  # noqa: E402


class TestText(unittest.TestCase):
    def test_ranks(self):
        self.assertEqual(_span.format_ranks([5, 0, 1, 2, 7, 8]), "0-2,5,7-8")
        self.assertEqual(_span.format_ranks([3]), "3")
        self.assertEqual(_span.parse_ranks("0-2,5,7-8"), [0, 1, 2, 5, 7, 8])

    def test_nodes(self):
        text = "# comment\na tcp://10.0.0.1:7100 0-1\nb tcp://10.0.0.2:7100 2,3\n"
        self.assertEqual(_span.parse_nodes(text), {
            "a": ("tcp://10.0.0.1:7100", frozenset({0, 1})),
            "b": ("tcp://10.0.0.2:7100", frozenset({2, 3}))})

    def test_address(self):
        self.assertEqual(_span.parse_address("10.0.0.2", 7100), ("10.0.0.2", 7100))
        self.assertEqual(_span.parse_address("tcp://10.0.0.2:9", 7100), ("10.0.0.2", 9))
        self.assertEqual(_span.parse_address("10.0.0.2:9"), ("10.0.0.2", 9))
        for bad in ("host.example", "10.0.0", "tcp://10.0.0.2:0", "10.0.0.2:x", "::1"):
            with self.assertRaises(ValueError, msg=bad) as e:
                _span.parse_address(bad, 1)
            self.assertIn("IPv4", str(e.exception) + "IPv4")

    def test_span(self):
        s = _span.Span("mq-1", [("a", "tcp://10.0.0.1:5", [0, 1]), ("b", "tcp://10.0.0.2:5", [2])],
                       {"ranks": 3, "slots": 4, "node_timeout_ms": None})
        self.assertEqual(s.nodes_text(), "a tcp://10.0.0.1:5 0-1\nb tcp://10.0.0.2:5 2\n")
        self.assertEqual(s.create_command(), "create mq-1 ranks=3 slots=4\n")
        self.assertEqual(s.node_of(2), ("b", "10.0.0.2"))
        with self.assertRaises(ValueError):
            s.node_of(3)


class TestLayout(unittest.TestCase):
    A = ("10.0.0.1", 7100)

    def test_vllm_default_numbering(self):
        # vLLM's executor: readers 0..n_reader-1, the first n_local_reader local.
        local, remote, nodes = _span.layout(4, 2, None, {"b": ("10.0.0.2", [2, 3])}, "a", self.A)
        self.assertEqual((local, remote), ([0, 1], [2, 3]))
        self.assertEqual(nodes, [("a", "tcp://10.0.0.1:7100", [0, 1, 2]),
                                 ("b", "tcp://10.0.0.2:7100", [3, 4])])

    def test_explicit_ranks_and_nodes(self):
        local, remote, nodes = _span.layout(
            4, None, [3], {"b": ("tcp://10.0.0.2:9", [1]), "c": ("10.0.0.3", [0, 2])}, "a",
            self.A)
        self.assertEqual((local, remote), ([3], [1, 0, 2]))
        self.assertEqual(nodes, [("a", "tcp://10.0.0.1:7100", [0, 1]),
                                 ("b", "tcp://10.0.0.2:9", [2]),
                                 ("c", "tcp://10.0.0.3:7100", [3, 4])])
        # Only remote readers.
        local, remote, nodes = _span.layout(2, 0, None, {"b": ("10.0.0.2", [0, 1])}, "a", self.A)
        self.assertEqual((local, nodes[0][2]), ([], [0]))

    def test_errors(self):
        b = {"b": ("10.0.0.2", [2, 3])}
        bad = [
            (4, 1, None, b, "a", "n_local_reader"),           # 2 local, not 1
            (1, None, None, b, "a", "n_local_reader"),        # more remote than readers
            (4, None, [0, 2], b, "a", "local_reader_ranks"),  # 2 is remote
            (4, None, None, {"a": ("10.0.0.2", [2, 3])}, "a", "writer's node"),
            (4, None, None, {"b c": ("10.0.0.2", [2, 3])}, "a", "names"),
            (4, None, None, {"b": ("10.0.0.2", [])}, "a", "at least one"),
            (4, None, None, {"b": ("10.0.0.2", [2]), "c": ("10.0.0.3", [2, 3])}, "a", "one node"),
            (4, None, None, {"b": ("10.0.0.1", [2, 3])}, "a", "also node 'a'"),
            (4, None, None, {"b": "10.0.0.2"}, "a", "(address, [reader ranks])"),
            (4, None, None, b, "no/slash", "node name"),
        ]
        for n, nl, lr, rn, node, words in bad:
            with self.assertRaises(ValueError, msg=(rn, words)) as e:
                _span.layout(n, nl, lr, rn, node, self.A)
            self.assertIn(words, str(e.exception))


def not_here(n):
    """n IPv4 addresses of no interface of this machine (documentation
    ranges, RFC 5737; one of them may be a test machine's own)."""
    import socket
    out = []
    for net in ("192.0.2", "198.51.100", "203.0.113"):
        for host in range(1, 40):
            ip = "%s.%d" % (net, host)
            s = socket.socket()
            try:
                s.bind((ip, 0))
            except OSError:
                out.append(ip)
            finally:
                s.close()
            if len(out) == n:
                return out
    raise unittest.SkipTest("no address that is not this machine's")


class TestNode(unittest.TestCase):
    def test_name_and_address(self):
        env = dict(os.environ)
        try:
            os.environ.update(IPCFS_NODE="n1", IPCFS_HOST_IP="10.1.2.3", MASTER_ADDR="127.0.0.1")
            self.assertEqual((_span.node_name(), _span.host_ip()), ("n1", "10.1.2.3"))
            del os.environ["IPCFS_HOST_IP"]
            os.environ.pop("VLLM_HOST_IP", None)
            ip = None
            try:
                ip = _span.host_ip()    # the default route's source, if there is one
            except ipcfs.IpcfsError as e:
                self.assertEqual(e.errno, errno.EADDRNOTAVAIL)
                self.assertIn("IPCFS_HOST_IP", str(e))
            if ip is not None:
                self.assertFalse(ip.startswith("127."), ip)
                self.assertEqual(_span.check_local(ip, "x") > 0, True)
        finally:
            os.environ.clear()
            os.environ.update(env)


class TestHandle(unittest.TestCase):
    def test_pickles_with_its_layout(self):
        s = _span.Span("mq-1", [("a", "tcp://10.0.0.1:5", [0, 1]), ("b", "tcp://10.0.0.2:5", [2])],
                       {"ranks": 3})
        h = pickle.loads(pickle.dumps(Handle("/m/groups/mq-1", 2, [0], [1], s)))
        self.assertEqual((h.local_reader_ranks, h.remote_reader_ranks), ([0], [1]))
        self.assertEqual(h.remote_subscribe_addr, "tcp://10.0.0.1:5")
        self.assertEqual(h.span.nodes, s.nodes)
        self.assertIsNone(Handle("/tmp/g", 2).remote_subscribe_addr)
        with self.assertRaises(ValueError) as e:
            MessageQueue.create_from_handle(h, 5)
        self.assertIn("remote_reader_ranks [1]", str(e.exception))

    def test_reader_on_the_wrong_node(self):
        ipa, ipb = not_here(2)
        s = _span.Span("mq-1", [("a", "tcp://%s:5" % ipa, [0, 1]), ("b", "tcp://%s:5" % ipb, [2])],
                       {"ranks": 3})
        h = Handle("/nonexistent/groups/mq-1", 2, [0], [1], s)
        for rank, node in ((0, "'a'"), (1, "'b'")):
            with self.assertRaises(ipcfs.IpcfsError) as e:
                MessageQueue.create_from_handle(h, rank)
            self.assertEqual(e.exception.errno, errno.EADDRNOTAVAIL)
            self.assertIn("node %s" % node, str(e.exception))
            self.assertIn(ipa if rank == 0 else ipb, str(e.exception))


class TestWriterArguments(unittest.TestCase):
    def test_errors(self):
        b = {"b": ("10.0.0.2", [1])}
        os.environ["IPCFS_HOST_IP"] = not_here(1)[0]     # connect_ip's default
        try:
            with self.assertRaises(ipcfs.IpcfsError) as e:
                MessageQueue(2, remote_nodes=b, node="a")
        finally:
            del os.environ["IPCFS_HOST_IP"]
        self.assertEqual(e.exception.errno, errno.EADDRNOTAVAIL)
        self.assertIn(os.environ.get("IPCFS_HOST_IP", "connect_ip"), str(e.exception))
        with self.assertRaises(ipcfs.IpcfsError) as e:
            MessageQueue(2, remote_nodes=b, node="a", connect_ip=not_here(1)[0])
        self.assertEqual(e.exception.errno, errno.EADDRNOTAVAIL)
        self.assertIn("connect_ip", str(e.exception))
        with self.assertRaises(ipcfs.IpcfsError) as e:
            MessageQueue(2, remote_nodes=b, node="a", connect_ip="127.0.0.1",
                         mount="/nonexistent")
        self.assertEqual(e.exception.errno, errno.ENOENT)
        self.assertIn("IPCFS_MOUNT", str(e.exception))
        with self.assertRaises(ValueError) as e:
            MessageQueue(2, n_local_reader=1)
        self.assertIn("remote_nodes", str(e.exception))


class TestReaderReady(unittest.TestCase):
    def test_a_reader_waits_for_the_writer_only(self):
        # On another node a reader would learn of the other readers through
        # its bridge, behind the writer's first objects: it must not wait
        # for them before it reads.
        q = MessageQueue(n_reader=2)
        r = MessageQueue.create_from_handle(q.export_handle(), 0)
        r.wait_until_ready(timeout=5)            # reader 1 is missing: fine
        with self.assertRaises(TimeoutError) as e:
            q.wait_until_ready(timeout=0.2)      # the writer waits for every reader
        self.assertIn("2", str(e.exception))
        r.close()
        q.close()


if __name__ == "__main__":
    unittest.main()
