#!/usr/bin/env bash
# poold --collector.processes reading real /usr/bin/python3 processes that
# export their own pymalloc with poold_pymalloc: /metrics (allocator label,
# arenas, byte kinds summing to arenas x arena size at every scrape, size
# classes), /stats (per-class pools, metadata bytes), the expositions through
# promtool, and SIGKILL (the process is counted as exited and forgotten).
set -u
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh
source tests/python/lib.sh
SEG=$TEST_TMP/shm
mkdir -p "$SEG"

require_module

# A program that builds a heap, then holds still until stdin closes; and one
# that keeps churning.
cat > "$TEST_TMP/still.py" <<'PY'
import sys
keep = [{"id": i, "name": "n%d" % i, "l": [i] * (i % 7)} for i in range(120000)]
print("ready", flush=True)
sys.stdin.read()
PY
cat > "$TEST_TMP/churn.py" <<'PY'
import sys, time
live = []
for step in range(10 ** 9):
    live.append([str(i) * (i % 40) for i in range(2000)])
    if len(live) > 60:
        del live[: 50]
    time.sleep(0.001)
PY
coproc STILL { exec $PY -m poold_pymalloc --dir "$SEG" --interval 0.1 "$TEST_TMP/still.py"; }
still=$STILL_PID; TEST_PIDS+=("$still")
read -r -t 20 line <&"${STILL[0]}"
( exec $PY -m poold_pymalloc --dir "$SEG" --interval 0.1 "$TEST_TMP/churn.py" ) & churn=$!; TEST_PIDS+=("$churn")

start_poold --workload=idle --collector.processes --collector.processes.dir="$SEG"
ok $? "poold starts with --collector.processes"
lbl="pid=\"$still\",comm=\"python3\""
wait_for "scrape | grep -q '^poold_process_info{pid=\"$churn\".*allocator=\"pymalloc\"'" 10
scrape > "$TEST_TMP/m1"
grep -q "^poold_process_info{$lbl,allocator=\"pymalloc\"} 1" "$TEST_TMP/m1"
ok $? "a python3 exporting its pymalloc is in /metrics, allocator=\"pymalloc\""
# The segment published just before "ready" may still show the heap half
# built, so compare once a scrape and the segment agree, for up to 10 s.
for i in $(seq 50); do
  arenas=$(scrape | metric "poold_process_arenas{$lbl}")
  want=$($LIB get "$SEG/poolmalloc.$still" arenas_current)
  [[ -n $arenas && $arenas == "$want" ]] && break
  sleep 0.2
done
ok $(( arenas != want || arenas < 5 )) "its arena count ($arenas) is the one it exports ($want)"
grep -q "^poold_process_size_class_blocks{$lbl,size=\"64\",state=\"allocated\"} [1-9]" "$TEST_TMP/m1"
ok $? "its size classes' blocks are there"
grep -Eq "^poold_process_(operations_total|thread_heaps|purged_bytes_total|large_bytes)\{$lbl" "$TEST_TMP/m1"
ok $(( ! $? )) "no operation, heap, purge or large-block samples for it (pymalloc keeps none)"

# the byte kinds add up at every scrape, for the churning process too
bad=0
for i in $(seq 15); do
  scrape | awk -v c="$churn" -v s="$still" '
    $1 ~ /^poold_process_arena_bytes\{/ { split($1, a, "pid=\""); split(a[2], p, "\""); sum[p[1]] += $2 }
    $1 ~ /^poold_process_arenas\{/ { split($1, a, "pid=\""); split(a[2], p, "\""); n[p[1]] = $2 }
    END { if (!(c in n) || !(s in n) || sum[c] != n[c] * 1048576 || sum[s] != n[s] * 1048576) exit 1 }' ||
    bad=$((bad + 1))
  sleep 0.1
done
ok $bad "15 scrapes: the byte kinds sum to arenas x 1 MiB for both processes ($bad not)"

curl -sf "$POOLD_URL/stats" > "$TEST_TMP/stats.json"
$PY - "$TEST_TMP/stats.json" "$still" "$SEG/poolmalloc.$still" <<'PY'
import json, sys
sys.path.insert(0, "tests/python")
import pymalloc_lib as L
procs = {p["pid"]: p for p in json.load(open(sys.argv[1]))["processes"]}
p = procs[int(sys.argv[2])]
h, arenas = L.decode(sys.argv[3])
assert p["allocator_name"] == "pymalloc", p["allocator_name"]
assert p["allocator_version"].startswith("3.11."), p["allocator_version"]
assert p["metadata_bytes"] == h.metadata_bytes > 0, (p["metadata_bytes"], h.metadata_bytes)
cls = {c["size"]: c for c in p["allocator"]["size_classes"]}
for c in range(32):
    cs = h.stats.classes[c]
    if cs.pools:
        assert cls[cs.size]["pools"] == cs.pools, (cs.size, cls[cs.size], cs.pools)
assert "operations" not in p["allocator"] and "thread_heaps" not in p["allocator"]
PY
ok $? "/stats: allocator pymalloc 3.11, metadata (radix tree) bytes, per-class pools as exported"

curl -sf "$POOLD_URL/process/$still" | grep -q "<title>python3 (pid $still)"
ok $? "the live page has a view of it (/process/$still)"
curl -sf "$POOLD_URL/process/$still/map" > "$TEST_TMP/map.json"
$PY - "$TEST_TMP/map.json" "$SEG/poolmalloc.$still" <<'PY'
import json, sys
sys.path.insert(0, "tests/python")
import pymalloc_lib as L
m = json.load(open(sys.argv[1]))
h, arenas = L.decode(sys.argv[2])
assert m["total"] == h.stats.arenas_current and m["records"] == h.arena_records > 0, (m["total"], m["records"])
assert [int(a[0], 16) for a in m["arenas"]] == [a.address for a in arenas]
PY
ok $? "and its arena map: the exported arenas, by address, 'N of M' ($(head -c 40 "$TEST_TMP/map.json"))"

check_expositions "(with pymalloc processes)"

kill -9 "$still"; wait "$still" 2>/dev/null
before=$(scrape | metric 'poold_process_segments_skipped_total{reason="exited"}')
scrape > "$TEST_TMP/m2"
grep -q "^poold_process_info{$lbl" "$TEST_TMP/m2"
ok $(( ! $? )) "after SIGKILL the process is gone from /metrics"
after=$(metric 'poold_process_segments_skipped_total{reason="exited"}' < "$TEST_TMP/m2")
ok $(( after <= before - 1 || after < 1 )) "and its left segment is counted as exited ($after)"
grep -q "^poold_process_info{pid=\"$churn\"" "$TEST_TMP/m2"; ok $? "the other one is still there"
kill "$churn"
stop_poold; ok $? "poold stops cleanly"
done_testing
