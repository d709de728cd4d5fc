#!/usr/bin/env bash
# The Python package (python/ipcfs and its C extension), as staged by the
# build in $BUILD/python, with real processes: tests/python/test_*.py.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
# Debian's interpreter, where python3-numpy is installed (a python3 earlier
# on PATH may be another one).
PY=${PYTHON:-/usr/bin/python3}
if [ -n "${SAN:-}" ]; then
	echo "python: skipped in a sanitizer build (the interpreter is not instrumented)"
	exit 77
fi
if ! "$PY" -c 'import numpy' 2>/dev/null; then
	echo "python: $PY with numpy not found"
	exit 77
fi
if ! ls "$top/$BUILD"/python/ipcfs/_native*.so >/dev/null 2>&1; then
	echo "python: the extension is not built (no Python.h: install python3-dev)"
	exit 1
fi
export IPCFS_PYTHONPATH=$top/$BUILD/python
cd "$top/tests/python" && exec "$PY" -m unittest discover -s . -p 'test_*.py' -v 2>&1
