# fsd/fsd.mk - the daemon ipcfsd, its shell-test helpers and its unit test.
# Included by the top-level Makefile (which defines BUILD, CC, CFLAGS, LIBA,
# the object rule $(BUILD)/%.o and the prog macro).

FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null || echo -I/usr/include/fuse3)
FUSE_LIBS := $(shell pkg-config --libs fuse3 2>/dev/null || echo -lfuse3 -lpthread)

FSD_SRCS := $(filter-out fsd/parse.c,$(wildcard fsd/*.c))
FSD_OBJS := $(FSD_SRCS:fsd/%.c=$(BUILD)/fsd/%.o) $(BUILD)/fsd/parse.o

# FUSE headers only for the daemon's objects.
$(BUILD)/fsd/%.o: CFLAGS += $(FUSE_CFLAGS)

$(eval $(call prog,ipcfsd,$(FSD_OBJS),$(FUSE_LIBS)))
ALL += $(BUILD)/ipcfsd
INSTALL_SBINS += $(BUILD)/ipcfsd

# Helpers of tests/shell: a member that sends or receives, and a probe that
# reports the errno of one write/read/poll.
FSD_TEST_HELPERS := $(BUILD)/tests/fsd_member $(BUILD)/tests/fsd_probe
$(eval $(call prog,tests/fsd_member,$(BUILD)/tests/shell/fsd_member.o,))
$(eval $(call prog,tests/fsd_probe,$(BUILD)/tests/shell/fsd_probe.o,))
ALL += $(FSD_TEST_HELPERS)

# The parser unit test links the parser object too (the generic unit-test
# rule adds $(TEST_EXTRA_OBJS_<name>) when the top-level Makefile honours it;
# the prerequisite below makes sure the object is built either way).
TEST_EXTRA_OBJS_test_fsd_parse := $(BUILD)/fsd/parse.o
# Tests and fuzz targets of the daemon's parsers include its headers by
# name (no ../ paths).
$(BUILD)/tests/unit/test_fsd_%.o $(BUILD)/tests/fuzz/fuzz_fsd_%.o: CFLAGS += -Ifsd
$(BUILD)/tests/test_fsd_parse: $(BUILD)/fsd/parse.o

# The state file's unit test: the parser and formatter with the GPU store
# and the counter names they use.
FSD_STATE_OBJS := $(BUILD)/fsd/state.o $(BUILD)/fsd/text.o $(BUILD)/fsd/gpu_store.o $(BUILD)/fsd/parse.o \
		  $(BUILD)/fsd/cluster.o
TEST_EXTRA_OBJS_test_fsd_state := $(FSD_STATE_OBJS)
$(BUILD)/tests/test_fsd_state: $(FSD_STATE_OBJS)

# The nodes and node files of a group spanning machines (pure).
TEST_EXTRA_OBJS_test_fsd_cluster := $(BUILD)/fsd/cluster.o
$(BUILD)/tests/test_fsd_cluster: $(BUILD)/fsd/cluster.o

# ---- fuzzing the daemon's parsers -------------------------------------------
# Targets in tests/fuzz/fuzz_NAME.c (instrumented; libipcfs, which parse.c
# takes the parameter limits from, is linked as built), each with a corpus in
# tests/fuzz/corpus/NAME/; inputs that crashed once stay in tests/fuzz/crashes/.
#   make fuzz-fsd [FUZZ_SECONDS=30]   run each target with libFuzzer (clang),
#                                     merging what it finds into the corpus
# make check replays every corpus and crash through the same targets built
# with the ordinary compiler (tests/fuzz/replay.c, tests/shell/fsd_fuzz.sh).
FSD_FUZZ := fsd_state fsd_ctl
FSD_FUZZ_SRCS_fsd_state := fsd/state.c fsd/text.c fsd/gpu_store.c fsd/parse.c fsd/cluster.c
FSD_FUZZ_SRCS_fsd_ctl := fsd/parse.c
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	       -std=gnu11 -D_GNU_SOURCE -Iinclude -Ilib -Ifsd

$(foreach t,$(FSD_FUZZ),$(eval $(call prog,tests/replay_$(t),$(BUILD)/tests/fuzz/fuzz_$(t).o $(BUILD)/tests/fuzz/replay.o $(patsubst %.c,$(BUILD)/%.o,$(FSD_FUZZ_SRCS_$(t))),)))
ALL += $(FSD_FUZZ:%=$(BUILD)/tests/replay_%)

define fuzz_target
$(BUILD)/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(FSD_FUZZ_SRCS_$(1)) $(LIBA)
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  FUZZCC  $$@")
	$$(Q)$$(FUZZ_CC) $$(FUZZ_CFLAGS) -o $$@ $$^ $$(LDLIBS_LIB)
endef
$(foreach t,$(FSD_FUZZ),$(eval $(call fuzz_target,$(t))))

.PHONY: fuzz-fsd
fuzz-fsd: $(FSD_FUZZ:%=$(BUILD)/fuzz/fuzz_%)
	$(Q)for t in $(FSD_FUZZ); do \
		mkdir -p $(BUILD)/fuzz/new_$$t tests/fuzz/crashes && \
		$(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=tests/fuzz/crashes/$$t- \
			$(BUILD)/fuzz/new_$$t tests/fuzz/corpus/$$t || exit 1; \
		$(BUILD)/fuzz/fuzz_$$t -merge=1 tests/fuzz/corpus/$$t $(BUILD)/fuzz/new_$$t || exit 1; \
	done
