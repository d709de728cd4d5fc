# SPDX-License-Identifier: MIT
"""The driver/worker example of README.md runs as written."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PKG = os.environ.get("IPCFS_PYTHONPATH") or os.path.join(TOP, "build", "python")


class TestReadme(unittest.TestCase):
    def test_driver_worker_example(self):
        with open(os.path.join(TOP, "README.md")) as f:
            text = f.read()
        m = re.search(r"<!-- example: driver-worker.*?-->\n```python\n(.*?)```", text, re.S)
        self.assertIsNotNone(m, "the example is gone from README.md")
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(m.group(1))
        try:
            p = subprocess.run([sys.executable, f.name], capture_output=True, text=True, timeout=120,
                               env=dict(os.environ, PYTHONPATH=PKG))
        finally:
            os.unlink(f.name)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = sorted(p.stdout.splitlines())
        self.assertEqual(len(lines), 9, p.stdout)
        self.assertIn("step 2, 32 requests, pixel sum %d" % (2 * 4 * 3 * 336 * 336), p.stdout)


if __name__ == "__main__":
    unittest.main()
