#!/usr/bin/env bash
# dash-rules: promtool on the shipped Prometheus config and alert rules, the
# rules' unit tests (tests/dashboards/rules_test.yml), and lint_config.py.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh

if ! command -v promtool >/dev/null; then
  ok 1 "promtool is installed (Debian package prometheus: scripts/deps.sh test)"
  done_testing; exit
fi
check "promtool check config dashboards/prometheus.yml" promtool check config dashboards/prometheus.yml
for f in dashboards/*rules*.yml; do
  check "promtool check rules $f" promtool check rules "$f"
done
check "promtool test rules: every alert fires when it should and not otherwise" \
  promtool test rules tests/dashboards/rules_test.yml

# promtool test rules passes on a rules file it cannot fire at all; make sure
# every alert appears in the unit tests.
for a in $(sed -n 's/^ *- alert: *//p' dashboards/*rules*.yml); do
  grep -q "alertname: $a\$" tests/dashboards/rules_test.yml
  ok $? "alert $a has a unit test"
done

out=$(python3 tests/dashboards/lint_config.py 2>&1); status=$?
ok $status "lint_config.py runs (needs python3-yaml)"
[[ $status -ne 0 ]] && printf '%s\n' "$out" | tail -5 | sed 's/^/#   /'
while IFS=$'\t' read -r verdict what details; do
  [[ "$verdict" == PASS || "$verdict" == FAIL ]] || continue
  [[ "$verdict" == PASS ]]; ok $? "$what"
  [[ "$verdict" == FAIL ]] && diag "  $details"
done <<<"$out"
done_testing
