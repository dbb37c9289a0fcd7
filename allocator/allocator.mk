# The pool allocator: build/libpoolalloc.{a,so} and the preload shim
# build/libpoolmalloc.so (same sources built with -DPOOL_SHIM).

ALLOC_SRC  := $(wildcard allocator/src/*.c)
ALLOC_OBJ  := $(ALLOC_SRC:allocator/src/%.c=$(BUILD)/obj/alloc/%.o)
SHIM_SRC   := $(wildcard allocator/shim/*.c)
SHIM_OBJ   := $(ALLOC_SRC:allocator/src/%.c=$(BUILD)/obj/shim/%.o) \
              $(SHIM_SRC:allocator/shim/%.c=$(BUILD)/obj/shim/shim_%.o) \
              $(BUILD)/obj/shim/export_file.o
ALLOC_CFLAGS := -fvisibility=hidden -Iallocator/src -Iallocator/trace -Iallocator/export

$(BUILD)/obj/alloc/%.o: allocator/src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ALLOC_CFLAGS) -MMD -c $< -o $@
$(BUILD)/obj/shim/%.o: allocator/src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ALLOC_CFLAGS) -DPOOL_SHIM -MMD -c $< -o $@
$(BUILD)/obj/shim/export_file.o: allocator/export/export_file.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ALLOC_CFLAGS) -DPOOL_SHIM -MMD -c $< -o $@
$(BUILD)/obj/shim/shim_%.o: allocator/shim/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ALLOC_CFLAGS) -DPOOL_SHIM -MMD -c $< -o $@

$(BUILD)/libpoolalloc.a: $(ALLOC_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^
$(BUILD)/libpoolalloc.so: $(ALLOC_OBJ)
	$(CC) -shared -Wl,-soname,libpoolalloc.so.0 -Wl,-Bsymbolic-functions $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/libpoolmalloc.so: $(SHIM_OBJ)
	$(CC) -shared -Wl,-soname,libpoolmalloc.so -Wl,-Bsymbolic-functions $(LDFLAGS) -o $@ $^ $(LDLIBS) -ldl

$(BUILD)/poolalloc.pc: allocator/poolalloc.pc.in allocator/include/poolalloc.h $(BUILD)/prefix
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

ALLOC_LIBS := $(BUILD)/libpoolalloc.a $(BUILD)/libpoolalloc.so $(BUILD)/libpoolmalloc.so
all: $(ALLOC_LIBS) $(BUILD)/poolalloc.pc

install: install-allocator
.PHONY: install-allocator
install-allocator: $(ALLOC_LIBS) $(BUILD)/poolalloc.pc
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(BUILD)/libpoolalloc.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libpoolalloc.so $(DESTDIR)$(PREFIX)/lib/libpoolalloc.so.0
	ln -sf libpoolalloc.so.0 $(DESTDIR)$(PREFIX)/lib/libpoolalloc.so
	install -m 755 $(BUILD)/libpoolmalloc.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 allocator/include/poolalloc.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/poolalloc.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

uninstall: uninstall-allocator
.PHONY: uninstall-allocator
uninstall-allocator:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/lib/,libpoolalloc.a libpoolalloc.so.0 libpoolalloc.so \
	        libpoolmalloc.so pkgconfig/poolalloc.pc) $(DESTDIR)$(PREFIX)/include/poolalloc.h

# Readers for what the shim writes (traces, statistics segments), for the
# daemon and the tools: build/libpoolreaders.a with -Iallocator/trace
# -Iallocator/export.
READERS_SRC := allocator/trace/trace_reader.c allocator/trace/trace_model.c \
               allocator/export/export_reader.c allocator/export/export_valid.c
READERS_OBJ := $(READERS_SRC:allocator/%.c=$(BUILD)/obj/readers/%.o)
READERS_CFLAGS := -Iallocator/trace -Iallocator/export

$(BUILD)/obj/readers/%.o: allocator/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(READERS_CFLAGS) -MMD -c $< -o $@
$(BUILD)/libpoolreaders.a: $(READERS_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^
all: $(BUILD)/libpoolreaders.a
