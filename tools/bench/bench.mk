# SPDX-License-Identifier: MIT
#
# tools/bench/bench.mk - the contenders of the broadcast benchmark (bcast_*)
# and of the large-payload benchmark (payload_*) (make fragment).
#
# Included by the top-level Makefile, which defines:
#   BUILD   output directory (e.g. build)
#   CC      C compiler
#   CFLAGS  -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread ...
#           -Iinclude -Ilib (bench_common.h takes its spin hint from
#           lib/wait_int.h)
#   Q       @ (quiet) or empty (V=1)
#
# Defines:
#   BENCH_BINS        the contender binaries that can be built here, under
#                     $(BUILD)/bench/: bcast_floor, bcast_unix, payload_memcpy,
#                     payload_unix, bcast_zmq and payload_zmq (when zmq.h is
#                     found), bcast_mpi, payload_mpi and remote_mpi (when
#                     $(MPICC) runs)
#   BENCH_COMMON_OBJ  $(BUILD)/bench/bench_common.o, for other contenders
#                     (bcast_ipcfs, payload_ipcfs) to link
#   BENCH_GROUP_OBJ   $(BUILD)/tools/bench/bench_group.o, the libipcfs group
#                     helpers of bcast_ipcfs and payload_ipcfs (built, like
#                     them, by the top-level rule for $(BUILD)/%.o, with
#                     BENCH_CFLAGS added)
#   BENCH_CFLAGS      flags to compile against bench_common.h (and
#                     payload_common.h, which is header only)
#   BENCH_RUN         the driver script, tools/bench/run_bcast.sh
#   BENCH_PAYLOAD_RUN the large-payload driver, tools/bench/run_payload.sh
#   BENCH_HAVE_ZMQ, BENCH_HAVE_MPI   "yes" or empty
# Overridable: MPICC (default mpicc), ZMQ_LIBS (default -lzmq).
#
# Targets are only the files above; the top-level Makefile decides what
# "all", "check" and "bench" mean.

# Our rules must not become the default goal when this file is included
# before the top-level "all": remember it, restore it at the end.
BENCH_SAVED_GOAL := $(.DEFAULT_GOAL)

# This file's directory, wherever make runs from.
BENCH_SRC := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
BENCH_OUT := $(BUILD)/bench
BENCH_RUN := $(BENCH_SRC)/run_bcast.sh
BENCH_PAYLOAD_RUN := $(BENCH_SRC)/run_payload.sh

MPICC ?= mpicc
ZMQ_LIBS ?= -lzmq

BENCH_CFLAGS := -I$(BENCH_SRC)
# Open MPI under a sanitizer reports its own leaks and fails: build the MPI
# contender (and its copy of bench_common) without sanitizer flags.
BENCH_MPI_CFLAGS = $(filter-out -fsanitize=% -fno-sanitize%,$(CFLAGS)) $(BENCH_CFLAGS)

BENCH_HAVE_ZMQ := $(shell printf '\043include <zmq.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo yes)
BENCH_HAVE_MPI := $(shell command -v $(firstword $(MPICC)) >/dev/null 2>&1 && echo yes)

BENCH_COMMON_OBJ := $(BENCH_OUT)/bench_common.o
BENCH_GROUP_OBJ := $(BUILD)/tools/bench/bench_group.o
BENCH_BINS := $(BENCH_OUT)/bcast_floor $(BENCH_OUT)/bcast_unix \
	$(BENCH_OUT)/payload_memcpy $(BENCH_OUT)/payload_unix $(BENCH_OUT)/payload_floor
ifeq ($(BENCH_HAVE_ZMQ),yes)
BENCH_BINS += $(BENCH_OUT)/bcast_zmq $(BENCH_OUT)/payload_zmq
endif
ifeq ($(BENCH_HAVE_MPI),yes)
BENCH_BINS += $(BENCH_OUT)/bcast_mpi $(BENCH_OUT)/payload_mpi $(BENCH_OUT)/remote_mpi
endif

BENCH_DEPS := $(BENCH_SRC)/bench_common.h $(BENCH_SRC)/../../lib/wait_int.h
BENCH_PAYLOAD_DEPS := $(BENCH_DEPS) $(BENCH_SRC)/payload_common.h

# The helpers shared by the two contenders of one system.
$(addprefix $(BENCH_OUT)/,bench_zmq.o bcast_zmq.o payload_zmq.o): $(BENCH_SRC)/bench_zmq.h
$(addprefix $(BENCH_OUT)/,bench_unix.o bcast_unix.o payload_unix.o): $(BENCH_SRC)/bench_unix.h
$(addprefix $(BENCH_OUT)/mpi/,bench_mpi.o bcast_mpi.o payload_mpi.o): $(BENCH_SRC)/bench_mpi.h

$(BENCH_OUT)/bench_common.o: $(BENCH_SRC)/bench_common.c $(BENCH_DEPS)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(BENCH_CFLAGS) -c -o $@ $<

# Only our contenders: bcast_ipcfs.o (or any other) keeps its own rule.
$(addprefix $(BENCH_OUT)/,bcast_floor.o bcast_unix.o bcast_zmq.o bench_unix.o bench_zmq.o): \
		$(BENCH_OUT)/%.o: $(BENCH_SRC)/%.c $(BENCH_DEPS)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(BENCH_CFLAGS) -c -o $@ $<

# The large-payload contenders (payload_ipcfs.o keeps its own rule).
$(addprefix $(BENCH_OUT)/,payload_memcpy.o payload_unix.o payload_zmq.o payload_floor.o): \
		$(BENCH_OUT)/%.o: $(BENCH_SRC)/%.c $(BENCH_PAYLOAD_DEPS)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(BENCH_CFLAGS) -c -o $@ $<

$(BENCH_OUT)/bcast_floor: $(BENCH_OUT)/bcast_floor.o $(BENCH_COMMON_OBJ)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^

$(BENCH_OUT)/bcast_unix: $(BENCH_OUT)/bcast_unix.o $(BENCH_OUT)/bench_unix.o $(BENCH_COMMON_OBJ)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^

$(BENCH_OUT)/bcast_zmq: $(BENCH_OUT)/bcast_zmq.o $(BENCH_OUT)/bench_zmq.o $(BENCH_COMMON_OBJ)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(ZMQ_LIBS)

$(BENCH_OUT)/payload_memcpy: $(BENCH_OUT)/payload_memcpy.o $(BENCH_COMMON_OBJ)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^

$(BENCH_OUT)/payload_floor: $(BENCH_OUT)/payload_floor.o $(BENCH_COMMON_OBJ)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^

$(BENCH_OUT)/payload_unix: $(BENCH_OUT)/payload_unix.o $(BENCH_OUT)/bench_unix.o \
		$(BENCH_COMMON_OBJ)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^

$(BENCH_OUT)/payload_zmq: $(BENCH_OUT)/payload_zmq.o $(BENCH_OUT)/bench_zmq.o \
		$(BENCH_COMMON_OBJ)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(ZMQ_LIBS)

# The MPI contenders: compiled and linked by $(MPICC), with their own
# sanitizer-free copy of bench_common (and bench_mpi).
BENCH_MPI_OBJS := $(BENCH_OUT)/mpi/bench_mpi.o $(BENCH_OUT)/mpi/bench_common.o

$(addprefix $(BENCH_OUT)/mpi/,bench_common.o bench_mpi.o bcast_mpi.o): \
		$(BENCH_OUT)/mpi/%.o: $(BENCH_SRC)/%.c $(BENCH_DEPS)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  MPICC   $@")
	$(Q)$(MPICC) $(BENCH_MPI_CFLAGS) -c -o $@ $<

$(BENCH_OUT)/bcast_mpi: $(BENCH_OUT)/mpi/bcast_mpi.o $(BENCH_MPI_OBJS)
	$(if $(Q),@echo "  MPILD   $@")
	$(Q)$(MPICC) $(BENCH_MPI_CFLAGS) -o $@ $^

$(BENCH_OUT)/mpi/payload_mpi.o: $(BENCH_SRC)/payload_mpi.c $(BENCH_PAYLOAD_DEPS)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  MPICC   $@")
	$(Q)$(MPICC) $(BENCH_MPI_CFLAGS) -c -o $@ $<

$(BENCH_OUT)/payload_mpi: $(BENCH_OUT)/mpi/payload_mpi.o $(BENCH_MPI_OBJS)
	$(if $(Q),@echo "  MPILD   $@")
	$(Q)$(MPICC) $(BENCH_MPI_CFLAGS) -o $@ $^

# The Open MPI contender of run_remote.sh (header only: remote_common.h).
$(BENCH_OUT)/remote_mpi: $(BENCH_SRC)/remote_mpi.c $(BENCH_SRC)/remote_common.h
	@mkdir -p $(@D)
	$(if $(Q),@echo "  MPICC   $@")
	$(Q)$(MPICC) $(BENCH_MPI_CFLAGS) -o $@ $<

.DEFAULT_GOAL := $(BENCH_SAVED_GOAL)

# ---- the ipcfs contenders (linked against libipcfs.a) -------------------------
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

