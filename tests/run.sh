#!/usr/bin/env bash
# The test runner. Runs each suite of tests/suites.txt (name, timeout in
# seconds, command), reads the TAP lines it prints ("ok N - ...",
# "not ok N - ...", "... # SKIP reason"), keeps each suite's full output in
# build/test-logs/NAME.log, shows failures in full, and ends with the line
#   N passed, N failed
# TESTS='regex' runs only the suites whose name matches.
set -uo pipefail
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
logs=$BUILD/test-logs
mkdir -p "$logs"
filter=${TESTS:-.}
total_pass=0 total_fail=0 total_skip=0
failed_suites=()

while read -r name timeout cmd; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  [[ "$name" =~ $filter ]] || continue
  log="$logs/$name.log"
  start=$(date +%s.%N)
  timeout --kill-after=10 "$timeout" bash -c "$cmd" >"$log" 2>&1
  status=$?
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  pass=$(grep -cE '^ok [0-9]+' "$log" | tr -d ' ')
  skip=$(grep -cE '^ok [0-9]+.*# *SKIP' "$log" | tr -d ' ')
  fail=$(grep -cE '^not ok [0-9]+' "$log" | tr -d ' ')
  pass=$((pass - skip))
  note=""
  if [[ $status -eq 124 || $status -eq 137 ]]; then
    fail=$((fail + 1)); note=" (timed out after ${timeout}s)"
  elif [[ $status -ne 0 && $fail -eq 0 ]]; then
    fail=$((fail + 1)); note=" (exited with status $status)"
  elif [[ $((pass + skip + fail)) -eq 0 ]]; then
    fail=1; note=" (no test results)"
  fi
  printf '[%-20s] %4d passed, %d failed, %d skipped  %6ss%s\n' "$name" "$pass" "$fail" "$skip" "$secs" "$note"
  if [[ $fail -gt 0 ]]; then
    failed_suites+=("$name")
    grep -nE -A8 '^not ok' "$log" | sed 's/^/    /' | head -60
    [[ -n "$note" ]] && tail -20 "$log" | sed 's/^/    | /'
  fi
  grep -E '^ok [0-9]+.*# *SKIP' "$log" | sed 's/^/    /' | head -5
  total_pass=$((total_pass + pass)); total_fail=$((total_fail + fail)); total_skip=$((total_skip + skip))
done < tests/suites.txt

[[ ${#failed_suites[@]} -gt 0 ]] && echo "failed suites: ${failed_suites[*]} (logs in $logs/)"
[[ $total_skip -gt 0 ]] && echo "$total_skip skipped"
echo "$total_pass passed, $total_fail failed"
[[ $total_fail -eq 0 ]]
