#!/usr/bin/env bash
# Not a suite: measures what docs/page.md reports about the live page.
#   tests/page/measure.sh [SECONDS_PER_WINDOW]
# 1. The page's size (HTML + app.js + app.css + favicon), plain and gzipped.
# 2. /process/PID/map?limit=1000 for a process of 1001 arenas (a consistent
#    segment scaled from a real one), its /process/PID/stats and /stats, on an
#    idle poold: 500 sequential requests each, gzip as a browser asks; wall
#    time (curl) and poold's own CPU time per request (process.cpu_seconds).
# 3. The workload's throughput (python, unthrottled, 2 threads) in
#    alternating windows without and with a poller making the page's own
#    requests at its normal rate (/stats every second, /stats/map every 2 s),
#    in one poold run; and the server time those requests take per second.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh
source tests/observe/lib.sh
source tests/page/lib.sh
WIN=${1:-10}
PY=/usr/bin/python3
mkdir -p "$TMP/shm"
large_process 91 "$TMP/shm"
# ---- an idle poold: what a request costs, in wall time and in poold's CPU time
start_poold --workload=idle --collector.processes --collector.processes.dir="$TMP/shm" || exit 1
U=$POOLD_URL
echo "== page size"
plain=$(for f in / /app.js /app.css /favicon.svg; do curl -s "$U$f"; done | wc -c)
gz=$(for f in / /app.js /app.css /favicon.svg; do curl -s -H 'Accept-Encoding: gzip' "$U$f"; done | wc -c)
echo "HTML + app.js + app.css + favicon.svg: $plain bytes, gzipped $gz bytes"
cpu() { curl -s "$U/stats" | $PY -c 'import json,sys; print(json.load(sys.stdin)["process"]["cpu_seconds"])'; }
lat() {  # URL: 500 sequential gzip requests: wall ms percentiles, and poold's CPU ms per request
  local c1 c2
  c1=$(cpu)
  for i in $(seq 1 500); do curl -s -o /dev/null -H 'Accept-Encoding: gzip' -w '%{time_total}\n' "$1"; done |
    sort -g | awk '{ v[NR] = $1 * 1000 } END { printf "wall p50 %.2f  p90 %.2f  p99 %.2f ms", v[int(NR*.5)], v[int(NR*.9)], v[int(NR*.99)] }'
  c2=$(cpu)
  awk -v a="$c1" -v b="$c2" 'BEGIN { printf "   poold CPU %.2f ms per request\n", (b - a) * 1000 / 500 }'
}
n=$(curl -s "$U/process/$BIG/stats" | $PY -c 'import json,sys; print(json.load(sys.stdin)["allocator"]["arenas"]["current"])')
echo "== /process/$BIG/map?limit=1000 ($n arenas; $(curl -s "$U/process/$BIG/map?limit=1000" | wc -c) bytes, gzip $(curl -s -H 'Accept-Encoding: gzip' "$U/process/$BIG/map?limit=1000" | wc -c))"
lat "$U/process/$BIG/map?limit=1000"
echo "== /process/$BIG/stats"
lat "$U/process/$BIG/stats"
echo "== /stats"
lat "$U/stats"
stop_poold

# ---- the workload with and without the page's requests --------------------------------------
start_poold --workload=python --workload.rate=0 --workload.threads=2 || exit 1
sleep 2
U=$POOLD_URL
rate() {  # workload ops per second over $1 seconds
  local o1 o2 t1 t2
  o1=$(curl -s "$U/stats" | $PY -c 'import json,sys; print(json.load(sys.stdin)["workload"]["operations"])'); t1=$(date +%s%N)
  sleep "$1"
  o2=$(curl -s "$U/stats" | $PY -c 'import json,sys; print(json.load(sys.stdin)["workload"]["operations"])'); t2=$(date +%s%N)
  awk -v o=$((o2 - o1)) -v t=$((t2 - t1)) 'BEGIN { printf "%.0f", o / (t / 1e9) }'
}
poller() {  # the page's requests: /stats every second, the map every 2 s
  local i=0
  while :; do
    curl -s -o /dev/null -H 'Accept-Encoding: gzip' "$U/stats"
    (( i++ % 2 == 0 )) && curl -s -o /dev/null -H 'Accept-Encoding: gzip' "$U/stats/map?order=fullest&offset=0&limit=1000"
    sleep 1
  done
}
echo "== workload throughput, ${WIN}s windows, alternating (ops/s)"
for round in $(seq 1 "${ROUNDS:-3}"); do
  off=$(rate "$WIN")
  poller & pp=$!
  on=$(rate "$WIN")
  kill $pp; wait $pp 2>/dev/null
  echo "round $round: without the page $off   with the page polling $on   ratio $(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')"
done
stop_poold
