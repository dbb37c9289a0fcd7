#!/usr/bin/env bash
# daemon-hostile: garbage, huge and slow requests, bodies, too many clients;
# after each, a normal scrape must still be answered. Then the slow-client
# attacks (tests/daemon/attack.py), each with a scraper beside it that must
# get a 200 within a second every time, and poold's descriptors and memory
# checked before, during and after.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh
RAW=tests/daemon/rawhttp.py

start_poold --workload=fragmenter --workload.rate=0 --workload.max-bytes=96MiB \
  --web.read-header-timeout=2s --web.idle-timeout=2s --web.max-connections-per-ip=8 --web.max-requests=1
ok $? "poold starts (header and idle timeouts 2s, 8 connections per IP, 1 request in flight)" || { done_testing; exit 1; }
HOSTPORT=${POOLD_URL#http://}; H=${HOSTPORT%:*}; P=${HOSTPORT##*:}
still_serves() { ok $([[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$POOLD_URL/metrics") == 200 ]]; echo $?) "$1: a scrape is still answered"; }

# ---- malformed and oversized requests ---------------------------------------------
for hex in "$(head -c 2000 /dev/urandom | od -An -tx1 | tr -d ' \n')0d0a0d0a" \
           "$(printf 'GARBAGE\r\n\r\n' | od -An -tx1 | tr -d ' \n')" \
           "$(printf 'GET\r\n\r\n' | od -An -tx1 | tr -d ' \n')" \
           "$(printf 'GET /metrics HTTP/9.9\r\n\r\n' | od -An -tx1 | tr -d ' \n')" \
           "$(printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n' | od -An -tx1 | tr -d ' \n')"; do
  st=$(python3 $RAW send "$H" "$P" "$hex")
  ok $([[ $st != *" 200 "* && $st != *" 500 "* ]]; echo $?) "malformed request ${hex:0:24}...: refused ($st)"
done
still_serves "after malformed requests"
st=$(python3 $RAW big-header "$H" "$P" 100000)
ok $([[ $st == *" 431 "* || $st == *" 413 "* || $st == *" 400 "* || $st == closed ]]; echo $?) "a 100 KB header is refused ($st)"
st=$(python3 $RAW many-headers "$H" "$P" 5000)
ok $([[ $st == *" 431 "* || $st == *" 413 "* || $st == *" 400 "* || $st == closed ]]; echo $?) "5000 headers are refused ($st)"
st=$(python3 $RAW big-url "$H" "$P" 100000)
ok $([[ $st == *" 414 "* || $st == *" 400 "* || $st == closed ]]; echo $?) "a 100 KB URL is refused ($st)"
st=$(python3 $RAW big-url "$H" "$P" 2000)
ok $([[ $st == *" 404 "* ]]; echo $?) "a 2 KB URL is an ordinary 404 ($st)"
still_serves "after oversized requests"

# ---- bodies ------------------------------------------------------------------------
head -c $((8 << 20)) /dev/zero > "$TEST_TMP/body"
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X GET --data-binary @"$TEST_TMP/body" "$POOLD_URL/metrics")
ok $([[ $c == 413 ]]; echo $?) "an 8 MiB body on GET is refused with 413 ($c)"
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --data-binary @"$TEST_TMP/body" "$POOLD_URL/metrics")
ok $([[ $c == 405 ]]; echo $?) "an 8 MiB POST is refused with 405 ($c)"
still_serves "after bodies"

# ---- slow clients holding connections ------------------------------------------------
# Loopback clients all share their address: the per-IP limit (8) must not
# apply to them, or 8 of them would lock out the scraper.
python3 $RAW hold 127.0.0.1 "$P" 127.0.0.1 20 1 >/dev/null &
holder=$!
sleep 0.5
still_serves "while 20 slow clients from 127.0.0.1 hold connections (over the per-IP limit of 8)"
wait $holder
closed=$(python3 $RAW hold "$H" "$P" 127.0.0.2 4 15)
ok $([[ $closed -eq 4 ]]; echo $?) "half-requests are closed by the header deadline ($closed of 4)"
still_serves "after the slow clients"
i0=$(scrape | metric 'poold_http_connections_closed_total{reason="idle_timeout"}')
st=$(python3 $RAW keepalive "$H" "$P" 10)
ok $([[ $st == closed ]]; echo $?) "an idle keep-alive connection is closed at the idle deadline ($st)"
ok $([[ $(scrape | metric 'poold_http_connections_closed_total{reason="idle_timeout"}') -gt $i0 ]]; echo $?) \
  "and counted (reason idle_timeout)"

# ---- too many requests in flight: 503 ----------------------------------------------------
# An arena is about 3 KB of /stats/arenas JSON: 64 of them overflow the
# capped send buffer, so the reply stays in flight while nobody reads it.
wait_for "[[ \$(scrape | metric poold_arenas) -ge 64 ]]" 30
arenas=$(scrape | metric poold_arenas)
n503=$(scrape | metric 'poold_http_requests_total{code="503"}')
python3 $RAW stall-read "$H" "$P" "/stats/arenas?limit=64" 3 > "$TEST_TMP/stall" &
stall=$!
wait_for "grep -q sent '$TEST_TMP/stall'" 5; sleep 0.3
# Pages other than /metrics share max(1, max-requests/8) slots; the stuck
# answer is younger than the second after which it would give its slot up.
c=$(curl -s -o "$TEST_TMP/503" -w '%{http_code}' --max-time 5 "$POOLD_URL/stats")
ok $([[ $c == 503 ]]; echo $?) "with one page stuck on a slow reader and --web.max-requests=1, the next page gets 503 ($c, $arenas arenas)"
ok $(grep -q 'Limit of concurrent requests reached (1)' "$TEST_TMP/503"; echo $?) "the 503 says why"
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$POOLD_URL/metrics")
ok $([[ $c == 200 ]]; echo $?) "a scrape meanwhile gets 200: /metrics has slots of its own ($c)"
wait $stall
ok $(grep -q ' 200 ' "$TEST_TMP/stall"; echo $?) "the slow reader gets its 200 in the end"
still_serves "once the slow reader is done"
ok $([[ $(scrape | metric 'poold_http_requests_total{code="503"}') -gt $n503 ]]; echo $?) "503s are counted"

# ---- the connection limit ------------------------------------------------------------------
start_poold --workload=idle --web.max-connections=4 --web.connection-timeout=1s
HOSTPORT=${POOLD_URL#http://}; P=${HOSTPORT##*:}
fd0=$(ls /proc/$POOLD_PID/fd | wc -l)
python3 $RAW hold 127.0.0.1 "$P" 127.0.0.2 4 3 >/dev/null &
holder=$!
wait_for "(( \$(ls /proc/$POOLD_PID/fd | wc -l) >= fd0 + 4 ))" 10
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 "$POOLD_URL/metrics")
ok $([[ $c == 200 ]]; echo $?) "with the connection limit full of half-sent requests, a scrape is answered ($c)"
ok $([[ $(scrape | metric 'poold_http_connections_closed_total{reason="evicted"}') -ge 1 ]]; echo $?) \
  "the oldest half-sent request made room for it (closed, reason evicted)"
wait $holder
i0=$(scrape | metric 'poold_http_connections_closed_total{reason="idle_timeout"}')
st=$(python3 $RAW keepalive "$H" "$P" 10)
ok $([[ $st == closed && $(scrape | metric 'poold_http_connections_closed_total{reason="idle_timeout"}') -gt $i0 ]]; echo $?) \
  "the deprecated --web.connection-timeout=1s still sets the idle timeout ($st)"
ok $(kill -0 "$POOLD_PID"; echo $?) "poold is still running"
stop_poold; ok $? "SIGTERM exits 0 after all that"

source tests/daemon/slow_clients.sh
done_testing
