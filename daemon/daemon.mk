# poold, the daemon: build/poold, make run and make install-daemon (its fuzz
# targets are tests/fuzz/fuzz.mk's).

# The sources: main.c and one folder a layer, highest first. The include
# rule: a file includes headers of its own folder and of folders after it in
# DAEMON_LAYERS, never before (main.c may include any); every include names
# its folder ("service/log.h"). tests/daemon/layers.sh checks it.
DAEMON_LAYERS := http expose collectors config workload service
# Objects go to build/obj/daemon/<folder>/.
DAEMON_SRC  := daemon/main.c $(wildcard daemon/*/*.c daemon/*/*/*.c)
DAEMON_OBJ  := $(DAEMON_SRC:daemon/%.c=$(BUILD)/obj/daemon/%.o)
DAEMON_PKGS := libmicrohttpd libcjson libsystemd yaml-0.1 zlib libcrypt
DAEMON_CFLAGS := $(shell pkg-config --cflags $(DAEMON_PKGS) 2>/dev/null) -Idaemon \
                 -Iallocator/trace -Iallocator/export -I$(BUILD)/gen -DPOOLD_VERSION='"$(VERSION)"'
DAEMON_LIBS := $(shell pkg-config --libs $(DAEMON_PKGS) 2>/dev/null || \
                 echo -lmicrohttpd -lcjson -lsystemd -lyaml -lz -lcrypt) -lm

# Dependency files written before the layer move name headers that are gone
# (daemon/log.h ...); drop them so make rebuilds instead of stopping.
$(shell grep -lsE ' daemon/[a-z_]+\.h' $(BUILD)/obj/daemon/*.d $(BUILD)/fuzz/obj/*.d | xargs -r rm -f)

$(BUILD)/obj/daemon/%.o: daemon/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DAEMON_CFLAGS) -MMD -MP -c $< -o $@

# The live page's files, embedded (daemon/http/page.c includes the result).
PAGE_FILES := $(wildcard daemon/http/page/*.html daemon/http/page/*.js daemon/http/page/*.css \
                          daemon/http/page/*.svg)
$(BUILD)/gen/page_assets.inc: $(PAGE_FILES) daemon/http/page/embed.sh
	@mkdir -p $(@D)
	sh daemon/http/page/embed.sh $@ $(PAGE_FILES)
$(BUILD)/obj/daemon/http/page.o $(BUILD)/fuzz/obj/daemon/http/page.o: $(BUILD)/gen/page_assets.inc

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

# The config goes only when it is still the shipped one: an edited config is
# the administrator's (as install keeps it), and so is its folder then.
uninstall: uninstall-daemon
.PHONY: uninstall-daemon
uninstall-daemon:
	rm -f $(DESTDIR)$(PREFIX)/bin/poold
	@conf='$(DESTDIR)$(SYSCONFDIR)/poold/poold.conf'; \
	if [ -e "$$conf" ] && ! cmp -s daemon/config/poold.conf "$$conf"; then \
	  echo "keeping edited $$conf"; \
	else \
	  echo "rm -f $$conf"; rm -f "$$conf"; \
	  $(call rmdir_empty,$(DESTDIR)$(SYSCONFDIR)/poold); \
	fi
