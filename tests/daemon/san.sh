#!/usr/bin/env bash
# daemon-asan / daemon-tsan: poold built with a sanitizer (build/asan or
# build/tsan, as `make asan` / `make tsan` build them) through a smoke run:
# every endpoint, both formats, gzip, refusals, reloads that change the
# workload, a trace replay with the process collector, slow-client attacks,
# TLS with basic auth, then SIGTERM. It must exit 0 with no
# sanitizer report (ASan also checks for leaks at exit).
#   tests/daemon/san.sh address,undefined | thread
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
SAN_KIND=${1:-address,undefined}
case $SAN_KIND in thread) SBUILD=build/tsan ;; *) SBUILD=build/asan ;; esac
mlog=$(mktemp /tmp/poold-san-make.XXXXXX)
make --no-print-directory BUILD=$SBUILD SAN=$SAN_KIND OPT=-O1 $SBUILD/poold >"$mlog" 2>&1
ok $? "make builds $SBUILD/poold with SAN=$SAN_KIND" || { tail -20 "$mlog" | sed 's/^/#   /'; rm -f "$mlog"; done_testing; exit 1; }
rm -f "$mlog"
POOLD=$SBUILD/poold
source tests/daemon/lib.sh
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

REPORTS='ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:'
sanitizer_clean() { ! grep -qE "$REPORTS" "$1"; }
report() { grep -A30 -E "$REPORTS" "$1" | head -40 | sed 's/^/#   /'; }

# ---- plain HTTP, every endpoint, a reload -----------------------------------------
printf 'workload = python\nworkload.rate = 20000\n' > "$TEST_TMP/a.conf"
start_poold --config="$TEST_TMP/a.conf"
ok $? "the $SAN_KIND build starts" || { report "$POOLD_LOG"; done_testing; exit 1; }
U=$POOLD_URL
for p in / /metrics /stats "/stats/arenas?limit=64" "/stats/arenas?offset=1&limit=1" /healthz /nope \
         /app.js /app.css "/stats/map?order=fullest&limit=3" "/stats/map?offset=x" /process/1/map; do
  curl -s -o /dev/null "$U$p"
  curl -s -o /dev/null -H 'Accept-Encoding: gzip' -H 'Accept: application/openmetrics-text;version=1.0.0' "$U$p"
  curl -s -o /dev/null -I "$U$p"
done
curl -s -o /dev/null -X POST --data x=1 "$U/metrics"
curl -s -o /dev/null -X GET --data-binary @/etc/hostname "$U/metrics"
printf 'GARBAGE\r\n\r\n' | timeout 5 python3 -c 'import socket,sys; s=socket.create_connection(("'"${U#http://}"'".split(":")[0], int("'"${U##*:}"'"))); s.sendall(sys.stdin.buffer.read()); s.recv(100)'
printf 'workload = fragmenter\nworkload.rate = 0\nlog.format = json\n' > "$TEST_TMP/a.conf"
kill -HUP "$POOLD_PID"
wait_for "curl -s '$U/metrics' | grep -q 'poold_workload_info{workload=\"fragmenter\"}'" 20
ok $? "a reload switches the workload ($SAN_KIND)"
printf 'workload = nope\n' > "$TEST_TMP/a.conf"
kill -HUP "$POOLD_PID"
wait_for "grep -q 'reload failed' '$POOLD_LOG'" 20
ok $? "a bad reload is refused ($SAN_KIND)"
# Scrapes, JSON and arena maps at once, racing the unthrottled workload.
for i in $(seq 1 20); do
  curl -s -o /dev/null "$U/metrics" & c1=$!
  curl -s -o /dev/null "$U/stats" & c2=$!
  curl -s -o /dev/null "$U/stats/arenas"
  curl -s -o /dev/null "$U/stats/map"
  wait $c1 $c2
done
stop_poold; status=$?
ok $([[ $status -eq 0 ]]; echo $?) "SIGTERM: exit status 0 ($status)"
sanitizer_clean "$POOLD_LOG"; ok $? "no sanitizer report ($SAN_KIND; ASan checks leaks at exit)" || report "$POOLD_LOG"

# ---- trace replay and the process collector ------------------------------------------------
# A real trace (threads with cross-thread frees), replayed by two threads; a
# real segment made to look like this shell's, and a hostile one, read by the
# collector while scrapes run concurrently.
mkdir -p "$TEST_TMP/shm"
python3 tests/observe/mksegment.py tests/fuzz/corpus/segment/python3 "$TEST_TMP/shm/poolmalloc.$$" \
  pid=$$ start=now updated=now+600
head -c 2504 /dev/urandom >"$TEST_TMP/shm/poolmalloc.999999"
sleep 300 & V2=$!; TEST_PIDS+=("$V2")   # a version 2 segment, with its map, for the live page
python3 tests/observe/mksegment.py tests/fuzz/corpus/segment/python3-v2 "$TEST_TMP/shm/poolmalloc.$V2" \
  pid=$V2 start=now updated=now+600
start_poold --workload=replay --workload.trace=tests/fuzz/corpus/trace/threads --workload.threads=2 \
  --workload.rate=0 --workload.speed=0 --collector.processes --collector.processes.dir="$TEST_TMP/shm"
ok $? "the $SAN_KIND build replays a trace with the process collector on" || report "$POOLD_LOG"
for i in $(seq 1 15); do
  curl -s -o /dev/null "$POOLD_URL/metrics" & c1=$!
  curl -s -o /dev/null -H 'Accept: application/openmetrics-text;version=1.0.0' "$POOLD_URL/metrics" & c2=$!
  curl -s -o /dev/null "$POOLD_URL/stats"
  curl -s -o /dev/null "$POOLD_URL/process/$V2" & c3=$!
  curl -s -o /dev/null "$POOLD_URL/process/$V2/map?order=fullest"
  curl -s -o /dev/null "$POOLD_URL/process/$$/stats"
  wait $c1 $c2 $c3
done
s=$(scrape)
[[ $(metric poold_processes <<<"$s") == 2 && $(metric poold_workload_replay_loops_total <<<"$s") -gt 0 ]]
ok $? "replay loops and both processes are exported ($SAN_KIND)"
kill -HUP "$POOLD_PID"; sleep 0.5
stop_poold; status=$?
ok $([[ $status -eq 0 ]] && sanitizer_clean "$POOLD_LOG"; echo $?) "replay + collector run: exit 0, no sanitizer report" || report "$POOLD_LOG"

# ---- slow clients: deadlines, making room, stalled answers -----------------------------------
# The connection policy's threads at work: the deadline thread shutting
# connections while the polling thread closes them, newcomers evicting
# half-sent headers, stalled answers giving their slots up, the watchdog's
# probe beside them.
start_poold --workload=fragmenter --workload.rate=0 --workload.max-bytes=32MiB \
  --web.max-connections=50 --web.read-header-timeout=1s --web.max-requests=8
P=${POOLD_URL##*:}
/usr/bin/python3 tests/daemon/attack.py half-headers 127.0.0.1 "$P" 3 200 127.0.0.1,127.0.0.2 >/dev/null &
a1=$!
/usr/bin/python3 tests/daemon/attack.py no-read 127.0.0.1 "$P" 3 20 "/stats/arenas?limit=64" >/dev/null &
a2=$!
for i in $(seq 1 10); do curl -s -o /dev/null --max-time 5 "$POOLD_URL/metrics"; sleep 0.2; done
wait $a1 $a2
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$POOLD_URL/metrics")
stop_poold; status=$?
ok $([[ $c == 200 && $status -eq 0 ]] && sanitizer_clean "$POOLD_LOG"; echo $?) \
  "slow-client attacks: served ($c), exit 0, no sanitizer report ($SAN_KIND)" || report "$POOLD_LOG"

# ---- TLS and basic auth ----------------------------------------------------------------
if command -v openssl >/dev/null && command -v htpasswd >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout "$TEST_TMP/k.pem" \
    -out "$TEST_TMP/c.pem" 2>/dev/null
  printf 'tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\nbasic_auth_users:\n  u: %s\n' \
    "$(htpasswd -nbB -C 4 u p | cut -d: -f2-)" > "$TEST_TMP/web.yml"
  start_poold --workload=steady --web.config.file="$TEST_TMP/web.yml"
  S=https://${POOLD_URL#http://}
  c1=$(curl -sk -o /dev/null -w '%{http_code}' -u u:p "$S/metrics")
  c2=$(curl -sk -o /dev/null -w '%{http_code}' -u u:x "$S/metrics")
  c3=$(curl -sk -o /dev/null -w '%{http_code}' -u nobody:x "$S/stats")
  ok $([[ $c1 == 200 && $c2 == 401 && $c3 == 401 ]]; echo $?) "TLS + basic auth ($SAN_KIND: $c1 $c2 $c3)"
  kill -HUP "$POOLD_PID"; sleep 0.5
  stop_poold; status=$?
  ok $([[ $status -eq 0 ]] && sanitizer_clean "$POOLD_LOG"; echo $?) "TLS run: exit 0, no sanitizer report" || report "$POOLD_LOG"
else
  skip "TLS ($SAN_KIND)" "openssl or htpasswd missing (scripts/deps.sh test)"
fi
done_testing
