#!/usr/bin/env bash
# observe-fuzz: libFuzzer on the readers of what the shim writes.
#   fuzz_trace    (tools/fuzz_trace.c)    trace reader + trace model, replaying
#                                         into real heap blocks under ASan/LSan
#   fuzz_segment  (tests/fuzz/fuzz_segment.c) segment reader + the process collector
#                                         + /metrics (both formats) and /stats
# Each replays its seed corpus (tests/observe/fuzz-corpus: hand-made traces,
# real traces, a real segment), then runs FUZZ_SECONDS (default 20) from the
# seeds plus fresh ones recorded here from real programs.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/observe/lib.sh
source tests/lib/fuzz.sh

if ! command -v clang >/dev/null; then
  skip "fuzz targets" "clang is not installed (scripts/deps.sh fuzz)"; done_testing; exit 0
fi
make --no-print-directory "$BUILD/fuzz/fuzz_trace" "$BUILD/fuzz/fuzz_segment" >"$TMP/make.log" 2>&1
ok $? "make builds fuzz_trace and fuzz_segment" || { tail -20 "$TMP/make.log" | sed 's/^/#   /'; done_testing; exit 1; }

# fresh seeds from real programs (the plain build's shim)
mkdir -p "$TMP/trace" "$TMP/segment" "$TMP/shm"
if shim_usable; then
  POOLMALLOCTRACE=$TMP/trace/threads.%p LD_PRELOAD=$SHIM "$OBS/trace_threads" 2 60 1 >/dev/null
  POOLMALLOCTRACE=$TMP/trace/fork.%p LD_PRELOAD=$SHIM "$OBS/trace_fork" >/dev/null
  if [[ -x /usr/bin/python3 ]]; then
    PYTHONMALLOC=malloc POOLMALLOC_EXPORT=$TMP/shm POOLMALLOC_EXPORT_INTERVAL=50 LD_PRELOAD=$SHIM \
      /usr/bin/python3 -c 'import time; x = [str(i) * 9 for i in range(100000)]; time.sleep(30)' &
    p=$!; TEST_PIDS+=("$p")
    for i in $(seq 1 100); do [[ -e $TMP/shm/poolmalloc.$p ]] && break; sleep 0.05; done
    cp "$TMP/shm/poolmalloc.$p" "$TMP/segment/python3" 2>/dev/null
    kill $p; wait $p 2>/dev/null
  fi
  # big ones are slow to mutate; keep the small
  find "$TMP/trace" -size +64k -delete
fi
diag "fresh seeds: $(ls "$TMP/trace" | wc -l) traces, $(ls "$TMP/segment" | wc -l) segments"

for t in trace segment; do
  run_fuzz_target "fuzz_$t" "$BUILD/fuzz/fuzz_$t" "$TMP" tests/observe/fuzz-corpus/$t "$TMP/$t"
done
done_testing
