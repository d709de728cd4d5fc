#!/usr/bin/env bash
# tools/install-deps.sh [--bench|--fuzz] - install the Debian packages that the
# build and the tests need, if any is missing. Run by `make check`, `make
# demo` and `make bench`; safe to run again (it installs nothing when all
# are present). Needs root (or sudo) only when something is missing.
set -euo pipefail

pkgs=(gcc make pkg-config libnuma-dev check libsubunit-dev libfuse3-dev fuse3
      python3 python3-numpy mandoc jq prometheus)
# The Spin model of the ring protocol (tests/shell/model_spin.sh).
pkgs+=(spin)
# ipcfs-bridge, the bridge of a group between machines (ZeroMQ).
pkgs+=(libzmq3-dev iproute2)
# What the bridge opens while it runs (fsd_bridge_pipe.sh).
pkgs+=(strace)
# The CURVE tests' third party, a ZeroMQ client (fsd_keys.sh, bridge_curve.sh).
pkgs+=(python3-zmq)
# The Python module: its C extension, pip install ./python, torch tensors.
pkgs+=(python3-dev python3-setuptools python3-pip python3-torch)
if [ "${1:-}" = "--bench" ]; then
	pkgs+=(libopenmpi-dev openmpi-bin libzmq3-dev)
	pkgs+=(python3-zmq python3-msgpack) # the Python benchmark's contenders
fi
# make fuzz: clang and its libFuzzer runtime (make check needs neither).
if [ "${1:-}" = "--fuzz" ]; then
	pkgs+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
	sudo=()
elif command -v sudo >/dev/null; then
	sudo=(sudo)
else
	echo "install-deps: missing packages and not root: ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
