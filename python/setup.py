# SPDX-License-Identifier: MIT
"""pip install ./python: the ipcfs package with its C extension.

The extension is built from python/ipcfs/*.c and the library's own
sources (../lib/*.c) in a source tree, so that it needs no installed
libipcfs; outside one (an sdist without ../lib) it links the installed
library found by pkg-config. Needs python3-dev, gcc and libnuma-dev.
"""
import glob
import os
import subprocess

from setuptools import Extension, setup

here = os.path.dirname(os.path.abspath(__file__))
lib = os.path.join(here, "..", "lib")
include = os.path.join(here, "..", "include")  # the headers shared between components
lib_srcs = sorted(glob.glob(os.path.join(lib, "*.c")))
native = sorted(os.path.relpath(s, here) for s in glob.glob(os.path.join(here, "ipcfs", "*.c")))
if lib_srcs:
    sources = native + [os.path.relpath(s, here) for s in lib_srcs]
    kw = dict(include_dirs=[os.path.relpath(include, here), os.path.relpath(lib, here), "ipcfs"],
              libraries=["numa", "dl"], define_macros=[("_GNU_SOURCE", None)],
              extra_compile_args=["-std=gnu11", "-pthread", "-fvisibility=hidden"],
              extra_link_args=["-pthread"])
else:
    def pkg(flag):
        return subprocess.check_output(["pkg-config", flag, "ipcfs"], text=True).split()
    sources = native
    kw = dict(include_dirs=["ipcfs"] + [f[2:] for f in pkg("--cflags") if f.startswith("-I")],
              extra_compile_args=["-std=gnu11"], extra_link_args=pkg("--libs"))

setup(
    name="ipcfs",
    version="0.1.0",
    description="Shared-memory messaging between the processes of one machine",
    license="MIT",
    packages=["ipcfs"],
    ext_modules=[Extension("ipcfs._native", sources=sources,
                           depends=["ipcfs/objmsg.h", "ipcfs/native.h"], **kw)],
    python_requires=">=3.8",
)
