#!/usr/bin/env bash
# daemon-metrics: the exposition itself. promtool in both formats, the
# invariants of every single scrape under load, and the metric contract:
# tests/daemon/golden/metrics.txt against a scrape of the reference
# configuration in both formats, and the table in docs/metrics.md.
#   tests/daemon/metrics.sh -u   rewrites both from a scrape (review the diff)
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh
GOLDEN=tests/daemon/golden/metrics.txt
CONTRACT="python3 tests/lib/metric_contract.py"

# The reference configuration exports every family: a trace replayed, the
# process collector with one process (a real segment made to look like this
# shell's), and a finite address-space limit (process_virtual_memory_max_bytes).
start_reference() {
  mkdir -p "$TEST_TMP/shm"
  python3 tests/observe/mksegment.py tests/fuzz/corpus/segment/python3 "$TEST_TMP/shm/poolmalloc.$$" \
    pid=$$ start=now updated=now+600 || return 1
  ulimit -S -v 17179869184   # KiB: 16 TiB
  start_poold --workload=replay --workload.trace=tests/fuzz/corpus/trace/threads --workload.threads=2 \
    --workload.rate=0 --workload.speed=0 --collector.processes --collector.processes.dir="$TEST_TMP/shm"
  local status=$?
  ulimit -S -v unlimited
  return $status
}

if [[ ${1:-} == -u ]]; then
  start_reference || { echo "poold did not start in the reference configuration" >&2; exit 1; }
  scrape >"$TEST_TMP/reference" && $CONTRACT update "$GOLDEN" "$TEST_TMP/reference" &&
    $CONTRACT docs "$GOLDEN" docs/metrics.md --update || exit 1
  stop_poold
  echo "rewrote $GOLDEN and the table in docs/metrics.md:"
  git diff --stat -- "$GOLDEN" docs/metrics.md
  exit 0
fi

start_poold --workload=fragmenter --workload.rate=0 --workload.max-bytes=48MiB
ok $? "poold starts with an unthrottled fragmenter" || { done_testing; exit 1; }
OMACCEPT='Accept: application/openmetrics-text;version=1.0.0'

# ---- promtool, both formats ----------------------------------------------------
check_expositions
ok $([[ $(tail -n1 "$TEST_TMP/om") == "# EOF" ]]; echo $?) "OpenMetrics ends with # EOF"
ok $(diff <(grep -v '^#' "$TEST_TMP/text" | awk '{print $1}' | grep -v scrape_duration) \
          <(grep -v '^#' "$TEST_TMP/om" | awk '{print $1}' | grep -v scrape_duration) >/dev/null; echo $?) \
  "both formats carry the same series, le strings included"

# ---- a few series of this scrape (the full contract is checked at the end) -------------
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

# ---- the contract -------------------------------------------------------------------------
stop_poold
start_reference
ok $? "poold starts in the reference configuration (replay, one exported process)" || { done_testing; exit 1; }
wait_for "[[ \$(scrape | metric poold_processes) == 1 ]]" 10
scrape >"$TEST_TMP/ref.text"
scrape -H "$OMACCEPT" >"$TEST_TMP/ref.om"
$CONTRACT families "$GOLDEN" "$TEST_TMP/ref.text" >"$TEST_TMP/fam.text"
$CONTRACT families "$GOLDEN" "$TEST_TMP/ref.om" --openmetrics >"$TEST_TMP/fam.om"
while read -r state name; do
  om=$(awk -v n="$name" '$2 == n { print $1 }' "$TEST_TMP/fam.om")
  case $state in
    extra) ok 1 "$name is exported but not in the contract ($GOLDEN)" ;;
    *) ok $([[ $state == ok && $om == ok ]]; echo $?) "$name as in the contract (text: $state, OpenMetrics: ${om:-missing})" ;;
  esac
done <"$TEST_TMP/fam.text"
for f in text om; do
  out=$($CONTRACT check "$GOLDEN" "$TEST_TMP/ref.$f" $([[ $f == om ]] && echo --openmetrics)); status=$?
  ok $status "the $f scrape matches $GOLDEN line for line"
  if [[ $status -ne 0 ]]; then
    printf '%s\n' "$out" | head -40 | sed 's/^/#   /'
    diag "after a deliberate change: tests/daemon/metrics.sh -u, then review and commit the diff"
  fi
done
out=$($CONTRACT docs "$GOLDEN" docs/metrics.md); status=$?
ok $status "docs/metrics.md's table is generated from $GOLDEN"
[[ $status -ne 0 ]] && printf '%s\n' "$out" | head -20 | sed 's/^/#   /'
unknown=$(comm -23 <(grep -oE '`(poold|process)_[a-z_]+[`{]' docs/metrics.md | tr -d '`{' | sort -u) \
                   <($CONTRACT names "$GOLDEN" | sort -u))
ok $([[ -z $unknown ]]; echo $?) "every metric docs/metrics.md names is in the contract"
[[ -n $unknown ]] && diag "not in the contract: $unknown"
done_testing
