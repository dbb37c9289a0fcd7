# Helpers for the observe suites (source after tests/lib/tap.sh):
#   $SHIM, $POOLTRACE, $OBS (the traced test programs), $TMP (private,
#   removed at exit together with every process in TEST_PIDS; source
#   tests/daemon/lib.sh first when poold is needed, its cleanup runs too)
#   field FILE LABEL      the text after "LABEL: " in a pooltrace report
#   same_counts A B       the lines summary and replay share are equal
#   require_shim WHAT     skip the whole suite unless the shim can be preloaded
#   $MK KIND FILE         a hand-made trace (mktrace.py)
BUILD=${BUILD:-build}
SHIM=$(realpath "$BUILD/libpoolmalloc.so" 2>/dev/null || echo "$BUILD/libpoolmalloc.so")
POOLTRACE=$BUILD/pooltrace
OBS=$BUILD/tests/observe
TMP=$(mktemp -d /tmp/poold-observe.XXXXXX)
declare -a TEST_PIDS=("${TEST_PIDS[@]}")
observe_cleanup() {
  local p
  for p in "${TEST_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  declare -F cleanup >/dev/null && cleanup   # tests/daemon/lib.sh's, when sourced first
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap observe_cleanup EXIT
unset POOLMALLOC POOLMALLOCSTATS POOLMALLOCTRACE POOLMALLOC_EXPORT POOLMALLOC_PURGE_DELAY

field() { sed -n "s/^$2: //p" "$1" | head -1; }

# The lines both reports print from the trace model: they must be equal.
shared_lines() { grep -E '^(operations|failed allocations|peak live bytes|live at the end|anomalies): ' "$1"; }
same_counts() { diff <(shared_lines "$1") <(shared_lines "$2") >/dev/null; }

MK="python3 tests/observe/mktrace.py"

# The shim must be preloadable (not a sanitizer build; see tests/shim/lib.sh).
shim_usable() {
  [[ -f $SHIM ]] && ! ldd "$SHIM" 2>/dev/null | grep -Eq 'lib(asan|tsan|ubsan)'
}
# require_shim WHAT: ends the suite with one skip when the shim cannot be used.
require_shim() {
  shim_usable && return 0
  skip "$1" "$SHIM is missing or built with a sanitizer (covered by the plain build)"
  done_testing
  exit 0
}

