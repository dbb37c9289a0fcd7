#!/usr/bin/env bash
# Not a suite: measures what the daemon's closing note reports.
#   tests/daemon/measure.sh [SECONDS_PER_WINDOW]
# 1. /metrics size (text, OpenMetrics, gzip) and scrape latency (curl, wrk).
# 2. Workload throughput (unthrottled python, 2 threads) in alternating
#    windows without and with a scraper polling /metrics 10 times a second,
#    all in one poold run.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh
WIN=${1:-10}

start_poold --workload=python --workload.rate=0 --workload.threads=2 || exit 1
sleep 2
U=$POOLD_URL
echo "== /metrics size"
printf 'text 0.0.4:       %s bytes\n' "$(curl -s "$U/metrics" | wc -c)"
printf 'OpenMetrics:      %s bytes\n' "$(curl -s -H 'Accept: application/openmetrics-text;version=1.0.0' "$U/metrics" | wc -c)"
printf 'text, gzip:       %s bytes\n' "$(curl -s -H 'Accept-Encoding: gzip' "$U/metrics" | wc -c)"
printf 'samples:          %s\n' "$(curl -s "$U/metrics" | grep -vc '^#')"
echo "== scrape latency (200 sequential curl scrapes, ms)"
for i in $(seq 1 200); do curl -s -o /dev/null -w '%{time_total}\n' "$U/metrics"; done |
  sort -g | awk '{ v[NR] = $1 * 1000 } END { printf "p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", v[int(NR*.5)], v[int(NR*.9)], v[int(NR*.99)], v[NR] }'
for i in $(seq 1 200); do curl -s -o /dev/null -H 'Accept-Encoding: gzip' -w '%{time_total}\n' "$U/metrics"; done |
  sort -g | awk '{ v[NR] = $1 * 1000 } END { printf "gzip: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", v[int(NR*.5)], v[int(NR*.9)], v[int(NR*.99)], v[NR] }'
if command -v wrk >/dev/null; then
  echo "== wrk, 1 connection, 5 s (keep-alive)"
  wrk -t1 -c1 -d5s --latency "$U/metrics" | grep -E 'Latency|50%|99%|Requests/sec'
fi
scraper() { while :; do curl -s -o /dev/null -H 'Accept-Encoding: gzip' "$U/metrics"; sleep 0.1; done; }
echo "== workload throughput, ${WIN}s windows, alternating (ops/s)"
for round in $(seq 1 "${ROUNDS:-3}"); do
  off=$(workload_rate "$WIN")
  scraper & sp=$!
  on=$(workload_rate "$WIN")
  kill $sp; wait $sp 2>/dev/null
  echo "round $round: without scraper $off   with scraper (10/s) $on"
done
stop_poold
