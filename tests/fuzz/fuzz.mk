# SPDX-License-Identifier: MIT
# tests/fuzz/fuzz.mk - libFuzzer targets of every parser and every reader of
# shared memory (make fragment, included by the top Makefile).
#
# A target is tests/fuzz/fuzz_NAME.c (LLVMFuzzerTestOneInput) over the real
# code: the whole library and FUZZ_SRCS_NAME (daemon sources), all built
# with clang and its fuzzer, address and undefined sanitizers. Its corpus is
# tests/fuzz/corpus/NAME/ (minimised: what covers something new); an input
# that crashed one stays in tests/fuzz/crashes/NAME-*.
#
#   make fuzz [FUZZ_SECONDS=30] [FUZZ_TARGETS="seg_recv typed"]
#         run each target FUZZ_SECONDS seconds and merge what it found into
#         its corpus (tests/fuzz/run.sh); fails if one crashed
#
# `make check` replays every corpus and every past crash through the same
# targets built as replay_NAME with the ordinary compiler and the build's
# sanitizers (tests/fuzz/replay.c, tests/shell/fuzz_replay.sh): no clang
# needed there.

FUZZ_ALL := $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang

# The daemon's sources a target needs besides the library.
FUZZ_SRCS_fsd_state := fsd/state.c fsd/text.c fsd/gpu_store.c fsd/parse.c
FUZZ_SRCS_fsd_ctl := fsd/parse.c
FUZZ_SRCS_fsd_attrs := fsd/parse.c

# Targets include the daemon's headers by name.
$(BUILD)/tests/fuzz/%.o: CFLAGS += -Ifsd

# ---- replay programs (ordinary compiler): part of make check ----------------
$(foreach t,$(FUZZ_ALL),$(eval $(call prog,tests/replay_$(t),$(BUILD)/tests/fuzz/fuzz_$(t).o $(BUILD)/tests/fuzz/replay.o $(patsubst %.c,$(BUILD)/%.o,$(FUZZ_SRCS_$(t))),)))
TEST_HELPERS += $(FUZZ_ALL:%=$(BUILD)/tests/replay_%)

# ---- libFuzzer builds (clang): only for make fuzz ------------------------------
# Every object instrumented (coverage and sanitizers), the library included,
# so that the fuzzer sees and checks the code it drives.
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	       -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE -pthread -Iinclude -Ilib -Ifsd
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_LIBA := $(FUZZ_DIR)/libipcfs.a

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(if $(filter fsd/%,$<),$(FUSE_CFLAGS)) -MMD -MP -c -o $@ $<

$(FUZZ_LIBA): $(LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
	$(Q)rm -f $@ && ar rcs $@ $^

define fuzz_target
$(FUZZ_DIR)/fuzz_$(1): $(FUZZ_DIR)/obj/tests/fuzz/fuzz_$(1).o $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_SRCS_$(1))) $(FUZZ_LIBA)
	@$$(if $$(Q),echo "  FUZZLD  $$@")
	$$(Q)$$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $$@ $$^ $$(LDLIBS_LIB)
endef
$(foreach t,$(FUZZ_ALL),$(eval $(call fuzz_target,$(t))))

.PHONY: fuzz deps-fuzz
deps-fuzz:
	$(Q)tools/install-deps.sh --fuzz

fuzz: deps-fuzz
	$(Q)$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
	$(Q)BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_TARGETS)
