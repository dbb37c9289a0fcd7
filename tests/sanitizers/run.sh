#!/usr/bin/env bash
# The allocator's suites again, built with AddressSanitizer + UBSan and with
# ThreadSanitizer (make asan, make tsan: trees build/asan and build/tsan).
# Each sanitizer run is one test here; its own failures are shown.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh

for san in asan tsan; do
  out=$(make --no-print-directory "$san" 2>&1)
  status=$?
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$out" | tail -1)
  reports=$(grep -cE 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|WARNING: ThreadSanitizer|runtime error:' \
              build/"$san"/test-logs/*.log 2>/dev/null | awk -F: '{s += $2} END {print s + 0}')
  [[ $status -eq 0 && -n "$summary" && "$summary" == *" 0 failed" && $reports -eq 0 ]]
  ok $? "make $san: ${summary:-no summary} and $reports sanitizer reports"
  [[ $status -ne 0 || $reports -ne 0 ]] && printf '%s\n' "$out" | grep -E 'failed|not ok' | head -20 | sed 's/^/#   /'
done
done_testing
