# python/python.mk - the ipcfs Python package (included from the Makefile).
#
# The package is staged in $(BUILD)/python/ipcfs: its .py files and the C
# extension _native (python/ipcfs/_native.c over the static libipcfs, so
# that the installed module needs no libipcfs.so). Built against
# $(PYTHON)'s headers (Debian's python3-dev); skipped, with a note, where
# they are missing. `make install` puts the package where $(PYTHON) finds
# it without PYTHONPATH; `pip install ./python` builds the same module
# (python/setup.py).

PYTHON ?= /usr/bin/python3
PY_INC := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)
PY_EXT := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))' 2>/dev/null)
PY_VER := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_python_version())' 2>/dev/null)
# Where Debian's python3 looks: /usr/lib/python3/dist-packages for the
# system prefix, PREFIX/lib/python3.X/dist-packages otherwise.
PYTHON_SITE ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/python3/dist-packages,$(PREFIX)/lib/python$(PY_VER)/dist-packages)

PY_PKG := $(BUILD)/python/ipcfs
PY_SRCS := $(wildcard python/ipcfs/*.py)
PY_FILES := $(PY_SRCS:python/ipcfs/%=$(PY_PKG)/%)

ifneq ($(and $(PY_INC),$(wildcard $(PY_INC)/Python.h)),)
PY_SO := $(PY_PKG)/_native$(PY_EXT)
PY_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard python/ipcfs/*.c))
$(PY_OBJ): CFLAGS += -I$(PY_INC) -Ipython/ipcfs

# The library linked in, its symbols not exported again.
$(PY_SO): $(PY_OBJ) $(LIBA)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(LDFLAGS) -Wl,--exclude-libs,ALL -o $@ $(PY_OBJ) $(LIBA) $(LDLIBS_LIB)

$(PY_PKG)/%.py: python/ipcfs/%.py
	@mkdir -p $(@D)
	$(Q)cp $< $@

ALL += $(PY_SO) $(PY_FILES)

.PHONY: install-python uninstall-python
install: install-python
install-python: $(PY_SO) $(PY_FILES)
	install -d $(DESTDIR)$(PYTHON_SITE)/ipcfs
	install -m 644 $(PY_FILES) $(DESTDIR)$(PYTHON_SITE)/ipcfs/
	install -m 755 $(PY_SO) $(DESTDIR)$(PYTHON_SITE)/ipcfs/

uninstall: uninstall-python
uninstall-python:
	rm -rf $(DESTDIR)$(PYTHON_SITE)/ipcfs
else
$(info python: no Python.h for $(PYTHON) (install python3-dev): the Python module is not built)
endif

# The Python benchmark (issue 10): ipcfs against pyzmq and torch gloo,
# results in results/py_bench.{md,json}. Part of `make bench`.
.PHONY: bench-python
bench: bench-python
bench-python: $(PY_SO) $(PY_FILES)
	$(Q)tools/install-deps.sh --bench
	$(Q)IPCFS_PYTHONPATH=$(BUILD)/python $(PYTHON) tools/bench/py_bench.py results
