# poold — top-level build. Components add their rules in <dir>/<dir>.mk.
#
#   make            build everything into build/ (stops at once, naming them,
#                   when build packages are missing: `make deps` installs them)
#   make run        install missing packages, build, start poold
#   make test       install missing packages, build, run every test suite
#   make bench      install the anchors, build, run the benchmarks
#   make asan|tsan  the unit and stress tests under the sanitizers
#   make lint       cppcheck over the C sources
#   make debug      build/debug: -Og, and the pool allocator with the debug
#                   hooks by default (pymalloc_debug), as CPython's debug builds
#   make POOL_THRESHOLD=512   pymalloc's threshold by default (no medium tier),
#                   into build/threshold-512
#   make install    PREFIX=/usr/local DESTDIR=
#   make uninstall  the same PREFIX, DESTDIR (and SYSCONFDIR): removes what install put there

.DEFAULT_GOAL := all
SHELL   := /bin/bash
POOL_THRESHOLD ?=
POOL_DEBUG     ?=
ifneq ($(POOL_THRESHOLD),)
BUILD   ?= build/threshold-$(POOL_THRESHOLD)
endif
BUILD   ?= build
OPT     ?= -O2
SAN     ?=
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := $(shell sed -n 's/^\#define POOLALLOC_VERSION "\(.*\)"/\1/p' allocator/include/poolalloc.h)

WARN    := -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= $(OPT) -g
override CFLAGS += -std=gnu11 -pthread -fPIC $(WARN) -Iallocator/include
ifneq ($(POOL_THRESHOLD),)
override CFLAGS += -DPOOL_DEFAULT_THRESHOLD=$(POOL_THRESHOLD)
endif
ifneq ($(POOL_DEBUG),)
override CFLAGS += -DPOOL_DEBUG_BUILD
endif
ifneq ($(SAN),)
override CFLAGS  += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=$(SAN)
endif
LDLIBS  += -pthread

.PHONY: all deps deps-test deps-bench deps-lint run test bench install uninstall clean asan tsan fuzz debug lint
all:

# Suites that also run under ASan/UBSan and TSan (a regex over suite names).
SANITIZER_SUITES ?= ^(alloc-(api|stats|arena|domains|debug|env|stress|threads)|shim-.*)$$

deps:
	@scripts/deps.sh build
deps-test:
	@scripts/deps.sh test
deps-bench:
	@scripts/deps.sh bench
deps-lint:
	@scripts/deps.sh lint

# Plain `make`, and every goal that compiles without installing packages
# first, checks the build's Debian packages before anything runs: one missing
# is one line naming it and `make deps`, never a compiler error half-way.
DEPS_SELF := deps deps-test deps-bench deps-lint run test bench bench-callgrind asan tsan clean uninstall lint
ifneq ($(filter-out $(DEPS_SELF),$(or $(MAKECMDGOALS),all)),)
DEPS_MISSING := $(shell scripts/deps.sh check build)
ifneq ($(DEPS_MISSING),)
$(error $(DEPS_MISSING))
endif
endif

# Outputs that embed $(PREFIX) (the units' ExecStart, poolalloc.pc) depend on
# this file, rewritten only when PREFIX changes, so an install for another
# PREFIX (make deb uses /usr) never ships paths of the previous one.
.PHONY: FORCE
FORCE:

# For the uninstall rules: $(call rmdir_empty,DIRS) removes each of DIRS that
# exists and is empty (the folders an install made that are ours alone).
rmdir_empty = for d in $(1); do if [ -d "$$d" ]; then rmdir --ignore-fail-on-non-empty "$$d"; fi; done
$(BUILD)/prefix: FORCE
	@mkdir -p $(@D)
	@echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' > $@

include allocator/allocator.mk
-include daemon/daemon.mk
-include tools/tools.mk
-include tests/tests.mk
-include bench/bench.mk
-include systemd/systemd.mk
-include man/man.mk
-include packaging/deb.mk
-include $(wildcard python/*/*.mk)

# ---- targets that need every component's variables -----------------------
.PHONY: tests
tests: all $(TEST_BINS)

test: deps-test
	@$(MAKE) --no-print-directory tests
	@tests/run.sh

# The allocator's own suites again, built with the sanitizers.
asan: deps-test
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=address,undefined OPT=-O1 tests
	@BUILD=build/asan TESTS='$(SANITIZER_SUITES)' tests/run.sh
tsan: deps-test
	@$(MAKE) --no-print-directory BUILD=build/tsan SAN=thread OPT=-O1 tests
	@BUILD=build/tsan TESTS='$(SANITIZER_SUITES)' tests/run.sh

# cppcheck over the C sources (scripts/lint.sh); no build needed.
lint: deps-lint
	@scripts/lint.sh

# Like CPython's --with-pydebug: its own folder, the debug hooks on by default.
debug:
	@$(MAKE) --no-print-directory BUILD=build/debug POOL_DEBUG=1 OPT=-Og all

clean:
	rm -rf build

# Dependency files written by -MMD.
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
