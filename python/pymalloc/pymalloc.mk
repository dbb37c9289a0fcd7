# poold_pymalloc: a CPython extension that publishes the interpreter's own
# pymalloc statistics for poold. Built against $(PYTHON) (the system's
# python3 with python3-dev) into $(BUILD)/python/: the package
# poold_pymalloc/ (Python files + the C part _native) and the start-up hook
# poold_pymalloc.pth. `make install` puts both into that Python's
# site-packages ($(PYMALLOC_SITEDIR), from PREFIX; override it to choose).

PYTHON         ?= /usr/bin/python3
PYTHON_CONFIG  ?= $(PYTHON)-config
PYMALLOC_PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYMALLOC_SUFFIX := $(shell $(PYTHON_CONFIG) --extension-suffix 2>/dev/null)
PYMALLOC_INC   := $(shell $(PYTHON_CONFIG) --includes 2>/dev/null | sed 's/-I/-isystem /g')
# Debian's layout: /usr is the distribution's, other prefixes are local.
PYMALLOC_SITEDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/python3/dist-packages,$(PREFIX)/lib/python$(PYMALLOC_PYVER)/dist-packages)

PYMALLOC_DIR   := $(BUILD)/python/poold_pymalloc
PYMALLOC_SRC   := $(wildcard python/pymalloc/*.c) allocator/export/export_file.c
PYMALLOC_OBJ   := $(patsubst %.c,$(BUILD)/obj/python/%.o,$(notdir $(PYMALLOC_SRC)))
PYMALLOC_PY    := $(wildcard python/pymalloc/poold_pymalloc/*.py)
PYMALLOC_SO    := $(PYMALLOC_DIR)/_native$(PYMALLOC_SUFFIX)
PYMALLOC_OUT   := $(PYMALLOC_SO) $(PYMALLOC_PY:python/pymalloc/poold_pymalloc/%=$(PYMALLOC_DIR)/%) \
                  $(BUILD)/python/poold_pymalloc.pth
PYMALLOC_CFLAGS := $(PYMALLOC_INC) -Iallocator/export -fvisibility=hidden

ifeq ($(PYMALLOC_SUFFIX),)
all:
	@echo "poold_pymalloc: $(PYTHON_CONFIG) not found (python3-dev): not built" >&2
else
all: $(PYMALLOC_OUT)
endif

$(BUILD)/obj/python/%.o: python/pymalloc/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PYMALLOC_CFLAGS) -MMD -c $< -o $@
$(BUILD)/obj/python/export_file.o: allocator/export/export_file.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PYMALLOC_CFLAGS) -MMD -c $< -o $@
$(PYMALLOC_SO): $(PYMALLOC_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)
# Byte-compiled here too, so a Python that may not write them (a read-only
# site-packages, PYTHONDONTWRITEBYTECODE) does not compile at every start.
$(PYMALLOC_DIR)/%.py: python/pymalloc/poold_pymalloc/%.py
	@mkdir -p $(@D)
	cp $< $@
	$(PYTHON) -m py_compile $@
$(BUILD)/python/poold_pymalloc.pth: python/pymalloc/poold_pymalloc.pth
	@mkdir -p $(@D)
	cp $< $@

install: install-pymalloc
.PHONY: install-pymalloc
install-pymalloc: $(PYMALLOC_OUT)
	install -d $(DESTDIR)$(PYMALLOC_SITEDIR)/poold_pymalloc
	install -p -m 644 $(PYMALLOC_DIR)/*.py $(DESTDIR)$(PYMALLOC_SITEDIR)/poold_pymalloc/
	install -d $(DESTDIR)$(PYMALLOC_SITEDIR)/poold_pymalloc/__pycache__
	install -p -m 644 $(PYMALLOC_DIR)/__pycache__/*.pyc $(DESTDIR)$(PYMALLOC_SITEDIR)/poold_pymalloc/__pycache__/
	install -m 755 $(PYMALLOC_SO) $(DESTDIR)$(PYMALLOC_SITEDIR)/poold_pymalloc/
	install -m 644 $(BUILD)/python/poold_pymalloc.pth $(DESTDIR)$(PYMALLOC_SITEDIR)/

# The package's files by the names the tree gives them (the extension of any
# interpreter, byte code of any tag or optimisation level, as the installed
# Python may have written more), then the package folder if that emptied it;
# the site directory itself is the system's.
PYMALLOC_PKG := $(DESTDIR)$(PYMALLOC_SITEDIR)/poold_pymalloc
PYMALLOC_MODS := $(basename $(notdir $(PYMALLOC_PY)))
uninstall: uninstall-pymalloc
.PHONY: uninstall-pymalloc
uninstall-pymalloc:
	rm -f $(PYMALLOC_MODS:%=$(PYMALLOC_PKG)/%.py) $(PYMALLOC_PKG)/_native.*so \
	      $(PYMALLOC_MODS:%=$(PYMALLOC_PKG)/__pycache__/%.*pyc) \
	      $(DESTDIR)$(PYMALLOC_SITEDIR)/poold_pymalloc.pth
	$(call rmdir_empty,$(PYMALLOC_PKG)/__pycache__ $(PYMALLOC_PKG))
