#!/usr/bin/env bash
# Runs the allocator's libFuzzer target for a bounded time (FUZZ_SECONDS,
# default 20) from a fresh corpus, after replaying the inputs kept in
# tests/fuzz/corpus/ (regressions). Any crash, abort or sanitizer report
# fails the suite; the failing input is left in $BUILD/test-logs/.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
BUILD=${BUILD:-build}
BIN=$BUILD/fuzz/alloc_fuzz
SECONDS_TO_RUN=${FUZZ_SECONDS:-20}
if [[ ! -x $BIN ]]; then
  skip "replay the kept inputs" "$BIN is not built (clang missing)"
  skip "fuzz for ${SECONDS_TO_RUN}s" "$BIN is not built (clang missing)"
  done_testing; exit
fi
work=$(mktemp -d /tmp/poold-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$BUILD/test-logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1}
unset POOLMALLOC POOLMALLOC_PURGE_DELAY

kept=(tests/fuzz/corpus/*)
if [[ -e ${kept[0]} ]]; then
  "$BIN" -runs=0 "${kept[@]}" >"$work/replay.log" 2>&1
  ok $? "replay ${#kept[@]} kept inputs from tests/fuzz/corpus"
  [[ $? -eq 0 ]] || tail -20 "$work/replay.log" | sed 's/^/#   /'
else
  skip "replay the kept inputs" "tests/fuzz/corpus is empty"
fi

mkdir "$work/corpus"
cp tests/fuzz/corpus/* "$work/corpus/" 2>/dev/null
"$BIN" -max_total_time="$SECONDS_TO_RUN" -seed=$RANDOM -max_len=2048 -timeout=10 \
  -artifact_prefix="$BUILD/test-logs/alloc-fuzz-" "$work/corpus" >"$work/fuzz.log" 2>&1
status=$?
runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/fuzz.log")
[[ $status -eq 0 && ${runs:-0} -gt 0 ]]
ok $? "fuzzed for ${SECONDS_TO_RUN}s: ${runs:-no} runs, exit $status"
if [[ $status -ne 0 ]]; then
  grep -E 'ERROR|alloc_fuzz:|SUMMARY|Test unit written' "$work/fuzz.log" | head -10 | sed 's/^/#   /'
fi
done_testing
