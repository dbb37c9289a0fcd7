#!/usr/bin/env bash
# daemon-fuzz: the libFuzzer targets (daemon/fuzz_*.c: config file and
# flags, HTTP request handling and negotiation, the web config YAML, the
# exposition encoder's escaping), each run for FUZZ_SECONDS (default 20)
# from the seed corpus in tests/daemon/fuzz-corpus, after replaying it.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
BUILD=${BUILD:-build}
SECS=${FUZZ_SECONDS:-20}
tmp=$(mktemp -d /tmp/poold-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if ! command -v clang >/dev/null; then
  skip "fuzz targets" "clang is not installed (scripts/deps.sh fuzz)"; done_testing; exit 0
fi
targets=(config http webconfig expo)
bins=("${targets[@]/#/$BUILD/fuzz/fuzz_}")
make --no-print-directory "${bins[@]}" >"$tmp/make.log" 2>&1
ok $? "make builds the fuzz targets" || { tail -20 "$tmp/make.log" | sed 's/^/#   /'; done_testing; exit 1; }
for t in "${targets[@]}"; do
  bin=$BUILD/fuzz/fuzz_$t seeds=tests/daemon/fuzz-corpus/$t
  mkdir -p "$tmp/$t" "$tmp/artifacts-$t"
  "$bin" -runs=0 "$seeds" >"$tmp/$t.replay" 2>&1
  ok $? "fuzz_$t: the seed corpus replays cleanly" || tail -20 "$tmp/$t.replay" | sed 's/^/#   /'
  # New inputs go to the scratch corpus (first directory), never to the seeds.
  "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$tmp/artifacts-$t/" "$tmp/$t" "$seeds" >"$tmp/$t.log" 2>&1
  status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$t.log")
  ok $status "fuzz_$t: ${SECS}s without a finding (${runs:-?} runs)"
  if [[ $status -ne 0 ]]; then
    grep -A15 -E '^==[0-9]+==ERROR|deadly signal|SUMMARY' "$tmp/$t.log" | head -30 | sed 's/^/#   /'
    for a in "$tmp/artifacts-$t"/*; do [[ -f $a ]] && diag "input (base64): $(base64 -w0 "$a")"; done
  fi
done
done_testing
