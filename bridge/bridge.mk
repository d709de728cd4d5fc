# bridge/bridge.mk - ipcfs-bridge, the bridge of a group between machines
# (ZeroMQ, Debian libzmq3-dev). Included by the top-level Makefile.

BRIDGE_SRCS := $(wildcard bridge/*.c)
BRIDGE_OBJS := $(BRIDGE_SRCS:bridge/%.c=$(BUILD)/bridge/%.o)
ZMQ_LIBS := $(shell pkg-config --libs libzmq 2>/dev/null || echo -lzmq)

$(eval $(call prog,ipcfs-bridge,$(BRIDGE_OBJS),$(ZMQ_LIBS)))
ALL += $(BUILD)/ipcfs-bridge
INSTALL_SBINS += $(BUILD)/ipcfs-bridge

# The remote round-trip contender of tools/bench/run_remote.sh (ipcfs
# through the bridge, and raw ZeroMQ), built with ALL so that the script
# runs as is; it lives with the benchmarks.
$(eval $(call prog,bench/remote_rt,$(BUILD)/tools/bench/remote_rt.o,$(ZMQ_LIBS)))
ALL += $(BUILD)/bench/remote_rt
