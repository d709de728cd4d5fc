# bridge/bridge.mk - ipcfs-bridge, the bridge of a group between machines
# (ZeroMQ, Debian libzmq3-dev). Included by the top-level Makefile.

BRIDGE_SRCS := $(wildcard bridge/*.c)
BRIDGE_OBJS := $(BRIDGE_SRCS:bridge/%.c=$(BUILD)/bridge/%.o) $(BUILD)/fsd/cluster.o
$(BUILD)/bridge/%.o: CFLAGS += -Ifsd
ZMQ_LIBS := $(shell pkg-config --libs libzmq 2>/dev/null || echo -lzmq)

$(eval $(call prog,ipcfs-bridge,$(BRIDGE_OBJS),$(ZMQ_LIBS)))
ALL += $(BUILD)/ipcfs-bridge
INSTALL_SBINS += $(BUILD)/ipcfs-bridge
