#!/usr/bin/env bash
# make lint: cppcheck over the C sources (allocator, daemon, tools, tests),
# the warning and portability checks, beyond what the compiler's -Wall
# -Wextra already catches. Exit 1 on any finding. Deliberate constructs that
# cppcheck misreads are listed, with the reason, in scripts/cppcheck.supp.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cppcheck >/dev/null || { echo "lint: cppcheck is not installed (make deps-lint)" >&2; exit 1; }
includes=(-Iallocator/include -Iallocator/src -Iallocator/trace -Iallocator/export -Idaemon)
exec nice cppcheck --quiet --std=c11 --enable=warning,portability --inline-suppr \
  --error-exitcode=1 --suppress=missingIncludeSystem --suppressions-list=scripts/cppcheck.supp \
  -D__GNUC__ "${includes[@]}" allocator daemon tools tests/unit tests/fuzz "$@"
