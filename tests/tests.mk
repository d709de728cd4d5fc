# SPDX-License-Identifier: MIT
# tests/tests.mk - every test program: Check suites, the library with death points, shell-test helpers, the CUDA stand-in (make fragment, included by the top Makefile).

# ---- the library with death points, for tests (lib/fault_int.h) -------------
FAULT_LIBA := $(BUILD)/tests/libipcfs-fault.a
FAULT_OBJS := $(LIB_SRCS:lib/%.c=$(BUILD)/lib-fault/%.o)
$(BUILD)/lib-fault/%.o: lib/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $< (fault points)")
	$(Q)$(CC) $(CFLAGS) -DIPCFS_FAULT_INJECT -MMD -MP -c -o $@ $<
$(FAULT_LIBA): $(FAULT_OBJS)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^
# Linked before libipcfs.a, so that its objects are the ones used.
TEST_EXTRA_OBJS_test_death := $(FAULT_LIBA)
# ... and sees the fault points' declarations (fault_set_hook).
$(BUILD)/tests/unit/test_death.o: CFLAGS += -DIPCFS_FAULT_INJECT
# The daemon on that library: a shell test holds a segment's creation at a
# point while a file exists (IPCFS_FAULT_GATE, lib/fault_int.h).
$(eval $(call prog,tests/ipcfsd-fault,$(FSD_OBJS) $(FAULT_LIBA),$(FUSE_LIBS)))
TEST_HELPERS += $(BUILD)/tests/ipcfsd-fault
# The bridge on that library, its own objects with their death points too:
# a shell test holds it right after a delivery and kills it there.
BRIDGE_FAULT_OBJS := $(BRIDGE_SRCS:bridge/%.c=$(BUILD)/bridge-fault/%.o)
$(BUILD)/bridge-fault/%.o: bridge/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $< (fault points)")
	$(Q)$(CC) $(CFLAGS) -DIPCFS_FAULT_INJECT -MMD -MP -c -o $@ $<
$(eval $(call prog,tests/ipcfs-bridge-fault,$(BRIDGE_FAULT_OBJS) $(FAULT_LIBA),$(ZMQ_LIBS)))
TEST_HELPERS += $(BUILD)/tests/ipcfs-bridge-fault
TEST_EXTRA_OBJS_test_pidns := $(FAULT_LIBA)
$(BUILD)/tests/unit/test_pidns.o: CFLAGS += -DIPCFS_FAULT_INJECT

# ---- tests -------------------------------------------------------------------
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_TESTS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# A module's test may link extra objects: TEST_EXTRA_OBJS_<test name>.
$(foreach t,$(UNIT_TESTS),$(eval $(call prog,tests/$(notdir $(t)),$(BUILD)/tests/unit/$(notdir $(t)).o $(BUILD)/tests/unit/testlib.o $(TEST_EXTRA_OBJS_$(notdir $(t))),$(CHECK_LIBS))))
$(BUILD)/tests/unit/testlib.o: tests/unit/testlib.c
SHELL_TESTS := $(sort $(filter-out tests/shell/lib.sh tests/shell/netns.sh,$(wildcard tests/shell/*.sh)))

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


# ---- the soak (make soak; a short one in make check: tests/shell/soak.sh) ----
SOAK_OBJS := $(patsubst tests/soak/%.c,$(BUILD)/tests/soak/%.o,$(wildcard tests/soak/*.c))
$(eval $(call prog,tests/soak_driver,$(SOAK_OBJS),))
TEST_HELPERS += $(BUILD)/tests/soak_driver
