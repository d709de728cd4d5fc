# ipcfs - the top of the build: settings, the generic rules and the targets.
# Each kind of artifact has its fragment: lib/lib.mk (libipcfs),
# tools/tools.mk (ipcfs command, demo, unit file), fsd/fsd.mk (ipcfsd),
# kernels/kernels.mk (libipcfs_cuda.so), tools/bench/bench.mk (every
# benchmark contender), python/python.mk (the Python extension),
# tests/tests.mk (every test program, helper and stand-in), tests/fuzz/fuzz.mk
# (libFuzzer targets and their replay in make check).
#
#   make [all]          build everything that can be built here
#   make check          install missing packages, build, run every test
#   make demo           install missing packages, build, run the demo
#   make bench          the benchmarks (never part of check)
#   make fuzz           run every libFuzzer target FUZZ_SECONDS (30) seconds (clang)
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
	  -fvisibility=hidden -Iinclude -Ilib
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

# Every object from its source, with its dependencies (.d) beside it.
$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

include lib/lib.mk

# ---- programs linked against the static library ------------------------------
# $(call prog,NAME,OBJS,EXTRA_LIBS): link $(BUILD)/NAME.
define prog
$(BUILD)/$(1): $(2) $(LIBA)
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $(2) $(LIBA) $(3) $$(LDLIBS_LIB)
endef

# ---- one fragment per kind of artifact ---------------------------------------
include tools/tools.mk
include fsd/fsd.mk
include bridge/bridge.mk
-include kernels/kernels.mk
include tools/bench/bench.mk
-include python/python.mk
include tests/tests.mk
include tests/fuzz/fuzz.mk


.PHONY: all check check-build check-gpu bench-gpu deps demo bench install uninstall clean
all: $(ALL)

deps:
	$(Q)tools/install-deps.sh

check: deps
	$(Q)$(MAKE) --no-print-directory check-build
	$(Q)BUILD=$(BUILD) SAN=$(SAN) tests/run.sh $(UNIT_TESTS) $(SHELL_TESTS) $(GPU_TESTS)

# Also every benchmark program this machine can build (make bench is not
# run by CI: a contender that stopped compiling would show only there).
BENCH_PROGS := $(BUILD)/bench/bcast_ipcfs $(BUILD)/bench/payload_ipcfs $(BUILD)/bench/ctl_ops \
	$(BUILD)/bench/remote_rt $(BENCH_BINS)
check-build: $(ALL) $(UNIT_TESTS) $(TEST_HELPERS) $(GPU_TESTS) $(BENCH_PROGS)

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
	$(Q)$(MAKE) --no-print-directory all $(BENCH_PROGS)
	$(Q)tools/bench/run_bcast.sh $(BUILD) results
	$(Q)BENCH_PIN="$${BENCH_PIN:-0 1}" tools/bench/run_paced.sh $(BUILD) results
	$(Q)tools/bench/run_payload.sh $(BUILD) results
	$(Q)tools/bench/run_ctl.sh $(BUILD) results
	$(Q)tools/bench/run_remote.sh $(BUILD) results; rc=$$?; [ $$rc = 0 ] || [ $$rc = 77 ]

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

# make soak DURATION=SECONDS: the soak (tests/soak/soak.sh); make check runs
# a short one (tests/shell/soak.sh).
DURATION ?= 60
.PHONY: soak
soak: $(ALL) $(BUILD)/tests/soak_driver
	$(Q)BUILD=$(BUILD) tests/soak/soak.sh $(DURATION)
