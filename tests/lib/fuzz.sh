# A libFuzzer target run for the fuzz suites (source after tests/lib/tap.sh):
#   run_fuzz_target NAME BINARY SCRATCH SEED-DIR...
# replays the seed directories (-runs=0), then fuzzes for FUZZ_SECONDS
# (default 20) with new inputs going to SCRATCH/work-NAME, never to the
# seeds; two TAP lines, and on a finding the report and the input in base64.
run_fuzz_target() {
  local name=$1 bin=$2 tmp=$3 secs=${FUZZ_SECONDS:-20}; shift 3
  mkdir -p "$tmp/work-$name" "$tmp/artifacts-$name"
  "$bin" -runs=0 "$@" >"$tmp/$name.replay" 2>&1
  ok $? "$name: the seed corpus replays cleanly" || tail -20 "$tmp/$name.replay" | sed 's/^/#   /'
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$tmp/artifacts-$name/" "$tmp/work-$name" "$@" >"$tmp/$name.log" 2>&1
  local status=$? runs a
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$name.log")
  ok $status "$name: ${secs}s without a finding (${runs:-?} runs)"
  if [[ $status -ne 0 ]]; then
    grep -A15 -E '^==[0-9]+==ERROR|deadly signal|SUMMARY' "$tmp/$name.log" | head -30 | sed 's/^/#   /'
    for a in "$tmp/artifacts-$name"/*; do [[ -f $a ]] && diag "input (base64): $(base64 -w0 "$a")"; done
  fi
}
