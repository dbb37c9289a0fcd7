#!/usr/bin/env bash
# bench-smoke: the benchmark harness works (not how fast anything is).
# Installs the anchors, builds the bench binaries, runs `bench.py --quick`,
# and checks that every allocator x workload produced results whose content
# checks ran; then that a broken allocator and a preload that failed to
# load are both refused. No timing assertions.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
BUILD=${BUILD:-build}
out=$BUILD/bench-smoke

check "anchors installed (scripts/deps.sh bench)" scripts/deps.sh bench || { done_testing; exit 1; }
check "bench binaries build" make --no-print-directory BUILD="$BUILD" bench-bins || { done_testing; exit 1; }

rm -rf "$out"
mkdir -p "$out"
/usr/bin/python3 bench/bench.py --quick --build "$BUILD" --out "$out" >"$out/log" 2>&1
status=$?
ok $status "bench.py --quick exits 0 (no failed run, no harness problem)"
[[ $status -ne 0 ]] && tail -30 "$out/log" | sed 's/^/#   /'

# From results.json, one line per workload: "STATUS description", STATUS 0
# when every allocator the workload lists has all its runs, each with its
# content checks done.
while read -r st desc; do ok "$st" "$desc"; done < <(/usr/bin/python3 - "$out/results.json" <<'PY'
import json, sys
sys.path.insert(0, "bench")
import bench
try:
    res = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    print(f"1 results.json readable ({e})")
    sys.exit()
rounds = res["meta"]["rounds"]
for w in bench.WORKLOADS:
    rows = {r["alloc"]: r for r in res["workloads"].get(w.name, {}).get("rows", [])}
    want = list(w.allocators)
    if w.name == "stats":
        want = [x for a in want for x in (a, a + "+stats")]
    runs = min(rounds, w.rounds_cap or rounds)
    bad = [a for a in want if rows.get(a, {}).get("runs") != runs or not rows.get(a, {}).get("checks")]
    if w.name == "stats" and not rows.get("pool+stats", {}).get("snapshot_per_s"):
        bad.append("pool+stats (no snapshot taken)")
    print(f"{int(bool(bad))} {w.name}: {len(want)} allocators x {runs} runs, blocks checked"
          + (f" (missing or unchecked: {', '.join(bad)})" if bad else ""))
good = res["targets"] and all(isinstance(t["met"], bool) for t in res["targets"])
print(f"{int(not good)} {len(res['targets'])} targets evaluated, each marked met or missed")
PY
)

for f in results.txt results.csv samples.csv; do
  check "$f written" test -s "$out/$f"
done

# The chart: well-formed SVG with bars for every timed workload.
while read -r st desc; do ok "$st" "$desc"; done < <(/usr/bin/python3 - "$out/ratios.svg" <<'PY'
import sys
import xml.etree.ElementTree as ET
sys.path.insert(0, "bench")
import bench, chart
ns = "{http://www.w3.org/2000/svg}"
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError) as e:
    print(f"1 ratios.svg is well-formed SVG ({e})")
    sys.exit()
labels = {t.text for t in root.iter(ns + "text")}
bars = [r for r in root.iter(ns + "rect") if r.find(ns + "title") is not None]
want = [f"{w.number}. {w.name}" for w in bench.WORKLOADS if w.name not in chart.UNTIMED]
missing = [w for w in want if w not in labels]
print(f"{int(bool(missing) or not bars)} ratios.svg: {len(bars)} bars, a group for each of "
      f"{len(want)} timed workloads" + (f" (missing: {', '.join(missing)})" if missing else ""))
print(f"{int('1x' not in labels)} ratios.svg marks the 1.0 line")
PY
)

# The checks bite: an allocator that hands out a live block twice aborts,
# on one thread and on several, small sizes and medium ones.
for w in churn:0.05 lifo4k:0.02 larson:0.02 rptest:0.02 medium:0.05; do
  err=$(LD_PRELOAD="$PWD/$BUILD/bench/libbroken.so" "$BUILD/bench/bench-malloc" "${w%:*}" "${w#*:}" 2>&1 >/dev/null)
  status=$?
  [[ $status -ne 0 && "$err" == *"CONTENT MISMATCH"* ]]
  ok $? "a broken allocator is caught by the content checks in ${w%:*} (exit $status)"
done
err=$(LD_PRELOAD=/nonexistent/libnothing.so "$BUILD/bench/bench-malloc" churn 0.01 2>&1 >/dev/null)
status=$?
[[ $status -ne 0 && "$err" == *"not mapped"* ]]
ok $? "a preload that did not load is refused (exit $status)"

done_testing
