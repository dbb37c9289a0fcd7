#!/usr/bin/env bash
# observe-replay: poold --workload=replay. A trace of python3 and one of a
# multi-threaded program, recorded here, replayed in a loop: the numbers
# move in /metrics and /stats, the replay's figures match the trace, frees
# cross threads where the program's did, --workload.speed paces it,
# --workload.rate and --workload.max-bytes hold, the exposition stays valid;
# a bad trace stops poold at start (exit 2, with the byte offset) and is
# refused at reload (the running replay goes on).
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh
source tests/observe/lib.sh

require_shim "replaying traces in poold"

# ---- recordings ---------------------------------------------------------------------
cat >"$TMP/grow.py" <<'PY'
d = {}
l = []
for i in range(60000):
    l.append(("x" * (i % 300), i, [i] * (i % 7)))
    if i % 3 == 0:
        d[i] = str(i) * 5
    if i % 5000 == 0:
        big = bytearray(300000)
print(len(l), len(d))
PY
PYTHONMALLOC=malloc POOLMALLOCTRACE=$TMP/py.trace LD_PRELOAD=$SHIM /usr/bin/python3 "$TMP/grow.py" >/dev/null
ok $? "python3 recorded"
POOLMALLOCTRACE=$TMP/mt.trace LD_PRELOAD=$SHIM "$OBS/trace_threads" 4 5000 2 >/dev/null
ok $? "trace_threads recorded"
"$POOLTRACE" summary "$TMP/py.trace" >"$TMP/py.sum"
py_records=$(field "$TMP/py.sum" records)
py_pid=$(sed -n '1s/.*: pid \([0-9]*\) .*/\1/p' "$TMP/py.sum")

# ---- replay as fast as it goes ----------------------------------------------------------
start_poold --workload=replay --workload.trace="$TMP/py.trace" --workload.threads=1 \
  --workload.rate=0 --workload.speed=0
ok $? "poold starts replaying the python3 trace" || { done_testing; exit 1; }
sleep 1
s1=$(scrape); sleep 1.5; s2=$(scrape)
for m in poold_workload_replay_records_total poold_workload_replay_loops_total \
         'poold_workload_operations_total{op="alloc"}' 'poold_workload_operations_total{op="free"}' \
         'poold_workload_operations_total{op="realloc"}' 'poold_operations_total{op="malloc"}'; do
  a=$(metric "$m" <<<"$s1"); b=$(metric "$m" <<<"$s2")
  [[ -n $a && $b -gt $a ]]; ok $? "$m grows ($a -> $b)"
done
grep -qF "poold_workload_replay_info{trace=\"$TMP/py.trace\",comm=\"python3\",pid=\"$py_pid\"} 1" <<<"$s2"
ok $? "poold_workload_replay_info names the trace, the program and its pid ($py_pid)"
[[ $(metric poold_workload_replay_trace_records <<<"$s2") == "$py_records" ]]
ok $? "poold_workload_replay_trace_records is the trace's record count ($py_records)"
grep -q '^poold_workload_info{workload="replay"} 1$' <<<"$s2"; ok $? "poold_workload_info{workload=\"replay\"}"
bad=$(grep '^poold_workload_replay_anomalies_total' <<<"$s2" | awk '$2 != 0' | wc -l)
[[ $bad -eq 0 ]]; ok $? "no replay anomaly in a complete trace"
[[ $(metric poold_workload_corruptions_total <<<"$s2") == 0 && $(metric poold_workload_alloc_failures_total <<<"$s2") == 0 ]]
ok $? "no corrupted block, no refused allocation"
big=$(metric 'poold_allocation_size_bytes_bucket{le="+Inf"}' <<<"$s2"); small=$(metric 'poold_allocation_size_bytes_bucket{le="512.0"}' <<<"$s2")
[[ $big -gt $small ]]; ok $? "the program's large buffers are replayed too (large requests seen)"
check_expositions "with the replay families"
curl -sf "$POOLD_URL/stats" | python3 -c '
import json, sys
r = json.load(sys.stdin)["workload"]["replay"]
assert r["active"] and r["comm"] == "python3" and r["trace_records"] == int(sys.argv[1]), r
assert r["loops"] >= 1 and r["records"] > 0 and sum(r["anomalies"].values()) == 0, r
' "$py_records"
ok $? "/stats has workload.replay (trace, program, records per pass, loops, anomalies)"
[[ $(curl -s "$POOLD_URL/healthz") == ok ]]; ok $? "healthy while replaying"
stop_poold; ok $? "SIGTERM: exit 0, every replayed block freed"

# ---- a multi-threaded program: its cross-thread frees cross workload threads ---------------
start_poold --workload=replay --workload.trace="$TMP/mt.trace" --workload.threads=2 --workload.rate=0 --workload.speed=0
sleep 1.5; s=$(scrape)
h=$(metric poold_workload_handoffs_total <<<"$s"); r=$(metric 'poold_operations_total{op="remote_free"}' <<<"$s")
[[ $h -gt 0 && $r -gt 0 ]]; ok $? "2 threads replaying trace_threads: blocks handed over ($h) and freed remotely ($r)"
[[ $(metric poold_workload_corruptions_total <<<"$s") == 0 ]]; ok $? "no corrupted block (aligned and realloc'd blocks checked)"
a=$(metric 'poold_operations_total{op="aligned"}' <<<"$s")
[[ $a -gt 0 ]]; ok $? "aligned allocations are replayed as aligned ones ($a)"
stop_poold

# ---- pacing: --workload.speed and --workload.rate ------------------------------------------------
dur_ms=$(awk '/^duration:/ { v = $2; if ($3 == "s") v *= 1000; if ($3 == "us") v /= 1000; print v }' "$TMP/py.sum")
start_poold --workload=replay --workload.trace="$TMP/py.trace" --workload.threads=1 --workload.rate=0 --workload.speed=0.05
sleep 2.5; s=$(scrape)
loops=$(metric poold_workload_replay_loops_total <<<"$s")
# one pass takes at least duration / speed
limit=$(awk -v d="$dur_ms" 'BEGIN { printf "%d", 2.6 / (d / 1000 / 0.05) + 1 }')
[[ $loops -le $limit ]]; ok $? "--workload.speed=0.05: passes of a ${dur_ms} ms trace take 20x as long ($loops in 2.5 s, at most $limit)"
[[ $(metric poold_workload_replay_speed <<<"$s") == 0.05 ]]; ok $? "poold_workload_replay_speed 0.05"
[[ $(curl -s "$POOLD_URL/healthz") == ok ]]; ok $? "healthy while waiting for the recorded times"
stop_poold
start_poold --workload=replay --workload.trace="$TMP/py.trace" --workload.threads=1 --workload.rate=2000 --workload.speed=0
sleep 0.5
t1=$(date +%s%N); s1=$(scrape); sleep 2; s2=$(scrape); t2=$(date +%s%N)
ops=0
for op in alloc free realloc; do
  ops=$((ops + $(metric "poold_workload_operations_total{op=\"$op\"}" <<<"$s2") - $(metric "poold_workload_operations_total{op=\"$op\"}" <<<"$s1")))
done
secs=$(awk -v a="$t1" -v b="$t2" 'BEGIN { print (b - a) / 1e9 }')
limit=$(awk -v s="$secs" 'BEGIN { printf "%d", 2000 * s * 1.2 + 300 }')
[[ $ops -gt 0 && $ops -le $limit ]]; ok $? "--workload.rate=2000 holds: $ops operations in ${secs}s (bound $limit)"
stop_poold

# ---- the cap --------------------------------------------------------------------------------------
start_poold --workload=replay --workload.trace="$TMP/py.trace" --workload.threads=1 --workload.rate=0 \
  --workload.speed=0 --workload.max-bytes=256KiB
worst=0
for i in $(seq 1 20); do
  v=$(scrape | metric poold_workload_live_bytes); [[ $v -gt $worst ]] && worst=$v; sleep 0.05
done
s=$(scrape)
[[ $worst -le 262144 ]]; ok $? "a 256 KiB cap holds under a 14 MB program (max seen $worst)"
f=$(metric poold_workload_alloc_failures_total <<<"$s"); tl=$(metric 'poold_workload_replay_anomalies_total{kind="too_large"}' <<<"$s")
[[ $f -gt 0 && $tl -gt 0 ]]; ok $? "refusals counted: $f by the cap, $tl requests above it as too_large"
[[ $(metric poold_workload_corruptions_total <<<"$s") == 0 && $(curl -s "$POOLD_URL/healthz") == ok ]]
ok $? "at the cap: no corruption, still healthy"
stop_poold

# ---- bad traces at start: exit 2, the file and the offset -----------------------------------------
run_bad() {
  local what=$1 want=$2; shift 2
  local out status
  out=$(timeout 10 "$POOLD" --config= --web.listen-address=127.0.0.1:0 "$@" 2>&1 </dev/null); status=$?
  [[ $status -eq 2 && $out == *"$want"* ]]; ok $? "$what: exit $status, \"$(head -1 <<<"$out")\""
}
$MK truncated-payload "$TMP/trunc.trace"; $MK header-only "$TMP/empty.trace"; $MK unknown-op "$TMP/op.trace"
head -c 100000 "$TMP/py.trace" >"$TMP/cut.trace"
run_bad "no --workload.trace" "--workload=replay needs --workload.trace" --workload=replay
run_bad "a missing trace" "--workload.trace: $TMP/nope.trace: No such file" --workload=replay --workload.trace="$TMP/nope.trace"
run_bad "a truncated chunk" "--workload.trace: $TMP/trunc.trace: offset 64: chunk payload truncated" --workload=replay --workload.trace="$TMP/trunc.trace"
run_bad "a real trace cut short" "--workload.trace: $TMP/cut.trace: offset " --workload=replay --workload.trace="$TMP/cut.trace"
run_bad "an unknown operation" "offset 96: unknown operation 0x77" --workload=replay --workload.trace="$TMP/op.trace"
run_bad "a trace without records" "the trace has no records" --workload=replay --workload.trace="$TMP/empty.trace"
run_bad "a directory" "not a regular file" --workload=replay --workload.trace="$TMP"
run_bad "a bad speed" "--workload.speed: invalid value \"fast\"" --workload=replay --workload.trace="$TMP/py.trace" --workload.speed=fast

# ---- reload ------------------------------------------------------------------------------------------
cp "$TMP/py.trace" "$TMP/live.trace"
printf 'workload = python\n' >"$TMP/r.conf"
start_poold --config="$TMP/r.conf"
printf 'workload = replay\nworkload.trace = %s\nworkload.threads = 1\nworkload.rate = 0\nworkload.speed = 0\n' "$TMP/live.trace" >"$TMP/r.conf"
kill -HUP "$POOLD_PID"
wait_for "scrape | grep -q 'poold_workload_info{workload=\"replay\"} 1'" 10
ok $? "SIGHUP switches from python to replay (config file)"
head -c 5000 "$TMP/py.trace" >"$TMP/bad.trace"
printf 'workload = replay\nworkload.trace = %s\nworkload.threads = 1\nworkload.rate = 0\nworkload.speed = 0\n' "$TMP/bad.trace" >"$TMP/r.conf"
kill -HUP "$POOLD_PID"
wait_for "grep -q 'reload failed' '$POOLD_LOG'" 10
grep 'reload failed' "$POOLD_LOG" | grep -qF "$TMP/bad.trace: offset "
ok $? "a reload with a corrupted trace is refused, naming the file and offset"
r1=$(scrape | metric poold_workload_replay_records_total); sleep 0.5; s=$(scrape); r2=$(metric poold_workload_replay_records_total <<<"$s")
[[ $r2 -gt $r1 && $(metric poold_config_last_reload_successful <<<"$s") == 0 ]]
ok $? "the running replay goes on ($r1 -> $r2 records), poold_config_last_reload_successful 0"
cp "$TMP/mt.trace" "$TMP/new.trace" && mv "$TMP/new.trace" "$TMP/live.trace"
printf 'workload = replay\nworkload.trace = %s\nworkload.threads = 1\nworkload.rate = 0\nworkload.speed = 0\n' "$TMP/live.trace" >"$TMP/r.conf"
st1=$(metric poold_workload_starts_total <<<"$s")
kill -HUP "$POOLD_PID"
wait_for "scrape | grep -q 'comm=\"trace_threads\"'" 10
ok $? "a reload reads the trace again (re-recorded under the same name: now trace_threads)"
s=$(scrape)
[[ $(metric poold_workload_starts_total <<<"$s") -gt $st1 && $(metric poold_config_last_reload_successful <<<"$s") == 1 ]]
ok $? "... and restarts the replay (poold_workload_starts_total grows, reload successful)"
printf 'workload = steady\n' >"$TMP/r.conf"
kill -HUP "$POOLD_PID"
wait_for "scrape | grep -q 'poold_workload_info{workload=\"steady\"} 1'" 10
s=$(scrape)
! grep -q '^poold_workload_replay_info' <<<"$s" && [[ $(metric poold_workload_replay_trace_records <<<"$s") == 0 ]]
ok $? "back to steady: no replay_info, trace_records 0 (loops and records stay as counters)"
stop_poold; ok $? "SIGTERM after the reloads: exit 0"
done_testing
