# make bench: the allocator benchmarks (docs/benchmarks.md says what runs and
# how to read the tables).
#
#   make bench                    install the anchors, build, run every workload
#   make bench BENCH_QUICK=1      a smoke run: tiny counts, two rounds
#   make bench BENCH_ROUNDS=9     rounds (default: see bench/bench.py)
#   make bench BENCH_ONLY=churn   a regex over workload names
#
# One workload source, three binaries (bench/balloc.h):
#   build/bench/bench-malloc    malloc/free; the anchors and our shim are
#                               swapped in with LD_PRELOAD
#   build/bench/bench-pool      the pool API, linked with libpoolalloc.a
#   build/bench/bench-pymalloc  PyObject_Malloc of an embedded CPython
# None of them is part of `all`: the last needs python3-dev, which only
# `scripts/deps.sh bench` installs.

BENCH_DIR  := $(BUILD)/bench
BENCH_SRC  := $(filter-out bench/work_stats.c,$(wildcard bench/*.c))
BENCH_BINS := $(BENCH_DIR)/bench-malloc $(BENCH_DIR)/bench-pool $(BENCH_DIR)/bench-pymalloc
BENCH_PYTHON := /usr/bin/python3
# Evaluated only when bench-pymalloc is built (recursive on purpose).
BENCH_PY_CFLAGS  = $(patsubst -I%,-isystem %,$(shell $(BENCH_PYTHON)-config --includes))
BENCH_PY_LDFLAGS = $(shell $(BENCH_PYTHON)-config --embed --ldflags)
# The rows run three different binaries, so the harness's own hot loops
# (filling and checking every block) must not change speed with where the
# linker happens to place them: a loop straddling a 64-byte fetch window
# measured 15-20% slower on medium churn here, whichever allocator ran.
BENCH_CFLAGS = -falign-loops=64

$(BUILD)/obj/bench/malloc/%.o: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(BENCH_CFLAGS) -MMD -c $< -o $@
$(BUILD)/obj/bench/pool/%.o: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(BENCH_CFLAGS) -DBENCH_POOL -MMD -c $< -o $@
$(BUILD)/obj/bench/pymalloc/%.o: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(BENCH_CFLAGS) -DBENCH_PYMALLOC $(BENCH_PY_CFLAGS) -MMD -c $< -o $@

$(BENCH_DIR)/bench-malloc: $(BENCH_SRC:bench/%.c=$(BUILD)/obj/bench/malloc/%.o)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BENCH_DIR)/bench-pool: $(BENCH_SRC:bench/%.c=$(BUILD)/obj/bench/pool/%.o) \
                         $(BUILD)/obj/bench/pool/work_stats.o $(BUILD)/libpoolalloc.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BENCH_DIR)/bench-pymalloc: $(BENCH_SRC:bench/%.c=$(BUILD)/obj/bench/pymalloc/%.o)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(BENCH_PY_LDFLAGS) $(LDLIBS)

.PHONY: bench-bins
bench-bins: $(BENCH_BINS) $(BUILD)/libpoolmalloc.so

bench: deps-bench
	@$(MAKE) --no-print-directory bench-bins
	@$(BENCH_PYTHON) bench/bench.py --build $(BUILD) \
	  $(if $(BENCH_QUICK),--quick) $(if $(BENCH_ROUNDS),--rounds $(BENCH_ROUNDS)) \
	  $(if $(BENCH_ONLY),--only '$(BENCH_ONLY)')

# The smoke suite's deliberately broken allocator (bench/test/).
$(BENCH_DIR)/libbroken.so: bench/test/broken_alloc.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -shared -o $@ $<
bench-bins: $(BENCH_DIR)/libbroken.so

# Instruction counts per call under valgrind (deterministic on a noisy
# machine): ours against mimalloc and glibc on workloads 1-9 by default.
#   make bench-callgrind CG_ARGS='--workloads realloc --allocs pool,glibc'
.PHONY: bench-callgrind
bench-callgrind: deps-bench
	@$(MAKE) --no-print-directory bench-bins
	@$(BENCH_PYTHON) bench/callgrind.py --build $(BUILD) $(CG_ARGS)
