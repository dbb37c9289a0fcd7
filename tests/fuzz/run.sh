#!/usr/bin/env bash
# The fuzz runner: tests/fuzz/run.sh TARGET... builds build/fuzz/fuzz_TARGET
# (tests/fuzz/fuzz.mk), then for each target replays its seeds in
# tests/fuzz/corpus/TARGET/ (-runs=0) and fuzzes for FUZZ_SECONDS (default
# 20) from them, new inputs going to a scratch directory, never to the seeds.
# The trace and segment targets also start from fresh seeds recorded here
# from real programs running on the preload shim. A finding fails the suite
# and leaves its input in $BUILD/test-logs/fuzz-TARGET-* (and in base64 in
# the output). Without clang every target is one skip.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
BUILD=${BUILD:-build}
[[ $# -gt 0 ]] || { echo "usage: $0 TARGET..." >&2; exit 2; }
targets=("$@")
tmp=$(mktemp -d /tmp/poold-fuzz.XXXXXX)
declare -a seed_pids=()
trap 'for p in "${seed_pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
unset POOLMALLOC POOLMALLOCSTATS POOLMALLOCTRACE POOLMALLOC_EXPORT POOLMALLOC_PURGE_DELAY

if ! command -v clang >/dev/null; then
  skip "fuzz targets ${targets[*]}" "clang is not installed (scripts/deps.sh fuzz)"; done_testing; exit 0
fi
bins=("${targets[@]/#/$BUILD/fuzz/fuzz_}")
make --no-print-directory "${bins[@]}" >"$tmp/make.log" 2>&1
ok $? "make builds ${bins[*]##*/}" || { tail -20 "$tmp/make.log" | sed 's/^/#   /'; done_testing; exit 1; }

# What a target needs beyond the defaults: libFuzzer flags and environment.
target_flags() {
  case $1 in
    alloc) echo "-max_len=2048 -seed=$RANDOM" ;;   # a program of operations; longer adds little
  esac
}
target_env() {
  case $1 in
    alloc) echo "ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1}" ;;  # it asks for huge sizes on purpose
    *) echo "ASAN_OPTIONS=${ASAN_OPTIONS:-}" ;;
  esac
}

# Fresh seeds for the readers of what the shim writes: traces of two test
# programs and the segment of a Python process (the plain build's shim).
fresh_seeds() {
  local SHIM OBS p i
  SHIM=$(realpath "$BUILD/libpoolmalloc.so" 2>/dev/null) OBS=$BUILD/tests/observe
  mkdir -p "$tmp/fresh/trace" "$tmp/fresh/segment" "$tmp/shm"
  if [[ -f $SHIM ]] && ! ldd "$SHIM" 2>/dev/null | grep -Eq 'lib(asan|tsan|ubsan)'; then
    POOLMALLOCTRACE=$tmp/fresh/trace/threads.%p LD_PRELOAD=$SHIM "$OBS/trace_threads" 2 60 1 >/dev/null
    POOLMALLOCTRACE=$tmp/fresh/trace/fork.%p LD_PRELOAD=$SHIM "$OBS/trace_fork" >/dev/null
    if [[ -x /usr/bin/python3 ]]; then
      PYTHONMALLOC=malloc POOLMALLOC_EXPORT=$tmp/shm POOLMALLOC_EXPORT_INTERVAL=50 LD_PRELOAD=$SHIM \
        /usr/bin/python3 -c 'import time; x = [str(i) * 9 for i in range(100000)]; time.sleep(30)' &
      p=$!; seed_pids+=("$p")
      for i in $(seq 1 100); do [[ -e $tmp/shm/poolmalloc.$p ]] && break; sleep 0.05; done
      cp "$tmp/shm/poolmalloc.$p" "$tmp/fresh/segment/python3" 2>/dev/null
      kill $p; wait $p 2>/dev/null
    fi
    find "$tmp/fresh/trace" -size +64k -delete   # big ones are slow to mutate; keep the small
  fi
  diag "fresh seeds: $(ls "$tmp/fresh/trace" | wc -l) traces, $(ls "$tmp/fresh/segment" | wc -l) segments"
}
[[ " ${targets[*]} " == *" trace "* || " ${targets[*]} " == *" segment "* ]] && fresh_seeds

# run_target NAME: two TAP lines, and on a finding the report and the input.
run_target() {
  local name=$1 bin=$BUILD/fuzz/fuzz_$1 secs=${FUZZ_SECONDS:-20} status runs a
  local seeds=(tests/fuzz/corpus/"$name")
  [[ -d $tmp/fresh/$name ]] && seeds+=("$tmp/fresh/$name")
  mkdir -p "$tmp/work-$name" "$tmp/artifacts-$name" "$BUILD/test-logs"
  env $(target_env "$name") "$bin" -runs=0 "${seeds[@]}" >"$tmp/$name.replay" 2>&1
  ok $? "fuzz_$name: the seed corpus replays cleanly" || tail -20 "$tmp/$name.replay" | sed 's/^/#   /'
  env $(target_env "$name") "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 $(target_flags "$name") -artifact_prefix="$tmp/artifacts-$name/" \
    "$tmp/work-$name" "${seeds[@]}" >"$tmp/$name.log" 2>&1
  status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$name.log")
  ok $status "fuzz_$name: ${secs}s without a finding (${runs:-?} runs)"
  if [[ $status -ne 0 ]]; then
    grep -A15 -E '^==[0-9]+==ERROR|deadly signal|SUMMARY' "$tmp/$name.log" | head -30 | sed 's/^/#   /'
    for a in "$tmp/artifacts-$name"/*; do
      [[ -f $a ]] || continue
      cp "$a" "$BUILD/test-logs/fuzz-$name-${a##*/}"
      diag "input (base64): $(base64 -w0 "$a")"
    done
  fi
}
for t in "${targets[@]}"; do run_target "$t"; done
done_testing
