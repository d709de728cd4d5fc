# kernels/kernels.mk - the CUDA side, included by the top-level Makefile.
#
# Builds, when nvcc is found (else nothing, silently):
#   $(BUILD)/libipcfs_cuda.so          kernels + launchers + NCCL wrappers
#                                      (C ABI: include/ipcfs/cuda_abi.h, one
#                                      table ipcfs_k_ops_v1), linked to cudart
#                                      with an rpath; NCCL is dlopened at run
#                                      time (absent: no fallback, one line);
#                                      libipcfs never links it, it dlopens it
#   $(BUILD)/tests/gpu_allreduce_local the single-GPU test of the kernels
#                                      (exit 77 without a device)
#   $(BUILD)/tests/gpu_allreduce_ipc   the communicator with forked ranks
#   $(BUILD)/bench/gpu_allreduce       its benchmark (make bench-gpu)
#   make check-gpu-quick               the first run on a GPU machine
#                                      (tests/gpu/check_quick.sh)
#
# Variables: NVCC (default $(CUDA_HOME)/bin/nvcc), NVCC_GENCODE (sm_80 and
# sm_90 code, plus compute_90 PTX so that newer GPUs can JIT), NVCCFLAGS.

NVCC ?= $(CUDA_HOME)/bin/nvcc

ifneq ($(shell command -v $(NVCC) 2>/dev/null),)

CUDA_LIBDIR ?= $(CUDA_HOME)/lib64
NVCC_GENCODE ?= -gencode arch=compute_80,code=sm_80 \
		-gencode arch=compute_90,code=sm_90 \
		-gencode arch=compute_90,code=compute_90
NVCCFLAGS ?= -O3
NVCCFLAGS += -std=c++17 $(NVCC_GENCODE) -Werror all-warnings \
	     -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra -Iinclude -Ilib -Ikernels

CUDA_SRCS := $(wildcard kernels/*.cu)
CUDA_OBJS := $(CUDA_SRCS:kernels/%.cu=$(BUILD)/kernels/%.o)
CUDA_SO := $(BUILD)/libipcfs_cuda.so
GPU_TESTS := $(BUILD)/tests/gpu_allreduce_local $(BUILD)/tests/gpu_allreduce_ipc
GPU_BENCH := $(BUILD)/bench/gpu_allreduce

$(BUILD)/kernels/%.o: kernels/%.cu
	@mkdir -p $(@D)
	@$(if $(Q),echo "  NVCC    $<")
	$(Q)$(NVCC) $(NVCCFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/gpu/%.o: tests/gpu/%.cu
	@mkdir -p $(@D)
	@$(if $(Q),echo "  NVCC    $<")
	$(Q)$(NVCC) $(NVCCFLAGS) -MMD -MP -c -o $@ $<

# Not instrumented even in sanitizer builds (no $(LDFLAGS)): a separate
# object that is dlopened; -z defs: every symbol resolved at link time.
$(CUDA_SO): $(CUDA_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) -shared -Wl,-soname,libipcfs_cuda.so -Wl,-z,defs -o $@ $^ \
		-L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcudart -ldl

# The test links the CPU reference from libipcfs.a (instrumented in a
# sanitizer build, hence $(LDFLAGS)) and libipcfs_cuda.so from ../ at run time.
$(BUILD)/tests/gpu_allreduce_local: $(BUILD)/tests/gpu/allreduce_local.o $(CUDA_SO) $(LIBA)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $< $(CUDA_SO) $(LIBA) -Wl,-rpath,'$$ORIGIN/..' \
		-L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcudart $(LDLIBS_LIB)

# The multi-process test and the benchmark of the communicator (lib/gpu.c):
# libipcfs.a dlopens libipcfs_cuda.so (they set IPCFS_CUDA_LIB to
# ../libipcfs_cuda.so from their own directory); cudart for their own data.
$(BUILD)/tests/gpu_allreduce_ipc: $(BUILD)/tests/gpu/allreduce_ipc.o $(LIBA) | $(CUDA_SO)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $< $(LIBA) \
		-L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcudart $(LDLIBS_LIB)

$(GPU_BENCH): $(BUILD)/tests/gpu/bench_allreduce.o $(LIBA) | $(CUDA_SO)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $< $(LIBA) \
		-L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcudart $(LDLIBS_LIB)

ALL += $(CUDA_SO) $(GPU_TESTS) $(GPU_BENCH)

endif

# The first run on a machine with a GPU (tests/gpu/check_quick.sh): exit 77
# with one line where there is none; fails when a GPU is there and anything
# (CUDA, the build) keeps the tests from running. Under make a skip is not
# an error (the script's 77 becomes 0, its SKIP line says so).
.PHONY: check-gpu-quick
check-gpu-quick: $(ALL) $(GPU_TESTS) $(GPU_BENCH)
	$(Q)BUILD=$(BUILD) tests/gpu/check_quick.sh; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 77 ]
