#!/usr/bin/env bash
# daemon-workloads: each profile runs through the allocator, frees cross
# threads, keeps to its cap and its rate, and never finds a damaged block.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh

# samples N METRIC...: N scrapes, 0.1 s apart; prints one line per scrape
samples() {
  local n=$1 i m; shift
  for ((i = 0; i < n; i++)); do
    s=$(scrape) || return 1
    for m in "$@"; do printf '%s ' "$(metric "$m" <<<"$s")"; done
    echo
    sleep 0.1
  done
}

for w in python steady fragmenter burst; do
  start_poold --workload=$w --workload.threads=2 --workload.rate=0 --workload.max-bytes=32MiB
  ok $? "$w: starts" || continue
  sleep 1
  s1=$(scrape); sleep 1; s2=$(scrape)
  ok $(grep -q "^poold_workload_info{workload=\"$w\"} 1" <<<"$s2"; echo $?) "$w: poold_workload_info says $w"
  for op in alloc free; do
    a=$(metric "poold_workload_operations_total{op=\"$op\"}" <<<"$s1"); b=$(metric "poold_workload_operations_total{op=\"$op\"}" <<<"$s2")
    ok $([[ $b -gt $a ]]; echo $?) "$w: workload ${op}s grow ($a -> $b)"
  done
  r=$(metric 'poold_operations_total{op="remote_free"}' <<<"$s2")
  h=$(metric poold_workload_handoffs_total <<<"$s2")
  ok $([[ $r -gt 0 && $h -gt 0 ]]; echo $?) "$w: blocks are freed across threads (remote_free $r, handoffs $h)"
  ok $([[ $(metric poold_workload_corruptions_total <<<"$s2") == 0 ]]; echo $?) "$w: no corrupted block"
  ok $([[ $(metric poold_workload_threads <<<"$s2") == 2 ]]; echo $?) "$w: 2 threads"
  live=$(metric poold_workload_live_bytes <<<"$s2")
  ok $([[ $live -gt 0 && $live -le $((32 << 20)) ]]; echo $?) "$w: live bytes within the cap ($live)"
  ok $([[ $(curl -s "$POOLD_URL/healthz") == ok ]]; echo $?) "$w: healthy"
  case $w in
  python)
    n=$(( $(metric poold_allocation_size_bytes_count <<<"$s2") -
          $(metric 'poold_allocation_size_bytes_bucket{le="512.0"}' <<<"$s2") ))
    ok $([[ $n -gt 0 ]]; echo $?) "python: some requests are above 512 bytes, the medium tier's ($n)"
    small=$(metric 'poold_allocation_size_bytes_bucket{le="64.0"}' <<<"$s2")
    all=$(metric poold_allocation_size_bytes_count <<<"$s2")
    ok $([[ $((small * 100 / all)) -ge 50 ]]; echo $?) "python: most requests are 64 bytes or less ($small of $all)"
    ;;
  fragmenter)
    max=$(samples 30 poold_fragmentation_ratio | sort -g | tail -1)
    ok $(awk -v r="$max" 'BEGIN { exit !(r > 1.5) }'; echo $?) "fragmenter: fragmentation shows (ratio up to $max)"
    ;;
  burst)
    seq=$(samples 40 poold_workload_live_bytes | awk '{print $1}')
    ups=$(awk 'NR > 1 && $1 > p { n++ } { p = $1 } END { print n + 0 }' <<<"$seq")
    downs=$(awk 'NR > 1 && $1 < p { n++ } { p = $1 } END { print n + 0 }' <<<"$seq")
    ok $([[ $ups -gt 0 && $downs -gt 0 ]]; echo $?) "burst: live bytes climb and drop ($ups up, $downs down)"
    ;;
  esac
  stop_poold; ok $? "$w: SIGTERM exits 0"
done

# ---- idle -------------------------------------------------------------------------
start_poold --workload=idle
s1=$(scrape); sleep 0.5; s2=$(scrape)
ok $([[ $(metric poold_workload_threads <<<"$s2") == 0 ]]; echo $?) "idle: no workload threads"
ok $([[ $(metric 'poold_workload_operations_total{op="alloc"}' <<<"$s1") == $(metric 'poold_workload_operations_total{op="alloc"}' <<<"$s2") ]]; echo $?) \
  "idle: no allocations"
ok $([[ $(curl -s "$POOLD_URL/healthz") == ok ]]; echo $?) "idle: healthy by design"
stop_poold

# ---- the cap holds: a small cap, unthrottled -----------------------------------------
for w in python fragmenter steady; do
  start_poold --workload=$w --workload.threads=2 --workload.rate=0 --workload.max-bytes=256KiB
  worst=$(samples 30 poold_workload_live_bytes | sort -n | tail -1)
  s=$(scrape)
  ok $([[ $worst -le 262144 ]]; echo $?) "$w with a 256 KiB cap: live bytes never above it (max seen $worst)"
  fails=$(metric poold_workload_alloc_failures_total <<<"$s")
  # fragmenter and burst size their phases below the cap; the others run into it
  [[ $w != fragmenter ]] &&
    ok $([[ $fails -gt 0 ]]; echo $?) "$w with a 256 KiB cap: refused allocations are counted ($fails) and survived"
  ok $([[ $(metric poold_workload_max_bytes <<<"$s") == 262144 ]]; echo $?) "$w: poold_workload_max_bytes is the cap"
  ok $([[ $(curl -s "$POOLD_URL/healthz") == ok ]]; echo $?) "$w: still healthy at the cap"
  stop_poold
done

# ---- the rate holds: an upper bound, never a speed requirement ----------------------
start_poold --workload=steady --workload.threads=2 --workload.rate=2000
sleep 0.5
t1=$(date +%s%N); a1=$(scrape | metric 'poold_workload_operations_total{op="alloc"}')
f1=$(scrape | metric 'poold_workload_operations_total{op="free"}')
sleep 2
f2=$(scrape | metric 'poold_workload_operations_total{op="free"}')
a2=$(scrape | metric 'poold_workload_operations_total{op="alloc"}'); t2=$(date +%s%N)
ops=$(( (a2 - a1) + (f2 - f1) )); secs=$(awk -v a="$t1" -v b="$t2" 'BEGIN { print (b - a) / 1e9 }')
limit=$(awk -v s="$secs" 'BEGIN { printf "%d", 2000 * s * 1.2 + 2 * 100 + 100 }')
ok $([[ $ops -le $limit && $ops -gt 0 ]]; echo $?) "--workload.rate=2000: $ops operations in ${secs}s (bound $limit)"
stop_poold

# ---- debug hooks on the obj domain ------------------------------------------------------
POOLMALLOC=debug start_poold --workload=python --workload.rate=0
sleep 1
s=$(scrape)
ok $(grep -q '^poold_allocator_info{allocators="debug"} 1' <<<"$s"; echo $?) "POOLMALLOC=debug reaches the workload's domain"
ok $([[ $(metric poold_workload_corruptions_total <<<"$s") == 0 && $(metric 'poold_workload_operations_total{op="free"}' <<<"$s") -gt 0 ]]; echo $?) \
  "under the debug hooks: frees run, no corruption"
stop_poold; ok $? "under the debug hooks: SIGTERM exits 0"
done_testing
