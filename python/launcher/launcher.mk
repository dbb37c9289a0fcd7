# build/poolpython: the system's CPython (embedded through python3-config)
# on the pool allocator (libpoolalloc.a, linked in). Built by `all` when the
# system Python's development files are there (python3-dev, in the build
# and test package groups), and always by `make poolpython`.

POOLPY_CONFIG := /usr/bin/python3-config
POOLPY_OBJ    := $(BUILD)/obj/poolpython
# Evaluated only when the launcher is built (recursive on purpose).
POOLPY_CFLAGS  = $(patsubst -I%,-isystem %,$(shell $(POOLPY_CONFIG) --embed --cflags)) \
                 -DPOOLPYTHON_PREFIX='"$(shell $(POOLPY_CONFIG) --prefix)"' \
                 -DPOOLPYTHON_EXEC_PREFIX='"$(shell $(POOLPY_CONFIG) --exec-prefix)"'
# libpython is linked in statically, as in /usr/bin/python3 itself: through
# Debian's shared libpython3.11.so the same program runs ~20% more
# instructions (position-independent code, calls through the PLT). The
# archive is not position-independent (hence -no-pie); the interpreter's
# symbols are exported for extension modules, and the libraries of its
# built-in modules (zlib, expat) come from its own build configuration.
comma := ,
POOLPY_LDFLAGS = -no-pie -Xlinker -export-dynamic \
                 $(patsubst -lpython%,-Wl$(comma)-Bstatic -lpython% -Wl$(comma)-Bdynamic, \
                   $(shell $(POOLPY_CONFIG) --embed --ldflags)) \
                 $(sort $(shell $(POOLPY_CONFIG:-config=) -c \
                   'import sysconfig; print(sysconfig.get_config_var("MODLIBS"))'))

# The Python side (main.c, allocators.c) sees Python.h and the public
# allocator API; the pool side (pool_domain.c) the allocator's internals;
# the statistics publisher is the preload shim's (and its segment file
# helper), built for the library. So are the shim's exec and _exit wrappers
# (lifecycle.c, with the trace writer it also flushes, never started here):
# exec and _exit run no atexit handler, and without them os.exec*, and
# os._exit in a forked child, left the segment of a process gone. Defined
# in the executable, they stand before libc's for the interpreter and every
# extension module, as the preloaded shim's do.
$(POOLPY_OBJ)/main.o $(POOLPY_OBJ)/allocators.o $(POOLPY_OBJ)/python_stats.o: \
  $(POOLPY_OBJ)/%.o: python/launcher/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(POOLPY_CFLAGS) -Iallocator/shim -MMD -c $< -o $@
$(POOLPY_OBJ)/pool_domain.o: python/launcher/pool_domain.c
$(POOLPY_OBJ)/export_writer.o $(POOLPY_OBJ)/lifecycle.o $(POOLPY_OBJ)/trace_writer.o: \
  $(POOLPY_OBJ)/%.o: allocator/shim/%.c
$(POOLPY_OBJ)/export_file.o: allocator/export/export_file.c
$(POOLPY_OBJ)/pool_domain.o $(POOLPY_OBJ)/export_writer.o $(POOLPY_OBJ)/lifecycle.o \
  $(POOLPY_OBJ)/trace_writer.o $(POOLPY_OBJ)/export_file.o:
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ALLOC_CFLAGS) -MMD -c $< -o $@

POOLPY_OBJS := $(addprefix $(POOLPY_OBJ)/,main.o allocators.o python_stats.o pool_domain.o \
                 export_writer.o lifecycle.o trace_writer.o export_file.o)
# sys._debugmallocstats() and sys.getallocatedblocks() report our allocator
# (python_stats.c): the interpreter's calls are redirected to ours.
POOLPY_WRAP := -Wl,--wrap=_PyObject_DebugMallocStats -Wl,--wrap=_Py_GetAllocatedBlocks
$(BUILD)/poolpython: $(POOLPY_OBJS) $(BUILD)/libpoolalloc.a
	$(CC) $(LDFLAGS) -o $@ $^ $(POOLPY_WRAP) $(POOLPY_LDFLAGS) $(LDLIBS)

.PHONY: poolpython install-poolpython uninstall-poolpython
poolpython: $(BUILD)/poolpython
install-poolpython: $(BUILD)/poolpython
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/poolpython $(DESTDIR)$(PREFIX)/bin/poolpython
# Unconditional, unlike install: a poolpython installed while python3-dev
# was there still goes.
uninstall: uninstall-poolpython
uninstall-poolpython:
	rm -f $(DESTDIR)$(PREFIX)/bin/poolpython

ifneq ($(wildcard $(POOLPY_CONFIG)),)
all: $(BUILD)/poolpython
install: install-poolpython
endif

# make bench's Python tables have a poolpython row.
bench-bins: $(BUILD)/poolpython
