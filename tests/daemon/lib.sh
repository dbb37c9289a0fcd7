# Helpers for the daemon's test suites: source after tests/lib/tap.sh.
#   start_poold [flags...]   starts $POOLD on a free loopback port (port 0,
#                            read back from its log) and waits until it is
#                            ready; sets POOLD_PID, POOLD_URL, POOLD_LOG
#   stop_poold               SIGTERM, wait; returns the exit status
#   workload_rate SECS       the workload's operations per second over SECS
#                            (allocs + frees, from two scrapes)
#   om_to_text               OpenMetrics on stdin -> text 0.0.4 headers, for promtool
#   check_expositions [WHAT] /metrics in both formats through promtool and
#                            Prometheus's OpenMetrics parser (3 TAP lines;
#                            leaves them in $TEST_TMP/text and $TEST_TMP/om)
# Everything a suite starts is stopped by the EXIT trap.
: "${BUILD:=build}"
: "${POOLD:=$BUILD/poold}"
TEST_TMP=$(mktemp -d /tmp/poold-test.XXXXXX)
POOLD_PID=
declare -a TEST_PIDS=()

cleanup() {
  local p
  for p in "${TEST_PIDS[@]}" $POOLD_PID $(jobs -p); do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TEST_TMP"
}
trap cleanup EXIT

# An empty config file, so a config in /etc/poold never leaks into a test.
printf '# test config\n' > "$TEST_TMP/empty.conf"

# Waits (up to $2 seconds, default 10) for the command in $1 to succeed.
wait_for() {
  local cmd=$1 limit=${2:-10} i
  for ((i = 0; i < limit * 20; i++)); do
    eval "$cmd" && return 0
    sleep 0.05
  done
  return 1
}

start_poold() {
  [[ -n $POOLD_PID ]] && TEST_PIDS+=("$POOLD_PID")
  POOLD_LOG=$TEST_TMP/poold.$RANDOM.log
  : > "$POOLD_LOG"
  "$POOLD" --config="$TEST_TMP/empty.conf" --web.listen-address=127.0.0.1:0 "$@" \
    >"$POOLD_LOG.out" 2>"$POOLD_LOG" &
  POOLD_PID=$!
  if ! wait_for "grep -q 'msg=ready' '$POOLD_LOG' || ! kill -0 $POOLD_PID 2>/dev/null" 15 ||
     ! kill -0 "$POOLD_PID" 2>/dev/null; then
    diag "poold did not start:"; sed 's/^/#   /' "$POOLD_LOG" | head -20
    return 1
  fi
  local addr
  addr=$(sed -n 's/.*msg=listening address=\([^ ]*\).*/\1/p' "$POOLD_LOG" | head -1)
  POOLD_URL=http://$addr
  return 0
}

stop_poold() {
  local status
  kill -TERM "$POOLD_PID" 2>/dev/null
  wait "$POOLD_PID"; status=$?
  POOLD_PID=
  return $status
}

# One sample's value from a text exposition on stdin: metric "name{labels}".
metric() {
  awk -v m="$1" '$1 == m { print $2; found = 1; exit } END { if (!found) exit 1 }'
}

scrape() { curl -sf --max-time 10 "$POOLD_URL/metrics" "$@"; }

om_to_text() {
  # Counter families are named without _total in OpenMetrics; promtool's
  # linter reads the text format, where they carry it. UNIT and EOF lines
  # are comments there; unknown is untyped.
  awk '
    /^# TYPE / && $4 == "counter" { counter[$3] = 1; print "# TYPE " $3 "_total counter"; next }
    /^# TYPE / && $4 == "unknown" { print "# TYPE " $3 " untyped"; next }
    /^# HELP / { n = $3; if (n in counter) { sub("^# HELP " n " ", "# HELP " n "_total ") } }
    /^# UNIT / || /^# EOF$/ { next }
    { print }'
}

check_expositions() {
  local what=${1:+ $1} out
  scrape >"$TEST_TMP/text"
  out=$(promtool check metrics <"$TEST_TMP/text" 2>&1)
  ok $([[ $? -eq 0 && -z $out ]]; echo $?) "promtool check metrics prints nothing for text 0.0.4$what"
  [[ -n $out ]] && diag "$out"
  scrape -H 'Accept: application/openmetrics-text;version=1.0.0' >"$TEST_TMP/om"
  out=$(om_to_text <"$TEST_TMP/om" | promtool check metrics 2>&1)
  ok $([[ $? -eq 0 && -z $out ]]; echo $?) "promtool check metrics prints nothing for OpenMetrics (headers in text form)$what"
  [[ -n $out ]] && diag "$out"
  # Prometheus's own OpenMetrics parser (the backfill path needs timestamps).
  awk '/^#/ { print; next } { print $0 " 1700000000" }' "$TEST_TMP/om" >"$TEST_TMP/om.ts"
  rm -rf "$TEST_TMP/blocks"
  out=$(promtool tsdb create-blocks-from openmetrics "$TEST_TMP/om.ts" "$TEST_TMP/blocks" 2>&1)
  ok $? "Prometheus's OpenMetrics parser reads the OpenMetrics exposition$what" || diag "$out"
}

workload_rate() {
  local a1 f1 a2 f2 t1 t2 s
  s=$(scrape); t1=$(date +%s%N)
  a1=$(metric 'poold_workload_operations_total{op="alloc"}' <<<"$s"); f1=$(metric 'poold_workload_operations_total{op="free"}' <<<"$s")
  sleep "$1"
  s=$(scrape); t2=$(date +%s%N)
  a2=$(metric 'poold_workload_operations_total{op="alloc"}' <<<"$s"); f2=$(metric 'poold_workload_operations_total{op="free"}' <<<"$s")
  awk -v o=$(( (a2 - a1) + (f2 - f1) )) -v t=$(( t2 - t1 )) 'BEGIN { printf "%.0f", o / (t / 1e9) }'
}
