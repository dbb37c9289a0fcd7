# poold, the daemon: build/poold, its fuzz targets (make fuzz), make run and
# make install-daemon.

# The sources: main.c and one folder a layer, highest first. The include
# rule: a file includes headers of its own folder and of folders after it in
# DAEMON_LAYERS, never before (main.c may include any); every include names
# its folder ("service/log.h"). tests/daemon/layers.sh checks it.
DAEMON_LAYERS := http expose collectors config workload service
# Objects go to build/obj/daemon/<folder>/.
DAEMON_SRC  := daemon/main.c $(wildcard daemon/*/*.c)
DAEMON_OBJ  := $(DAEMON_SRC:daemon/%.c=$(BUILD)/obj/daemon/%.o)
DAEMON_PKGS := libmicrohttpd libcjson libsystemd yaml-0.1 zlib libcrypt
DAEMON_CFLAGS := $(shell pkg-config --cflags $(DAEMON_PKGS) 2>/dev/null) -Idaemon \
                 -Iallocator/trace -Iallocator/export -DPOOLD_VERSION='"$(VERSION)"'
DAEMON_LIBS := $(shell pkg-config --libs $(DAEMON_PKGS) 2>/dev/null || \
                 echo -lmicrohttpd -lcjson -lsystemd -lyaml -lz -lcrypt) -lm

# Dependency files written before the layer move name headers that are gone
# (daemon/log.h ...); drop them so make rebuilds instead of stopping.
$(shell grep -lsE ' daemon/[a-z_]+\.h' $(BUILD)/obj/daemon/*.d $(BUILD)/fuzz/obj/*.d | xargs -r rm -f)

$(BUILD)/obj/daemon/%.o: daemon/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DAEMON_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/poold: $(DAEMON_OBJ) $(BUILD)/libpoolreaders.a $(BUILD)/libpoolalloc.a
	$(CC) $(LDFLAGS) -o $@ $(DAEMON_OBJ) $(BUILD)/libpoolreaders.a $(BUILD)/libpoolalloc.a \
	      $(DAEMON_LIBS) $(LDLIBS)

all: $(BUILD)/poold

# ---- make run ---------------------------------------------------------------
.PHONY: run
run: deps
	@$(MAKE) --no-print-directory $(BUILD)/poold
	@echo "poold: open http://127.0.0.1:19180/ in a browser;" \
	      "point Prometheus at http://127.0.0.1:19180/metrics (Ctrl-C stops)"
	@exec $(BUILD)/poold $(POOLD_ARGS)

# ---- make install -------------------------------------------------------------
SYSCONFDIR ?= /etc
install: install-daemon
.PHONY: install-daemon
install-daemon: $(BUILD)/poold
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSCONFDIR)/poold
	install -m 755 $(BUILD)/poold $(DESTDIR)$(PREFIX)/bin/poold
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/poold/poold.conf ]; then \
	  echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/poold/poold.conf"; \
	else \
	  echo "install -m 644 daemon/config/poold.conf $(DESTDIR)$(SYSCONFDIR)/poold/poold.conf"; \
	  install -m 644 daemon/config/poold.conf $(DESTDIR)$(SYSCONFDIR)/poold/poold.conf; \
	fi

# ---- fuzz targets (clang, libFuzzer) -----------------------------------------
# Each tests/fuzz/fuzz_NAME.c becomes build/fuzz/fuzz_NAME, linked with the daemon
# objects (except main.c) built again with the fuzzer's instrumentation.
FUZZ_CC     ?= clang
FUZZ_BUILD  := $(BUILD)/fuzz
FUZZ_SAN    := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_SRC    := $(filter-out tests/fuzz/fuzz_trace.c,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS   := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_OBJ    := $(filter-out $(FUZZ_BUILD)/obj/main.o,$(DAEMON_SRC:daemon/%.c=$(FUZZ_BUILD)/obj/%.o))
FUZZ_ALLOC  := $(ALLOC_SRC:allocator/src/%.c=$(FUZZ_BUILD)/obj/alloc/%.o) \
               $(READERS_SRC:allocator/%.c=$(FUZZ_BUILD)/obj/readers/%.o)
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fPIC -pthread $(WARN) -Iallocator/include $(DAEMON_CFLAGS)

$(FUZZ_BUILD)/obj/%.o: daemon/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/obj/fuzz_%.o: tests/fuzz/fuzz_%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/obj/alloc/%.o: allocator/src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(ALLOC_CFLAGS) $(FUZZ_SAN) -MMD -c $< -o $@
$(FUZZ_BUILD)/obj/readers/%.o: allocator/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(READERS_CFLAGS) $(FUZZ_SAN) -MMD -c $< -o $@
$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/fuzz_%.o $(FUZZ_OBJ) $(FUZZ_ALLOC)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(DAEMON_LIBS) -pthread

.PHONY: fuzz
fuzz: $(FUZZ_BINS)
