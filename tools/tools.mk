# Command-line tools: build/pooltrace (allocation traces: summary, replay,
# check), linked with the trace readers and the allocator.

TOOLS_CFLAGS := -Iallocator/trace -Iallocator/export -Itools
POOLTRACE_SRC := $(wildcard tools/pooltrace*.c)
POOLTRACE_OBJ := $(POOLTRACE_SRC:tools/%.c=$(BUILD)/obj/tools/%.o)

$(BUILD)/obj/tools/%.o: tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TOOLS_CFLAGS) -MMD -c $< -o $@

$(BUILD)/pooltrace: $(POOLTRACE_OBJ) $(BUILD)/libpoolreaders.a $(BUILD)/libpoolalloc.a
	$(CC) $(LDFLAGS) -o $@ $(POOLTRACE_OBJ) $(BUILD)/libpoolreaders.a $(BUILD)/libpoolalloc.a $(LDLIBS)

all: $(BUILD)/pooltrace

install: install-tools
.PHONY: install-tools
install-tools: $(BUILD)/pooltrace
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/pooltrace $(DESTDIR)$(PREFIX)/bin/pooltrace

uninstall: uninstall-tools
.PHONY: uninstall-tools
uninstall-tools:
	rm -f $(DESTDIR)$(PREFIX)/bin/pooltrace

# Programs the observe suites trace (tests/observe/*.c): plain programs,
# the shim comes in through LD_PRELOAD.
OBSERVE_PROGS := $(patsubst tests/observe/%.c,$(BUILD)/tests/observe/%,$(wildcard tests/observe/*.c))
TEST_BINS += $(OBSERVE_PROGS)
$(OBSERVE_PROGS): $(BUILD)/tests/observe/%: tests/observe/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD $< $(LDFLAGS) $(LDLIBS) -o $@
