#!/usr/bin/env bash
# daemon-config: flags, the config file, reload on SIGHUP, clean exits.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh
C=$TEST_TMP/empty.conf

# run_bad WHAT EXPECTED-TEXT ARGS...: poold must exit non-zero at once, saying EXPECTED-TEXT
run_bad() {
  local what=$1 want=$2; shift 2
  local out status
  out=$(timeout 10 "$POOLD" "$@" 2>&1 </dev/null); status=$?
  ok $([[ $status -ne 0 && $status -ne 124 && $out == *"$want"* ]]; echo $?) "$what: exits $status, says '$want'"
  [[ $out != *"$want"* ]] && diag "output: $out"
}

# ---- --help, --version ----------------------------------------------------------------
out=$("$POOLD" --help); status=$?
ok $([[ $status -eq 0 && $out == *--web.listen-address* && $out == *--workload.max-bytes* && $out == *--web.config.file* ]]; echo $?) \
  "--help exits 0 and lists the flags"
for f in web.telemetry-path web.systemd-socket web.max-requests web.read-header-timeout web.idle-timeout \
         web.write-timeout web.max-connections log.level log.format workload workload.threads \
         workload.rate config version; do
  ok $([[ $out == *"--$f"* ]]; echo $?) "--help lists --$f"
done
ver=$(sed -n 's/^#define POOLALLOC_VERSION "\(.*\)"/\1/p' allocator/include/poolalloc.h)
out=$("$POOLD" --version); status=$?
ok $([[ $status -eq 0 && $out == *"$ver"* ]]; echo $?) "--version exits 0 with the version ($out)"
out=$("$POOLD" -h | head -1)
ok $([[ $out == usage:* ]]; echo $?) "-h is --help"

# ---- bad flags and values: non-zero exit naming the flag ----------------------------
run_bad "unknown flag" "unknown flag --no-such-flag" --config="$C" --no-such-flag
run_bad "positional argument" 'unexpected argument "stray"' --config="$C" stray
run_bad "threads 0" "--workload.threads: invalid value \"0\"" --config="$C" --workload.threads=0
run_bad "threads abc" "--workload.threads: invalid value \"abc\"" --config="$C" --workload.threads abc
run_bad "unknown workload" "--workload: invalid value \"nope\": expected one of: python, steady, fragmenter, burst, replay, idle" \
  --config="$C" --workload=nope
run_bad "bad size" "--workload.max-bytes: invalid value \"12XB\"" --config="$C" --workload.max-bytes=12XB
run_bad "size below the minimum" "--workload.max-bytes" --config="$C" --workload.max-bytes=100
run_bad "bad log level" "--log.level: invalid value \"loud\"" --config="$C" --log.level=loud
run_bad "bad log format" "--log.format: invalid value \"xml\"" --config="$C" --log.format=xml
run_bad "bad bool" "--web.systemd-socket: invalid value \"maybe\"" --config="$C" --web.systemd-socket=maybe
run_bad "duration without unit" "--web.connection-timeout: invalid value \"10\"" --config="$C" --web.connection-timeout=10
run_bad "header deadline below its minimum" "--web.read-header-timeout: invalid value \"50ms\": expected a duration such as 10s or 1m30s, at least 100ms" --config="$C" --web.read-header-timeout=50ms
run_bad "relative telemetry path" "--web.telemetry-path: invalid value \"metrics\"" --config="$C" --web.telemetry-path=metrics
run_bad "missing value" "--workload.rate: missing value" --config="$C" --workload.rate
run_bad "--no- on a non-boolean" "unknown flag --no-workload" --config="$C" --no-workload
run_bad "value for --version" "--version takes no value" --version=1
run_bad "bad listen address" "--web.listen-address: invalid value \"nowhere\": expected HOST:PORT" \
  --config="$C" --web.listen-address=nowhere
run_bad "listen port out of range" "--web.listen-address: invalid value \"127.0.0.1:70000\"" \
  --config="$C" --web.listen-address=127.0.0.1:70000
run_bad "missing --config file" "/nonexistent/poold.conf: No such file" --config=/nonexistent/poold.conf
run_bad "systemd socket without systemd" "no socket activation file descriptors found" --config="$C" --web.systemd-socket
run_bad "missing web config file" "/nonexistent/web.yml" --config="$C" --web.config.file=/nonexistent/web.yml

# ---- bad config files: file and line ------------------------------------------------------
bad_conf() {  # WHAT EXPECTED CONTENT
  printf '%b' "$3" > "$TEST_TMP/bad.conf"
  run_bad "config: $1" "$TEST_TMP/bad.conf:$2" --config="$TEST_TMP/bad.conf"
}
bad_conf "unknown key" '3: unknown key "colour"' '# comment\n\ncolour = blue\n'
bad_conf "bad value" '2: workload.threads: invalid value "many"' 'workload = steady\nworkload.threads = many\n'
bad_conf "no equals sign" '1: expected key = value' 'workload steady\n'
bad_conf "a command-line-only key" '1: unknown key "config"' 'config = /etc/other.conf\n'
bad_conf "a flag with dashes" '1: unknown key "--workload"' '--workload = steady\n'
bad_conf "NUL byte" '2: NUL byte' 'workload = steady\nlog.level = in\0fo\n'

# ---- a good config file, and flags overriding it ------------------------------------------
printf '# poold test config\r\n\r\nworkload = "steady"\r\nworkload.threads = 3\nlog.level = debug\n  workload.rate=1000  \n' > "$TEST_TMP/good.conf"
start_poold --config="$TEST_TMP/good.conf"
ok $? "poold starts with a config file (quotes, CRLF, blanks, comments)"
m=$(scrape)
ok $(grep -q '^poold_workload_info{workload="steady"} 1' <<<"$m"; echo $?) "the file sets the workload"
ok $([[ $(metric poold_workload_threads <<<"$m") == 3 ]]; echo $?) "the file sets the threads"
ok $([[ $(metric poold_workload_rate <<<"$m") == 1000 ]]; echo $?) "the file sets the rate"
ok $(grep -q 'level=debug' "$POOLD_LOG"; echo $?) "the file sets the log level (debug lines appear)"
stop_poold
start_poold --config="$TEST_TMP/good.conf" --workload=burst --workload.threads=1
m=$(scrape)
ok $(grep -q '^poold_workload_info{workload="burst"} 1' <<<"$m" && [[ $(metric poold_workload_threads <<<"$m") == 1 ]]; echo $?) \
  "flags override the file"
ok $([[ $(metric poold_workload_rate <<<"$m") == 1000 ]]; echo $?) "and the rest of the file still applies"
stop_poold

# ---- repeatable listen address -------------------------------------------------------------
start_poold --web.listen-address=127.0.0.1:0 --workload=idle
n=$(grep -c 'msg=listening' "$POOLD_LOG")
ok $([[ $n -eq 2 ]]; echo $?) "--web.listen-address repeats ($n listeners)"
second=$(sed -n 's/.*msg=listening address=\([^ ]*\).*/\1/p' "$POOLD_LOG" | sed -n 2p)
ok $([[ $(curl -s -o /dev/null -w '%{http_code}' "http://$second/metrics") == 200 ]]; echo $?) "the second address serves too ($second)"
busy=${POOLD_URL#http://}
run_bad "address in use" "Address already in use" --config="$C" --web.listen-address="$busy"
stop_poold

# ---- reload ---------------------------------------------------------------------------------
printf 'workload = python\nworkload.rate = 5000\n' > "$TEST_TMP/reload.conf"
start_poold --config="$TEST_TMP/reload.conf"
ok $(scrape | grep -q '^poold_workload_info{workload="python"} 1'; echo $?) "before reload: python"
starts=$(scrape | metric poold_workload_starts_total)
allocs=$(scrape | metric 'poold_workload_operations_total{op="alloc"}')
printf 'workload = steady\nworkload.rate = 5000\nlog.format = json\n' > "$TEST_TMP/reload.conf"
kill -HUP "$POOLD_PID"
wait_for "scrape 2>/dev/null | grep -q '^poold_workload_info{workload=\"steady\"} 1'" 10
ok $? "SIGHUP applies a new workload"
ok $([[ $(scrape | metric poold_workload_starts_total) -eq $((starts + 1)) ]]; echo $?) "the workload was restarted once"
ok $([[ $(scrape | metric 'poold_workload_operations_total{op="alloc"}') -ge $allocs ]]; echo $?) "counters did not go back"
ok $([[ $(scrape | metric poold_config_last_reload_successful) == 1 ]]; echo $?) "poold_config_last_reload_successful 1"
wait_for "grep -q '\"msg\":\"configuration reloaded\"' '$POOLD_LOG'" 5
ok $? "the new log format applies (JSON line after the reload)"
tail -n1 "$POOLD_LOG" | python3 -c 'import json,sys; json.loads(sys.stdin.read())' 2>/dev/null
ok $? "JSON log lines parse as JSON"

printf 'workload = burst\nworkload.threads = lots\n' > "$TEST_TMP/reload.conf"
kill -HUP "$POOLD_PID"
wait_for "grep -q 'reload failed' '$POOLD_LOG'" 10
ok $? "a bad config on SIGHUP is reported"
ok $(grep 'reload failed' "$POOLD_LOG" | grep -q "reload.conf:2: workload.threads"; echo $?) "the report names file, line and key"
ok $(scrape | grep -q '^poold_workload_info{workload="steady"} 1'; echo $?) "the running configuration stays"
ok $([[ $(scrape | metric poold_config_last_reload_successful) == 0 ]]; echo $?) "poold_config_last_reload_successful 0"
ok $([[ $(curl -s "$POOLD_URL/healthz") == ok ]]; echo $?) "poold still serves and is healthy"

printf 'workload = steady\nworkload.rate = 5000\nweb.telemetry-path = /elsewhere\n' > "$TEST_TMP/reload.conf"
kill -HUP "$POOLD_PID"
wait_for "grep -q 'takes effect at the next start' '$POOLD_LOG'" 10
ok $? "a setting that needs a restart is reported as such on reload"
ok $(scrape >/dev/null; echo $?) "and the old telemetry path keeps working"

# ---- clean exits -------------------------------------------------------------------------------
t0=$(date +%s%N)
stop_poold; status=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok $([[ $status -eq 0 ]]; echo $?) "SIGTERM: exit status 0 (after ${ms} ms)"
ok $(grep -q 'msg=stopped' "$POOLD_LOG"; echo $?) "SIGTERM: logs stopped"
start_poold --workload=fragmenter --workload.rate=0
kill -INT "$POOLD_PID"; wait "$POOLD_PID"; status=$?; POOLD_PID=
ok $([[ $status -eq 0 ]]; echo $?) "SIGINT under an unthrottled workload: exit status 0"
done_testing
