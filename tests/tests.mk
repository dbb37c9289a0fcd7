# Test programs. Every tests/unit/*.c becomes build/tests/<name>, linked with
# the static library (and may include allocator/src internals). Other
# components add their test binaries to TEST_BINS in their own .mk files.

TEST_CFLAGS := -Itests/lib -Iallocator/include -Iallocator/src
DAEMON_UNIT_SRC := $(wildcard tests/unit/daemon_*.c)
UNIT_SRC    := $(filter-out $(DAEMON_UNIT_SRC),$(wildcard tests/unit/*.c))
TEST_BINS   += $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libpoolalloc.a tests/lib/tap.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -MMD $< $(BUILD)/libpoolalloc.a $(LDFLAGS) $(LDLIBS) -o $@

# The daemon's unit tests (tests/unit/daemon_*.c: its pure logic, no
# network) link with the daemon's objects, all but main.c.
DAEMON_UNIT_BINS := $(DAEMON_UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
DAEMON_UNIT_OBJ  := $(filter-out $(BUILD)/obj/daemon/main.o,$(DAEMON_OBJ))
TEST_BINS += $(DAEMON_UNIT_BINS)
$(DAEMON_UNIT_BINS): $(BUILD)/tests/%: tests/unit/%.c $(DAEMON_UNIT_OBJ) $(BUILD)/libpoolreaders.a \
		$(BUILD)/libpoolalloc.a tests/lib/tap.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) $(DAEMON_CFLAGS) -MMD $< $(DAEMON_UNIT_OBJ) $(BUILD)/libpoolreaders.a \
	  $(BUILD)/libpoolalloc.a $(LDFLAGS) $(DAEMON_LIBS) $(LDLIBS) -o $@

include tests/alloc.mk
include tests/fuzz/fuzz.mk
