#!/usr/bin/env bash
# The Python package (python/ipcfs and its C extension), as staged by the
# build in $BUILD/python, with real processes: tests/python/test_*.py.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
# Debian's interpreter, where python3-numpy is installed (a python3 earlier
# on PATH may be another one).
PY=${PYTHON:-/usr/bin/python3}
# Sanitizer builds: the interpreter is not instrumented, so the runtimes
# are preloaded for the extension (ASan, UBSan); not for TSan, which
# cannot be loaded that way.
preload=
case ",${SAN:-}," in
,,) ;;
*thread*)
	echo "python: skipped in a ThreadSanitizer build (its runtime cannot be preloaded into python3)"
	exit 77 ;;
*)
	case ",$SAN," in *address*) preload="$preload $(${CC:-gcc} -print-file-name=libasan.so)" ;; esac
	case ",$SAN," in *undefined*) preload="$preload $(${CC:-gcc} -print-file-name=libubsan.so)" ;; esac
	export LD_PRELOAD="${preload# }" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ;;
esac
if ! "$PY" -c 'import numpy' 2>/dev/null; then
	echo "python: $PY with numpy not found"
	exit 77
fi
if ! ls "$top/$BUILD"/python/ipcfs/_native*.so >/dev/null 2>&1; then
	echo "python: the extension is not built (no Python.h: install python3-dev)"
	exit 1
fi
export IPCFS_PYTHONPATH=$top/$BUILD/python
(cd "$top/tests/python" && "$PY" -m unittest discover -s . -p 'test_*.py' -v 2>&1) || exit 1
if [ -n "${SAN:-}" ]; then
	echo "python: make install and pip install are checked in the plain build"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check_import() { # DIR WHAT: the package in DIR imports, with its extension, and works
	(cd "$tmp" && PYTHONPATH=$1 "$PY" -c '
import os, sys, tempfile, ipcfs
assert ipcfs.__file__.startswith(sys.argv[1]), ipcfs.__file__
d = os.path.join(tempfile.mkdtemp(dir=sys.argv[2]), "g")
ipcfs.create_group(d, ranks=2)
a, b = ipcfs.join(d), ipcfs.join(d)
a.send_obj({"x": 1}, to=1)
assert b.recv_obj(0, 5000) == {"x": 1}
' "$1" "$tmp") || { echo "python: $2: import ipcfs failed"; exit 1; }
}

# make install puts the package where $PY finds it without PYTHONPATH:
# in a directory on its sys.path (checked), here under a DESTDIR.
prefix=/usr/local
make -s -C "$top" install BUILD="$BUILD" DESTDIR="$tmp/root" PREFIX=$prefix >/dev/null || exit 1
site=$(cd "$tmp/root" && ls -d ."$prefix"/lib/python3*/dist-packages | sed 's/^\.//')
"$PY" -c 'import sys; sys.exit(sys.argv[1] not in sys.path)' "$site" ||
	{ echo "python: make install put the package in $site, not on $PY's sys.path"; exit 1; }
ls "$tmp/root$site"/ipcfs/_native*.so >/dev/null || { echo "python: no extension in $site"; exit 1; }
check_import "$tmp/root$site" "make install"
echo "python: make install: $site/ipcfs, imports"

# pip install ./python (Debian's pip and setuptools, nothing fetched), from
# a copy of the tree so that the build leaves nothing in the source.
mkdir -p "$tmp/src" && cp -r "$top/python" "$top/lib" "$top/include" "$top/kernels" "$tmp/src/"
rm -rf "$tmp/src/python/build"
(cd "$tmp/src" && "$PY" -m pip install -q --no-index --target "$tmp/pip" ./python >"$tmp/pip.log" 2>&1) ||
	{ cat "$tmp/pip.log"; echo "python: pip install ./python failed"; exit 1; }
check_import "$tmp/pip" "pip install ./python"
echo "python: pip install ./python: builds, imports"
