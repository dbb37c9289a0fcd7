#!/usr/bin/env bash
# daemon-metrics: the exposition itself. promtool in both formats, the metric
# contract, and the invariants of every single scrape under load.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh

start_poold --workload=fragmenter --workload.rate=0 --workload.max-bytes=48MiB
ok $? "poold starts with an unthrottled fragmenter" || { done_testing; exit 1; }
OMACCEPT='Accept: application/openmetrics-text;version=1.0.0'

# ---- promtool, both formats ----------------------------------------------------
check_expositions
ok $([[ $(tail -n1 "$TEST_TMP/om") == "# EOF" ]]; echo $?) "OpenMetrics ends with # EOF"
ok $(diff <(grep -v '^#' "$TEST_TMP/text" | awk '{print $1}' | grep -v scrape_duration) \
          <(grep -v '^#' "$TEST_TMP/om" | awk '{print $1}' | grep -v scrape_duration) >/dev/null; echo $?) \
  "both formats carry the same series, le strings included"

# ---- the contract: names every dashboard relies on -----------------------------------
for name in poold_arenas poold_arenas_allocated_total poold_arenas_released_total poold_arenas_highwater \
    poold_arena_size_bytes poold_pool_size_bytes poold_pools_per_arena poold_fragmentation_ratio poold_large_allocations \
    poold_large_bytes poold_large_mallocs_total poold_allocation_size_bytes_sum \
    poold_allocation_size_bytes_count poold_purges_total poold_purged_bytes_total \
    poold_purge_delay_seconds poold_thread_heaps poold_thread_heaps_abandoned poold_workload_threads \
    poold_workload_live_bytes poold_workload_live_blocks poold_workload_max_bytes \
    poold_workload_alloc_failures_total poold_workload_corruptions_total poold_http_requests_in_flight \
    poold_scrape_duration_seconds process_cpu_seconds_total process_resident_memory_bytes \
    process_virtual_memory_bytes process_start_time_seconds process_open_fds process_max_fds process_threads; do
  grep -q "^$name " "$TEST_TMP/text"; ok $? "$name is exported"
done
for kind in allocated free_blocks empty_pools untouched pool_headers quantization alignment returned; do
  grep -q "^poold_arena_bytes{kind=\"$kind\"} " "$TEST_TMP/text"; ok $? "poold_arena_bytes{kind=\"$kind\"}"
done
for st in used empty untouched returned; do
  grep -q "^poold_pools{state=\"$st\"} " "$TEST_TMP/text"; ok $? "poold_pools{state=\"$st\"}"
done
for op in malloc free calloc realloc realloc_inplace aligned remote_free failed; do
  grep -q "^poold_operations_total{op=\"$op\"} " "$TEST_TMP/text"; ok $? "poold_operations_total{op=\"$op\"}"
done
for fam in poold_size_class_pools poold_size_class_full_pools poold_size_class_allocations_total \
           poold_size_class_frees_total; do
  n=$(grep -c "^$fam{size=\"[0-9]*\"} " "$TEST_TMP/text")
  ok $([[ $n -eq 68 ]]; echo $?) "$fam has all 68 size classes, small and medium ($n)"
done
n=$(grep -cE '^poold_size_class_blocks\{size="[0-9]+",state="(allocated|free)"\} ' "$TEST_TMP/text")
ok $([[ $n -eq 136 ]]; echo $?) "poold_size_class_blocks has 68 classes x 2 states ($n)"
grep -q '^poold_size_class_pools{size="262144"} ' "$TEST_TMP/text"
ok $? "the medium tier's top class is labelled size=\"262144\""
grep -q '^poold_workload_info{workload="fragmenter"} 1$' "$TEST_TMP/text"; ok $? "poold_workload_info names the workload"
grep -qE '^poold_build_info\{version="[^"]+"\} 1$' "$TEST_TMP/text"; ok $? "poold_build_info{version} 1"
grep -q '^poold_workload_operations_total{op="alloc"} ' "$TEST_TMP/text"; ok $? "poold_workload_operations_total{op=alloc}"
grep -q '^poold_workload_operations_total{op="free"} ' "$TEST_TMP/text"; ok $? "poold_workload_operations_total{op=free}"
les=$(grep -o 'poold_allocation_size_bytes_bucket{le="[^"]*"}' "$TEST_TMP/text" | sed 's/.*le="\(.*\)"}/\1/' | paste -sd' ')
medium="640 768 896 1024 1280 1536 1792 2048 2560 3072 3584 4096 5120 6144 7168 8192 10240 12288 14336"
medium+=" 16384 20480 24576 28672 32768 40960 49152 57344 65536 81920 98304 114688 131072 163840"
medium+=" 196608 229376 262144"
want="$( (seq 16 16 512; tr ' ' '\n' <<<"$medium") | sed 's/$/.0/' | paste -sd' ') 1.048576e+06 1.6777216e+07 +Inf"
ok $([[ $les == "$want" ]]; echo $?) "the histogram's le strings are the class sizes, the large bounds and +Inf, in canonical form"
[[ $les != "$want" ]] && diag "got: $les"
grep -q 'poold_fragmentation_ratio Bytes in pools serving a size class' "$TEST_TMP/text"
ok $? "HELP of poold_fragmentation_ratio defines it"

# ---- invariants of each scrape, many scrapes under load ------------------------------
cat > "$TEST_TMP/check.awk" <<'AWK'
# Checks one text exposition; prints what is wrong, nothing if all holds.
/^#/ { next }
{ v[$1] = $2 }
$1 ~ /^poold_arena_bytes\{/ { bytes += $2 }
$1 ~ /^poold_pools\{/ { pools += $2 }
$1 ~ /^poold_allocation_size_bytes_bucket\{/ { if ($2 + 0 < last + 0) bad = bad " histogram not cumulative at " $1; last = $2 }
$1 ~ /^poold_size_class_blocks\{.*state="allocated"/ { blocks_alloc += $2 }
$1 ~ /^poold_size_class_blocks\{/ { split($1, a, "\""); size = a[2]; class_bytes[size] += $2 * size }
END {
  want = v["poold_arenas"] * v["poold_arena_size_bytes"]
  if (bytes != want) print "byte breakdown " bytes " != arenas*arena_size " want
  if (pools != v["poold_arenas"] * v["poold_pools_per_arena"]) print "pools " pools " != arenas*pools_per_arena"
  if (v["poold_allocation_size_bytes_bucket{le=\"+Inf\"}"] != v["poold_allocation_size_bytes_count"])
    print "+Inf bucket != _count"
  total = 0; for (s in class_bytes) total += class_bytes[s]
  if (total != v["poold_arena_bytes{kind=\"allocated\"}"] + v["poold_arena_bytes{kind=\"free_blocks\"}"])
    print "class blocks " total " != allocated + free_blocks"
  if (v["poold_workload_live_bytes"] > v["poold_workload_max_bytes"]) print "live bytes above the cap"
  alloc = v["poold_arena_bytes{kind=\"allocated\"}"]
  if (alloc > 0) {
    r = (alloc + v["poold_arena_bytes{kind=\"free_blocks\"}"] + v["poold_arena_bytes{kind=\"pool_headers\"}"] + v["poold_arena_bytes{kind=\"quantization\"}"]) / alloc
    if (r - v["poold_fragmentation_ratio"] > 1e-9 || v["poold_fragmentation_ratio"] - r > 1e-9) print "fragmentation ratio " v["poold_fragmentation_ratio"] " != " r
  }
  if (bad) print bad
}
AWK
fails=0; arenas_seen=""
for i in $(seq 1 150); do
  if ((i % 2)); then scrape > "$TEST_TMP/s"; else scrape -H "$OMACCEPT" | om_to_text > "$TEST_TMP/s"; fi
  msg=$(awk -f "$TEST_TMP/check.awk" "$TEST_TMP/s")
  if [[ -n $msg ]]; then ((fails++)); diag "scrape $i: $msg"; fi
  arenas_seen+=" $(metric poold_arenas < "$TEST_TMP/s")"
done
ok $([[ $fails -eq 0 ]]; echo $?) "150 scrapes under load: bytes sum to arenas*arena_size, pools to arenas*pools_per_arena, classes to the byte kinds, +Inf = _count, ratio as defined ($fails bad)"
distinct=$(tr ' ' '\n' <<<"$arenas_seen" | sort -u | grep -c .)
ok $([[ $distinct -ge 2 ]]; echo $?) "the arena count moved while scraping ($distinct distinct values)"

# ---- numbers move ------------------------------------------------------------------------
a1=$(scrape | metric 'poold_workload_operations_total{op="alloc"}')
m1=$(scrape | metric 'poold_operations_total{op="malloc"}')
sleep 1
a2=$(scrape | metric 'poold_workload_operations_total{op="alloc"}')
m2=$(scrape | metric 'poold_operations_total{op="malloc"}')
ok $([[ $a2 -gt $a1 ]]; echo $?) "workload allocations grow ($a1 -> $a2)"
ok $([[ $m2 -gt $m1 ]]; echo $?) "allocator mallocs grow ($m1 -> $m2)"
c=$(scrape | metric poold_workload_corruptions_total)
ok $([[ $c -eq 0 ]]; echo $?) "no corrupted blocks ($c)"
cpu=$(scrape | metric process_cpu_seconds_total)
ok $(awk -v c="$cpu" 'BEGIN { exit !(c > 0) }'; echo $?) "process_cpu_seconds_total is positive ($cpu)"
start=$(scrape | metric process_start_time_seconds)
ok $(awk -v s="$start" -v now="$(date +%s)" 'BEGIN { exit !(s > now - 600 && s <= now + 1) }'; echo $?) \
  "process_start_time_seconds is a recent time ($start)"
fds=$(scrape | metric process_open_fds)
ok $([[ $fds -ge 3 && $fds -lt 100 ]]; echo $?) "process_open_fds is plausible ($fds)"
done_testing
