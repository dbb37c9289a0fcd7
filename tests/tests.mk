# Test programs. Every tests/unit/*.c becomes build/tests/<name>, linked with
# the static library (and may include allocator/src internals). Other
# components add their test binaries to TEST_BINS in their own .mk files.

TEST_CFLAGS := -Itests/lib -Iallocator/include -Iallocator/src
UNIT_SRC    := $(wildcard tests/unit/*.c)
TEST_BINS   += $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libpoolalloc.a tests/lib/tap.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -MMD $< $(BUILD)/libpoolalloc.a $(LDFLAGS) $(LDLIBS) -o $@

include tests/alloc.mk
include tests/fuzz/fuzz.mk
