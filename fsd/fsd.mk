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

# Helpers of tests/shell: a member that sends or receives, a probe that
# reports the errno of one write/read/poll, and a scribbler of segments.
FSD_TEST_HELPERS := $(BUILD)/tests/fsd_member $(BUILD)/tests/fsd_probe $(BUILD)/tests/seg_poke
$(eval $(call prog,tests/fsd_member,$(BUILD)/tests/shell/fsd_member.o,))
$(eval $(call prog,tests/fsd_probe,$(BUILD)/tests/shell/fsd_probe.o,))
$(eval $(call prog,tests/seg_poke,$(BUILD)/tests/shell/seg_poke.o,))
ALL += $(FSD_TEST_HELPERS)

# The parser unit test links the parser object too (the generic unit-test
# rule adds $(TEST_EXTRA_OBJS_<name>) when the top-level Makefile honours it;
# the prerequisite below makes sure the object is built either way).
TEST_EXTRA_OBJS_test_fsd_parse := $(BUILD)/fsd/parse.o
# Tests of the daemon's parsers include its headers by name (no ../
# paths); its fuzz targets: tests/fuzz/fuzz.mk.
$(BUILD)/tests/unit/test_fsd_%.o: CFLAGS += -Ifsd
$(BUILD)/tests/test_fsd_parse: $(BUILD)/fsd/parse.o

# The state file's unit test: the parser and formatter with the GPU store
# and the counter names they use.
FSD_STATE_OBJS := $(BUILD)/fsd/state.o $(BUILD)/fsd/text.o $(BUILD)/fsd/gpu_store.o $(BUILD)/fsd/parse.o
TEST_EXTRA_OBJS_test_fsd_state := $(FSD_STATE_OBJS)
$(BUILD)/tests/test_fsd_state: $(FSD_STATE_OBJS)

