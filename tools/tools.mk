# SPDX-License-Identifier: MIT
# tools/tools.mk - the ipcfs command, the C demo and the systemd unit (make fragment, included by the top Makefile).

$(eval $(call prog,ipcfs-demo,$(BUILD)/tools/demo.o,))
ALL += $(BUILD)/ipcfs-demo

# The ipcfs command (stat, top, send, recv, bench).
IPCFS_CLI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/ipcfs/*.c))
$(eval $(call prog,ipcfs,$(IPCFS_CLI_OBJS),-lm))
ALL += $(BUILD)/ipcfs
INSTALL_BINS += $(BUILD)/ipcfs

# The systemd unit of ipcfsd, with the installed path of the daemon.
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
$(BUILD)/ipcfsd.service: dist/ipcfsd.service Makefile
	@mkdir -p $(@D)
	$(Q)sed -e 's|@SBINDIR@|$(PREFIX)/sbin|g' $< > $@
ALL += $(BUILD)/ipcfsd.service

