# SPDX-License-Identifier: MIT
# lib/lib.mk - libipcfs: the static and shared library and its pkg-config file (make fragment, included by the top Makefile).

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:lib/%.c=$(BUILD)/lib/%.o)
LIBA := $(BUILD)/libipcfs.a
LIBSO := $(BUILD)/libipcfs.so.$(VERSION)

$(LIBA): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# Public symbols: only the ipcfs_ functions (ipcfs.h's visibility pragma),
# versioned by lib/libipcfs.map.
$(LIBSO): $(LIB_OBJS) lib/libipcfs.map
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libipcfs.so.$(SOVERSION) -Wl,--version-script=lib/libipcfs.map \
		$(LDFLAGS) -o $@ $(LIB_OBJS) $(LDLIBS_LIB)
	$(Q)ln -sf libipcfs.so.$(VERSION) $(BUILD)/libipcfs.so.$(SOVERSION)
	$(Q)ln -sf libipcfs.so.$(SOVERSION) $(BUILD)/libipcfs.so

$(BUILD)/ipcfs.pc: lib/ipcfs.pc.in Makefile
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

ALL := $(LIBA) $(LIBSO) $(BUILD)/ipcfs.pc

