# The libFuzzer targets (clang): every tests/fuzz/fuzz_NAME.c becomes
# build/fuzz/fuzz_NAME, run by tests/fuzz/run.sh NAME... from the seeds in
# tests/fuzz/corpus/NAME/. `make fuzz` builds them all. What a target links
# with its own object:
#   alloc           the allocator
#   trace           the trace and segment readers
#   pymalloc        poold_pymalloc's report parser, and the readers
#   everything else the daemon's objects (not main.c), the allocator, the readers
# all compiled again with clang's fuzzer instrumentation and ASan/UBSan.
FUZZ_CC     ?= clang
FUZZ_BUILD  := $(BUILD)/fuzz
FUZZ_SAN    := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fPIC -pthread $(WARN) -Iallocator/include -Itests/lib \
               $(DAEMON_CFLAGS)
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

FUZZ_ALLOC_OBJ   := $(ALLOC_SRC:allocator/src/%.c=$(FUZZ_BUILD)/obj/alloc/%.o)
FUZZ_READERS_OBJ := $(READERS_SRC:allocator/%.c=$(FUZZ_BUILD)/obj/readers/%.o)
FUZZ_DAEMON_OBJ  := $(filter-out $(FUZZ_BUILD)/obj/daemon/main.o, \
                      $(DAEMON_SRC:daemon/%.c=$(FUZZ_BUILD)/obj/daemon/%.o))
FUZZ_DAEMON_BINS := $(filter-out $(FUZZ_BUILD)/fuzz_alloc $(FUZZ_BUILD)/fuzz_trace \
                      $(FUZZ_BUILD)/fuzz_pymalloc,$(FUZZ_BINS))
FUZZ_PYMALLOC_OBJ := $(FUZZ_BUILD)/obj/python/figures_parse.o $(FUZZ_BUILD)/obj/python/stats_fill.o

$(FUZZ_BUILD)/fuzz_alloc: $(FUZZ_ALLOC_OBJ)
$(FUZZ_BUILD)/fuzz_trace: $(FUZZ_READERS_OBJ)
$(FUZZ_BUILD)/fuzz_pymalloc: $(FUZZ_PYMALLOC_OBJ) $(FUZZ_READERS_OBJ)
$(FUZZ_BUILD)/obj/fuzz_pymalloc.o: FUZZ_CFLAGS += -Ipython/pymalloc -Iallocator/export
$(FUZZ_DAEMON_BINS): $(FUZZ_DAEMON_OBJ) $(FUZZ_ALLOC_OBJ) $(FUZZ_READERS_OBJ)
$(FUZZ_DAEMON_BINS): FUZZ_LIBS := $(DAEMON_LIBS)

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/fuzz_%.o
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(FUZZ_LIBS) -pthread

# (kept: make would delete them as intermediate files otherwise)
.SECONDARY: $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/obj/%.o)
$(FUZZ_BUILD)/obj/fuzz_%.o: tests/fuzz/fuzz_%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Iallocator/src $(FUZZ_SAN) -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/obj/daemon/%.o: daemon/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/obj/alloc/%.o: allocator/src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(ALLOC_CFLAGS) $(FUZZ_SAN) -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/obj/python/%.o: python/pymalloc/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/obj/readers/%.o: allocator/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(READERS_CFLAGS) $(FUZZ_SAN) -MMD -MP -c $< -o $@

.PHONY: fuzz
fuzz: $(FUZZ_BINS)

# `make tests` builds the allocator's target too when clang is there (the
# alloc-fuzz suite skips without it); the other suites build theirs.
ifneq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
TEST_BINS += $(FUZZ_BUILD)/fuzz_alloc
endif
