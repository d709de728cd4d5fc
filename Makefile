# ipcfs - one Makefile for the library, daemon, kernels, tools and tests.
#
#   make [all]          build everything that can be built here
#   make check          install missing packages, build, run every test
#   make demo           install missing packages, build, run the demo
#   make bench          the benchmarks (never part of check)
#   make check-gpu      the GPU tests only (exit 77: skipped without a device)
#   make bench-gpu      the GPU all-reduce benchmark (skips without a device)
#   make install        PREFIX=/usr/local DESTDIR=
#   make clean
#
#   V=1                 show full commands
#   SAN=address,undefined | SAN=thread   sanitizer build (in its own build dir)
#   CUDA_HOME=/usr/local/cuda           where nvcc and NCCL are looked for

.DEFAULT_GOAL := all

VERSION := 0.1.0
SOVERSION := 0
PREFIX ?= /usr/local
DESTDIR ?=
CUDA_HOME ?= /usr/local/cuda

comma := ,
BUILD ?= build$(if $(SAN),-san-$(subst $(comma),-,$(SAN)))

ifeq ($(V),1)
Q :=
else
Q := @
endif

CC ?= cc
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -fPIC \
	  -fvisibility=hidden -Ilib
ifneq ($(SAN),)
CFLAGS += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SAN)
ifneq ($(filter thread,$(subst $(comma), ,$(SAN))),)
# ThreadSanitizer does not model stand-alone fences (gcc warns, -Wtsan):
# ours only order the seqlock of a slot being reused, which the release/
# acquire pairs that TSan does see already cover in what it checks.
CFLAGS += -Wno-tsan
endif
endif
LDLIBS_LIB := -lnuma -pthread -ldl

# ---- libipcfs ------------------------------------------------------------
LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:lib/%.c=$(BUILD)/lib/%.o)
LIBA := $(BUILD)/libipcfs.a
LIBSO := $(BUILD)/libipcfs.so.$(VERSION)

# Public symbols: only the ipcfs_ functions are exported from the shared
# library (the sources mark them with the default visibility below).
$(BUILD)/lib/%.o: CFLAGS += -DIPCFS_BUILD

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBA): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBSO): $(LIB_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libipcfs.so.$(SOVERSION) $(LDFLAGS) -o $@ $^ $(LDLIBS_LIB)
	$(Q)ln -sf libipcfs.so.$(VERSION) $(BUILD)/libipcfs.so.$(SOVERSION)
	$(Q)ln -sf libipcfs.so.$(SOVERSION) $(BUILD)/libipcfs.so

$(BUILD)/ipcfs.pc: lib/ipcfs.pc.in Makefile
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

ALL := $(LIBA) $(LIBSO) $(BUILD)/ipcfs.pc

# ---- programs linked against the static library ------------------------------
# $(call prog,NAME,OBJS,EXTRA_LIBS): link $(BUILD)/NAME.
define prog
$(BUILD)/$(1): $(2) $(LIBA)
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $(2) $(LIBA) $(3) $$(LDLIBS_LIB)
endef

# ---- tools -----------------------------------------------------------------
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

-include fsd/fsd.mk
-include kernels/kernels.mk
-include tools/bench/bench.mk

# The ipcfs contender of the broadcast benchmark (the others: bench.mk).
$(BUILD)/tools/bench/bcast_ipcfs.o $(BENCH_GROUP_OBJ): CFLAGS += $(BENCH_CFLAGS)
$(BUILD)/bench/bcast_ipcfs: $(BUILD)/tools/bench/bcast_ipcfs.o $(BENCH_GROUP_OBJ) $(BENCH_COMMON_OBJ) $(LIBA)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_LIB)

# The ipcfs contender of the large-payload benchmark (the others: bench.mk).
$(BUILD)/tools/bench/payload_ipcfs.o: CFLAGS += $(BENCH_CFLAGS)
$(BUILD)/bench/payload_ipcfs: $(BUILD)/tools/bench/payload_ipcfs.o $(BENCH_GROUP_OBJ) $(BENCH_COMMON_OBJ) $(LIBA)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_LIB)

$(BUILD)/tools/bench/ctl_ops.o: CFLAGS += $(BENCH_CFLAGS)
$(BUILD)/bench/ctl_ops: $(BUILD)/tools/bench/ctl_ops.o $(BENCH_COMMON_OBJ) $(LIBA)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_LIB)

# ---- tests -------------------------------------------------------------------
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_TESTS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# A module's test may link extra objects: TEST_EXTRA_OBJS_<test name>.
$(foreach t,$(UNIT_TESTS),$(eval $(call prog,tests/$(notdir $(t)),$(BUILD)/tests/unit/$(notdir $(t)).o $(BUILD)/tests/unit/testlib.o $(TEST_EXTRA_OBJS_$(notdir $(t))),$(CHECK_LIBS))))
$(BUILD)/tests/unit/testlib.o: tests/unit/testlib.c
SHELL_TESTS := $(sort $(filter-out tests/shell/lib.sh,$(wildcard tests/shell/*.sh)))

# The GPU communicator without a GPU: a CPU stand-in for libipcfs_cuda.so
# (same C ABI, dlopened through IPCFS_CUDA_LIB) and the program that runs
# forked ranks over it (tests/shell/gpu_emu*.sh). Never installed.
CUDA_EMU_SO := $(BUILD)/tests/libipcfs_cuda_emu.so
$(BUILD)/tests/emu/%.o: CFLAGS += -Ikernels
$(CUDA_EMU_SO): $(BUILD)/tests/emu/cuda_emu.o
$(CUDA_EMU_SO): $(BUILD)/tests/emu/emu_stream.o $(BUILD)/tests/emu/emu_nccl.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(LDFLAGS) -o $@ $^ -pthread
$(eval $(call prog,tests/gpu_ranks,$(BUILD)/tests/emu/gpu_ranks.o $(BUILD)/tests/emu/gpu_faults.o,))
TEST_HELPERS += $(CUDA_EMU_SO) $(BUILD)/tests/gpu_ranks

.PHONY: all check check-build check-gpu bench-gpu deps demo bench install uninstall clean
all: $(ALL)

deps:
	$(Q)tools/install-deps.sh

check: deps
	$(Q)$(MAKE) --no-print-directory check-build
	$(Q)BUILD=$(BUILD) SAN=$(SAN) tests/run.sh $(UNIT_TESTS) $(SHELL_TESTS) $(GPU_TESTS)

check-build: $(ALL) $(UNIT_TESTS) $(TEST_HELPERS) $(GPU_TESTS)

# Without nvcc GPU_TESTS is empty: nothing to run (said so).
check-gpu: $(ALL) $(GPU_TESTS)
	$(Q)$(if $(GPU_TESTS),BUILD=$(BUILD) SAN=$(SAN) tests/run.sh $(GPU_TESTS),echo "check-gpu: no nvcc, nothing built: skipped")

bench-gpu: $(ALL) $(GPU_BENCH)
	$(Q)$(if $(GPU_BENCH),$(GPU_BENCH); rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 77 ],echo "bench-gpu: no nvcc, nothing built: skipped")

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) tools/demo.sh

bench:
	$(Q)tools/install-deps.sh --bench
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/bench/bcast_ipcfs $(BUILD)/bench/payload_ipcfs \
		$(BUILD)/bench/ctl_ops $(BENCH_BINS)
	$(Q)tools/bench/run_bcast.sh $(BUILD) results
	$(Q)tools/bench/run_payload.sh $(BUILD) results
	$(Q)tools/bench/run_ctl.sh $(BUILD) results

# ---- install -----------------------------------------------------------------
MAN_PAGES := $(wildcard man/*.[1-8])
install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin
	install -m 644 lib/ipcfs.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libipcfs.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libipcfs.so.$(SOVERSION)
	ln -sf libipcfs.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libipcfs.so
	install -m 644 $(BUILD)/ipcfs.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	$(if $(CUDA_SO),install -m 755 $(CUDA_SO) $(DESTDIR)$(PREFIX)/lib/)
	$(foreach p,$(INSTALL_BINS),install -m 755 $(p) $(DESTDIR)$(PREFIX)/bin/;)
	$(foreach p,$(INSTALL_SBINS),install -m 755 $(p) $(DESTDIR)$(PREFIX)/sbin/;)
	$(foreach s,1 3 5 7 8,$(if $(filter %.$(s),$(MAN_PAGES)),install -d $(DESTDIR)$(PREFIX)/share/man/man$(s) && install -m 644 $(filter %.$(s),$(MAN_PAGES)) $(DESTDIR)$(PREFIX)/share/man/man$(s)/;))
	install -d $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	install -m 644 $(BUILD)/ipcfsd.service $(DESTDIR)$(SYSTEMD_UNIT_DIR)/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/ipcfs.h $(DESTDIR)$(PREFIX)/lib/libipcfs.* $(DESTDIR)$(PREFIX)/lib/libipcfs_cuda.so \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig/ipcfs.pc
	$(foreach p,$(INSTALL_BINS),rm -f $(DESTDIR)$(PREFIX)/bin/$(notdir $(p));)
	$(foreach p,$(INSTALL_SBINS),rm -f $(DESTDIR)$(PREFIX)/sbin/$(notdir $(p));)
	$(foreach m,$(MAN_PAGES),rm -f $(DESTDIR)$(PREFIX)/share/man/man$(subst .,,$(suffix $(m)))/$(notdir $(m));)
	rm -f $(DESTDIR)$(SYSTEMD_UNIT_DIR)/ipcfsd.service

clean:
	rm -rf build build-san-*

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
