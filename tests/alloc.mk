# The allocator's tests beyond tests/unit (included from tests/tests.mk):
#   tests/stress/*.c  multi-threaded programs, linked like the unit tests
#   tests/shim/*.c    plain programs the shim suites run with LD_PRELOAD
#   tests/fuzz/*.c    libFuzzer targets (clang), built by `make fuzz` and
#                     by `make tests` when clang is there

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

# The libFuzzer target: the allocator's sources compiled in with clang and
# the fuzzer, address and undefined-behaviour sanitizers (whatever SAN is).
ALLOC_FUZZ_CC  ?= clang
ALLOC_FUZZ_BIN := $(BUILD)/fuzz/alloc_fuzz
ALLOC_FUZZ_FLAGS := -std=gnu11 -g -O1 -pthread -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined $(WARN) -Iallocator/include -Iallocator/src -Itests/lib

$(ALLOC_FUZZ_BIN): tests/fuzz/alloc_fuzz.c $(ALLOC_SRC) $(wildcard allocator/src/*.h) \
		tests/lib/pattern.h tests/lib/stats_check.h
	@mkdir -p $(@D)
	$(ALLOC_FUZZ_CC) $(ALLOC_FUZZ_FLAGS) tests/fuzz/alloc_fuzz.c $(ALLOC_SRC) -o $@

.PHONY: fuzz
fuzz: $(ALLOC_FUZZ_BIN)
ifneq ($(shell command -v $(ALLOC_FUZZ_CC) 2>/dev/null),)
TEST_BINS += $(ALLOC_FUZZ_BIN)
endif
