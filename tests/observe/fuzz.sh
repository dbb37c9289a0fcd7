#!/usr/bin/env bash
# observe-fuzz: libFuzzer on the readers of what the shim writes.
#   fuzz_trace    (tools/fuzz_trace.c)    trace reader + trace model, replaying
#                                         into real heap blocks under ASan/LSan
#   fuzz_segment  (daemon/fuzz_segment.c) segment reader + the process collector
#                                         + /metrics (both formats) and /stats
# Each replays its seed corpus (tests/observe/fuzz-corpus: hand-made traces,
# real traces, a real segment), then runs FUZZ_SECONDS (default 20) from the
# seeds plus fresh ones recorded here from real programs.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/observe/lib.sh
SECS=${FUZZ_SECONDS:-20}

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
  bin=$BUILD/fuzz/fuzz_$t seeds=tests/observe/fuzz-corpus/$t
  mkdir -p "$TMP/work-$t" "$TMP/artifacts-$t"
  "$bin" -runs=0 "$seeds" "$TMP/$t" >"$TMP/$t.replay" 2>&1
  ok $? "fuzz_$t: the seeds replay cleanly" || tail -20 "$TMP/$t.replay" | sed 's/^/#   /'
  "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$TMP/artifacts-$t/" "$TMP/work-$t" "$seeds" "$TMP/$t" >"$TMP/$t.log" 2>&1
  status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$TMP/$t.log")
  ok $status "fuzz_$t: ${SECS}s without a finding (${runs:-?} runs)"
  if [[ $status -ne 0 ]]; then
    grep -A15 -E '^==[0-9]+==ERROR|deadly signal|SUMMARY' "$TMP/$t.log" | head -30 | sed 's/^/#   /'
    for a in "$TMP/artifacts-$t"/*; do [[ -f $a ]] && diag "input (base64): $(base64 -w0 "$a")"; done
  fi
done
done_testing
