#!/usr/bin/env bash
# Not a suite: the HTTP load run of docs/http-hardening.md.
#   tests/daemon/loadrun.sh [SECONDS] [CONNECTIONS]     (default 60 s, 64)
# For /metrics, /stats and /stats/arenas in turn: wrk with CONNECTIONS
# keep-alive connections for SECONDS (errors, non-2xx answers, p50/p99
# latency, requests/s) and poold's RSS and descriptors before and after;
# beside it the workload's throughput (unthrottled python, 2 threads) in the
# same run, over a quiet window of SECONDS/6 before each load and during it.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh
SECS=${1:-60}
CONNS=${2:-64}
QUIET=$((SECS / 6 > 1 ? SECS / 6 : 1))
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }

start_poold --workload=python --workload.rate=0 --workload.threads=2 || exit 1
sleep 2
rss() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$POOLD_PID/status"; }
fds() { ls "/proc/$POOLD_PID/fd" | wc -l; }

# One wrk run: prints "req/s p50 p99 errors non2xx"; latencies in ms.
wrk_run() {
  wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$1" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    /^Requests\/sec/ { rps = $2 }
    /Socket errors/ { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
    /Non-2xx/ { non2xx = $NF }
    END { printf "%.0f %.2f %.2f %d %d\n", rps, p50, p99, err, non2xx }'
}

echo "poold $(build/poold --version 2>&1 | head -1); wrk ${CONNS} connections, ${SECS} s each; workload python, rate 0, 2 threads"
echo "load date: $(date -u +%FT%TZ); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-14s %9s %8s %8s %6s %6s %10s %10s %6s %6s %14s %14s\n' path req/s p50_ms p99_ms errors non2xx rss_before rss_after fds_b fds_a ops/s_quiet ops/s_loaded
for path in /metrics /stats /stats/arenas; do
  quiet=$(workload_rate "$QUIET")
  r0=$(rss); f0=$(fds)
  wrk_run "$POOLD_URL$path" >"$TEST_TMP/wrk" &
  wp=$!
  sleep 2
  loaded=$(workload_rate $((SECS - 4)))
  wait $wp
  sleep 1
  read -r rps p50 p99 err non2xx <"$TEST_TMP/wrk"
  printf '%-14s %9s %8s %8s %6s %6s %9sM %9sM %6s %6s %14s %14s\n' "$path" "$rps" "$p50" "$p99" "$err" "$non2xx" \
    "$r0" "$(rss)" "$f0" "$(fds)" "$quiet" "$loaded"
done
stop_poold
