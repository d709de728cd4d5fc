#!/usr/bin/env bash
# The Python binding (python/ipcfs) against this build's libipcfs.so.
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
IPCFS_LIB=$top/$BUILD/libipcfs.so exec "$PY" "$top/tests/python/test_ipcfs.py"
