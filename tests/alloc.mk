# The allocator's tests beyond tests/unit (included from tests/tests.mk):
#   tests/stress/*.c  multi-threaded programs, linked like the unit tests
#   tests/shim/*.c    plain programs the shim suites run with LD_PRELOAD

STRESS_BINS := $(patsubst tests/stress/%.c,$(BUILD)/tests/%,$(wildcard tests/stress/*.c))
SHIM_PROGS  := $(patsubst tests/shim/%.c,$(BUILD)/tests/shim/%,$(wildcard tests/shim/*.c))
TEST_BINS   += $(STRESS_BINS) $(SHIM_PROGS)

$(STRESS_BINS): $(BUILD)/tests/%: tests/stress/%.c $(BUILD)/libpoolalloc.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -MMD $< $(BUILD)/libpoolalloc.a $(LDFLAGS) $(LDLIBS) -o $@

# Not linked with the allocator: the shim comes in through LD_PRELOAD.
$(SHIM_PROGS): $(BUILD)/tests/shim/%: tests/shim/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/lib -Iallocator/include -MMD $< $(LDFLAGS) $(LDLIBS) -ldl -o $@
