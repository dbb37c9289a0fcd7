#!/usr/bin/env bash
# daemon-systemd: what poold tells systemd, without a systemd. A stand-in
# notify socket records READY, STATUS, RELOADING + MONOTONIC_USEC, WATCHDOG
# and STOPPING; the watchdog stops when the workload is wedged; socket
# activation through systemd-socket-activate, with no AF_INET socket of
# poold's own; journal-style logging. (tests/systemd runs the real thing.)
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh
N=$TEST_TMP/notify.log

python3 tests/daemon/notify_listener.py "$TEST_TMP/notify.sock" > "$N" 2>&1 &
TEST_PIDS+=($!)
wait_for "grep -q LISTENING '$N'" 10
ok $? "the stand-in notify socket listens"

export NOTIFY_SOCKET=$TEST_TMP/notify.sock WATCHDOG_USEC=1000000
start_poold --workload=python --debug.wedge-on-sigusr2
ok $? "poold starts with NOTIFY_SOCKET and WATCHDOG_USEC=1s"
unset NOTIFY_SOCKET WATCHDOG_USEC
wait_for "grep -q '^CHECK' '$N'" 10
ok $(grep -q 'READY=1' "$N"; echo $?) "READY=1 is sent"
ok $(grep -q '^CHECK 200$' "$N"; echo $?) "at READY=1 poold already answers HTTP ($(grep '^CHECK' "$N" | head -1))"
ok $(grep 'READY=1' "$N" | head -1 | grep -q 'STATUS=Serving .*workload python'; echo $?) "READY=1 comes with a STATUS= line"
wait_for "[[ \$(grep -c 'WATCHDOG=1' '$N') -ge 4 ]]" 10
ok $? "WATCHDOG=1 pings arrive ($(grep -c 'WATCHDOG=1' "$N") so far)"
first=$(grep 'WATCHDOG=1' "$N" | sed -n 2p | cut -d' ' -f1); second=$(grep 'WATCHDOG=1' "$N" | sed -n 4p | cut -d' ' -f1)
gap=$(( (second - first) / 2 ))
ok $([[ $gap -gt 100000 && $gap -lt 1000000 ]]; echo $?) "pings come at about half the interval (${gap} µs apart, interval 1 s)"
wait_for "[[ \$(grep -c 'STATUS=Serving' '$N') -ge 2 ]]" 10
ok $? "STATUS= is updated while running"

# ---- reload -----------------------------------------------------------------------
kill -HUP "$POOLD_PID"
wait_for "grep -q 'RELOADING=1' '$N' && [[ \$(grep -c 'READY=1' '$N') -ge 2 ]]" 10
ok $? "SIGHUP: RELOADING=1, then READY=1 again"
line=$(grep 'RELOADING=1' "$N" | head -1)
got=$(sed -n 's/.*MONOTONIC_USEC=\([0-9]*\).*/\1/p' <<<"$line"); at=${line%% *}
ok $([[ -n $got && $((at - got)) -ge 0 && $((at - got)) -lt 5000000 ]]; echo $?) \
  "RELOADING=1 carries MONOTONIC_USEC on CLOCK_MONOTONIC ($got, received at $at)"
rl=$(grep -n 'RELOADING=1' "$N" | head -1 | cut -d: -f1)
ok $(tail -n +"$rl" "$N" | grep -q 'READY=1'; echo $?) "READY=1 follows the RELOADING=1"

# ---- the watchdog proves progress --------------------------------------------------
kill -USR2 "$POOLD_PID"
wait_for "[[ \$(curl -s -o /dev/null -w '%{http_code}' '$POOLD_URL/healthz') == 503 ]]" 20
ok $? "SIGUSR2 (--debug.wedge-on-sigusr2) wedges the workload: /healthz turns 503"
ok $(curl -s "$POOLD_URL/healthz" | grep -q 'no progress'; echo $?) "/healthz says why"
before=$(grep -c 'WATCHDOG=1' "$N"); sleep 2.5; after=$(grep -c 'WATCHDOG=1' "$N")
ok $([[ $after -eq $before ]]; echo $?) "no WATCHDOG=1 while wedged ($before then $after)"
ok $(grep -q 'not feeding the watchdog' "$POOLD_LOG"; echo $?) "the log says the watchdog is not fed"
ok $([[ $(scrape -o /dev/null -w '%{http_code}') == 200 ]]; echo $?) "metrics are still served while wedged"
stop_poold; status=$?
ok $([[ $status -eq 0 ]]; echo $?) "SIGTERM exits 0 even with wedged threads"
ok $(grep -q 'STOPPING=1' "$N"; echo $?) "STOPPING=1 is sent"

# ---- the HTTP side of the watchdog, with TLS ------------------------------------------
export NOTIFY_SOCKET=$TEST_TMP/notify.sock WATCHDOG_USEC=1000000
: > "$N.before"; cp "$N" "$N.before"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout "$TEST_TMP/k.pem" \
  -out "$TEST_TMP/c.pem" 2>/dev/null
printf 'tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n' > "$TEST_TMP/web.yml"
start_poold --workload=idle --web.config.file="$TEST_TMP/web.yml"
unset NOTIFY_SOCKET WATCHDOG_USEC
b=$(grep -c 'WATCHDOG=1' "$N"); sleep 2; a=$(grep -c 'WATCHDOG=1' "$N")
ok $([[ $a -ge $((b + 2)) ]]; echo $?) "with TLS (and an idle workload) the watchdog is fed ($b then $a)"
stop_poold

# ---- socket activation ---------------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# strace runs outside systemd-socket-activate (which must exec poold itself
# for LISTEN_PID to match); only the calls after poold's execve count.
if command -v strace >/dev/null; then tracer=(strace -f -qq -e trace=socket,execve -o "$TEST_TMP/strace"); else tracer=(); fi
"${tracer[@]}" systemd-socket-activate -l "127.0.0.1:$port" "$POOLD" --config="$TEST_TMP/empty.conf" \
  --web.systemd-socket --web.listen-address=127.0.0.1:1 --workload=steady 2>"$TEST_TMP/sa.log" &
sa=$!; TEST_PIDS+=($sa)
wait_for "grep -q 'Listening on' '$TEST_TMP/sa.log' 2>/dev/null" 10
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$port/metrics")
ok $([[ $c == 200 ]]; echo $?) "socket activation: /metrics answers on the passed socket ($c)"
wait_for "grep -q 'msg=ready' '$TEST_TMP/sa.log'" 10
ok $(grep -q "msg=listening address=127.0.0.1:$port systemd_socket=true" "$TEST_TMP/sa.log"; echo $?) \
  "poold logs the passed socket as its listener"
ok $(grep -q 'web.listen-address is ignored' "$TEST_TMP/sa.log"; echo $?) "--web.listen-address is ignored, and says so"
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$port/healthz")
ok $([[ $c == 200 ]]; echo $?) "socket activation: a second connection is served ($c)"
pid=$(pgrep -f -n "^$POOLD --config=$TEST_TMP/empty.conf --web.systemd-socket")
kill -TERM "$pid" 2>/dev/null; wait $sa 2>/dev/null
if ((${#tracer[@]})); then
  inet=$(awk '/execve\("[^"]*poold"/ { on = 1 } on && /socket\(AF_INET/' "$TEST_TMP/strace" | wc -l)
  ok $([[ $inet -eq 0 ]] && grep -q 'execve("[^"]*poold"' "$TEST_TMP/strace"; echo $?) \
    "with socket activation poold creates no AF_INET/AF_INET6 socket ($inet)"
else
  skip "no AF_INET socket of poold's own" "strace is not installed (scripts/deps.sh test)"
fi

# ---- the journal --------------------------------------------------------------------------
if [[ -S /run/systemd/journal/socket ]]; then
  skip "journal fallback with <N> prefixes" "journald is running here; tests/systemd checks journalctl"
else
  : > "$TEST_TMP/j.log"
  export JOURNAL_STREAM=$(stat -c '%d:%i' "$TEST_TMP/j.log")
  "$POOLD" --config="$TEST_TMP/empty.conf" --web.listen-address=127.0.0.1:0 --workload=idle 2>>"$TEST_TMP/j.log" &
  jp=$!; TEST_PIDS+=($jp)
  unset JOURNAL_STREAM
  wait_for "grep -q 'msg=ready' '$TEST_TMP/j.log'" 10
  kill -TERM $jp; wait $jp
  ok $(grep -q '^<6>level=info msg=ready' "$TEST_TMP/j.log" && grep -q '^<4>level=warn' "$TEST_TMP/j.log"; echo $?) \
    "stderr that is \$JOURNAL_STREAM gets journal priorities (<6> info, <4> warn) when journald is away"
  ok $(! grep -q '^ts=' "$TEST_TMP/j.log"; echo $?) "and no timestamps (the journal has its own)"
fi
done_testing
