#!/usr/bin/env bash
# observe-attach: poold --collector.processes. Python processes on the shim
# publish their allocator statistics (POOLMALLOC_EXPORT, a private
# directory); poold exports them labelled pid and comm, they move between
# scrapes, a comm with quotes and backslashes is escaped, an exec removes
# the segment, a killed or exiting process disappears, the maximum holds
# (and says who was dropped); hostile segments (random bytes, wrong size,
# wrong magic or version, inconsistent figures, a segment being written, a
# symlink, a fifo, a directory, a huge file, a file for a pid that does not
# exist or another user's, stale ones, bad names) are skipped and counted
# by reason, never a crash, and the exposition stays valid.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh
source tests/observe/lib.sh
MKSEG="python3 tests/observe/mksegment.py"
D=$TMP/shm
mkdir -p "$D"

require_shim "attaching to processes on the shim"
if [[ ! -x /usr/bin/python3 ]]; then
  skip "attaching to processes on the shim" "no /usr/bin/python3"; done_testing; exit
fi

# Processes on the shim exporting every 200 ms into $D.
# (exec: "on_shim prog &" must leave $! the program's own pid)
on_shim() {
  PYTHONMALLOC=malloc POOLMALLOC_EXPORT=$D POOLMALLOC_EXPORT_INTERVAL=200 LD_PRELOAD=$SHIM exec "$@"
}
cat >"$TMP/grow.py" <<'PY'
import time
x = []
while True:
    if len(x) < 80:
        x.append([str(j) * 3 for j in range(3000)])
    time.sleep(0.1)
PY
cat >"$TMP/named.py" <<'PY'
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))   # a clean exit: atexit, destructors
with open("/proc/self/comm", "w") as f:
    f.write('q"b\\s')
time.sleep(600)
PY
cat >"$TMP/execs.py" <<'PY'
import os, time
time.sleep(1)
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
os.execve("/bin/sleep", ["sleep", "60"], env)
PY
on_shim /usr/bin/python3 "$TMP/grow.py" & P1=$!
POOLMALLOC_EXPORT_MODE=0644 on_shim /usr/bin/python3 "$TMP/named.py" & P2=$!
TEST_PIDS+=("$P1" "$P2")
wait_for "[[ -e $D/poolmalloc.$P1 && -e $D/poolmalloc.$P2 ]]" 10
ok $? "two python3 processes on the shim publish $D/poolmalloc.<pid>"
[[ $(stat -c %a "$D/poolmalloc.$P1") == 600 && $(stat -c %a "$D/poolmalloc.$P2") == 644 ]]
ok $? "segments are owner-only by default (0600), POOLMALLOC_EXPORT_MODE=0644 widens it"

start_poold --workload=idle
! scrape | grep -q '^poold_process'; ok $? "without --collector.processes: no process families"
stop_poold
start_poold --workload=idle --collector.processes --collector.processes.dir="$D" --collector.processes.max=8
ok $? "poold starts with --collector.processes" || { done_testing; exit 1; }

# ---- the processes, labelled pid and comm ----------------------------------------------
s=$(scrape)
[[ $(metric poold_processes <<<"$s") == 2 ]]; ok $? "poold_processes 2"
grep -qF "poold_process_info{pid=\"$P1\",comm=\"python3\"} 1" <<<"$s"; ok $? "poold_process_info{pid=\"$P1\",comm=\"python3\"} 1"
grep -qF "poold_process_info{pid=\"$P2\",comm=\"q\\\"b\\\\s\"} 1" <<<"$s"
ok $? "a comm with a quote and a backslash is escaped in the label (q\\\"b\\\\s)"
n=$(grep -c "^poold_process_size_class_blocks{pid=\"$P1\",comm=\"python3\",size=\"[0-9]*\",state=\"\(allocated\|free\)\"} " <<<"$s")
[[ $n -eq 136 ]]; ok $? "poold_process_size_class_blocks: 68 classes x 2 states for the process ($n)"
for fam in poold_process_arenas poold_process_fragmentation_ratio poold_process_large_bytes \
           poold_process_last_update_timestamp_seconds; do
  grep -q "^$fam{pid=\"$P1\",comm=\"python3\"} " <<<"$s"; ok $? "$fam for the process"
done
for op in malloc free calloc realloc; do
  grep -q "^poold_process_operations_total{pid=\"$P1\",comm=\"python3\",op=\"$op\"} " <<<"$s"
  ok $? "poold_process_operations_total{op=\"$op\"}"
done
bad=$(awk -v p="$P1" '
  $1 ~ "^poold_process_arena_bytes\\{pid=\"" p "\"" { sum += $2 }
  $1 ~ "^poold_process_arenas\\{pid=\"" p "\"" { arenas = $2 }
  END { if (sum != arenas * 1048576 || arenas == 0) print sum " != " arenas " MiB" }' <<<"$s")
[[ -z $bad ]]; ok $? "the process's byte breakdown sums to its arenas x 1 MiB ${bad:+($bad)}"
check_expositions "with two processes (escaped comm included)"
curl -sf "$POOLD_URL/stats" | python3 -c '
import json, sys
j = json.load(sys.stdin)
procs = {p["pid"]: p for p in j["processes"]}
p1, p2 = int(sys.argv[1]), int(sys.argv[2])
assert procs[p1]["comm"] == "python3" and procs[p2]["comm"] == "q\"b\\s", procs
a = procs[p1]["allocator"]
assert a["arenas"]["current"] > 0 and a["operations"]["malloc"] > 0 and len(a["size_classes"]) == 68
assert j["process_collector"]["enabled"] and j["process_collector"]["processes"] == 2
' "$P1" "$P2"
ok $? "/stats: a processes array (pid, comm, the allocator figures) and process_collector"

# ---- the numbers move -------------------------------------------------------------------
key="poold_process_arena_bytes{pid=\"$P1\",comm=\"python3\",kind=\"allocated\"}"
a1=$(metric "$key" <<<"$s"); m1=$(metric "poold_process_operations_total{pid=\"$P1\",comm=\"python3\",op=\"malloc\"}" <<<"$s")
wait_for "[[ \$(scrape | metric '$key') -gt $a1 ]]" 5
a2=$(scrape | metric "$key"); m2=$(scrape | metric "poold_process_operations_total{pid=\"$P1\",comm=\"python3\",op=\"malloc\"}")
[[ $a2 -gt $a1 && $m2 -gt $m1 ]]; ok $? "as the process grows its heap, its allocated bytes ($a1 -> $a2) and mallocs ($m1 -> $m2) move"

# ---- exec removes the segment --------------------------------------------------------------
on_shim /usr/bin/python3 "$TMP/execs.py" & P3=$!
TEST_PIDS+=("$P3")
wait_for "scrape | grep -q 'poold_process_info{pid=\"$P3\"'" 5
ok $? "a third process appears"
wait_for "[[ \$(cat /proc/$P3/comm 2>/dev/null) == sleep ]]" 5
wait_for "[[ ! -e $D/poolmalloc.$P3 ]]" 3
ok $? "it execs /bin/sleep off the shim: its segment is gone before the exec"
! scrape | grep -q "pid=\"$P3\""; ok $? "... and so are its series (the pid lives on as sleep)"

# ---- processes that end ------------------------------------------------------------------------
k1=$(scrape | metric 'poold_process_segments_skipped_total{reason="exited"}')
kill -9 "$P1"; wait "$P1" 2>/dev/null
s=$(scrape)
! grep -q "pid=\"$P1\"" <<<"$s" && [[ $(metric poold_processes <<<"$s") == 1 ]]
ok $? "kill -9: the process's series are gone at the next scrape (poold_processes 1)"
[[ -e $D/poolmalloc.$P1 && $(metric 'poold_process_segments_skipped_total{reason="exited"}' <<<"$s") -gt $k1 ]]
ok $? "... its segment stays behind, skipped as exited"
kill -TERM "$P2"; wait "$P2" 2>/dev/null
[[ ! -e $D/poolmalloc.$P2 ]]; ok $? "a process that exits removes its segment"
s=$(scrape)
[[ $(metric poold_processes <<<"$s") == 0 ]] && ! grep -q '^poold_process_info' <<<"$s"
ok $? "no process left: poold_processes 0, no per-process series"

# ---- hostile segments ----------------------------------------------------------------------------
on_shim /usr/bin/python3 "$TMP/grow.py" & P4=$!
TEST_PIDS+=("$P4")
wait_for "[[ -e $D/poolmalloc.$P4 ]]" 5
cp "$D/poolmalloc.$P4" "$TMP/template"
sleep 60 & S=$!; TEST_PIDS+=("$S")
/bin/true & DEAD=$!; wait "$DEAD"
before=$(scrape)
head -c 2504 /dev/urandom >"$D/poolmalloc.999901"
head -c 100 "$TMP/template" >"$D/poolmalloc.999902"
$MKSEG "$TMP/template" "$D/poolmalloc.999903" magic=XXXXXXXX
$MKSEG "$TMP/template" "$D/poolmalloc.999904" version=9
$MKSEG "$TMP/template" "$D/poolmalloc.999905" pid="$S"
$MKSEG "$TMP/template" "$D/poolmalloc.999906" pid=999906 arena_size=4096
$MKSEG "$TMP/template" "$D/poolmalloc.999907" pid=999907 seq=7
$MKSEG "$TMP/template" "$D/poolmalloc.999908" pid=999908 updates=0
ln -s "$D/poolmalloc.$P4" "$D/poolmalloc.999909"
mkfifo "$D/poolmalloc.999910"
mkdir "$D/poolmalloc.999911"
truncate -s 1G "$D/poolmalloc.999912"
$MKSEG "$TMP/template" "$D/poolmalloc.$DEAD" pid="$DEAD" start=now updated=now
$MKSEG "$TMP/template" "$D/poolmalloc.$S" pid="$S" start=now-120 updated=now-60
: >"$D/poolmalloc.abc"; : >"$D/poolmalloc.0012"
reasons="magic size version pid inconsistent unstable not_ready not_regular exited stale bad_name"
if [[ $(id -u) -eq 0 ]] && id nobody >/dev/null 2>&1; then
  sleep 60 & S2=$!; TEST_PIDS+=("$S2")
  $MKSEG "$TMP/template" "$D/poolmalloc.$S2" pid="$S2" start=now+1 updated=now+1
  chown nobody "$D/poolmalloc.$S2"
  reasons+=" owner"
fi
s=$(timeout 20 curl -sf --max-time 15 "$POOLD_URL/metrics"); rc=$?
[[ $rc -eq 0 ]]; ok $? "a scrape with hostile segments in the directory answers (fifo, 1 GiB file, symlink...)"
for r in $reasons; do
  a=$(metric "poold_process_segments_skipped_total{reason=\"$r\"}" <<<"$before")
  b=$(metric "poold_process_segments_skipped_total{reason=\"$r\"}" <<<"$s")
  [[ $b -gt $a ]]; ok $? "skipped and counted: $r ($a -> $b)"
done
[[ $(metric poold_processes <<<"$s") == 1 ]] && grep -q "^poold_process_info{pid=\"$P4\",comm=\"python3\"} 1" <<<"$s"
ok $? "only the real process is exported among them"
out=$(promtool check metrics <<<"$s" 2>&1); ok $([[ $? -eq 0 && -z $out ]]; echo $?) "promtool check metrics: still clean"
kill -0 "$POOLD_PID"; ok $? "poold is still running"
for i in $(seq 1 20); do cp "$TMP/template" "$D/poolmalloc.$P4.x" 2>/dev/null; head -c $((RANDOM % 3000)) /dev/urandom >"$D/poolmalloc.99999$((i % 9))"; scrape >/dev/null || break; done
ok $? "20 scrapes while segments are rewritten with random bytes of random sizes"

# ---- the maximum -------------------------------------------------------------------------------------
# Everything but the real process's segment (whose pid may start with 9 too).
for f in "$D"/poolmalloc.*; do [[ $f == "$D/poolmalloc.$P4" ]] || rm -rf "$f"; done
on_shim /usr/bin/python3 "$TMP/grow.py" & P5=$!
TEST_PIDS+=("$P5")
wait_for "[[ -e $D/poolmalloc.$P5 ]]" 5
printf 'workload = idle\ncollector.processes = true\ncollector.processes.dir = %s\ncollector.processes.max = 1\n' "$D" >"$TMP/c.conf"
stop_poold
start_poold --config="$TMP/c.conf"
s=$(scrape)
[[ $(metric poold_processes <<<"$s") == 1 && $(metric poold_processes_dropped <<<"$s") == 1 ]]
ok $? "collector.processes.max = 1 (config file) with two processes: 1 exported, 1 dropped"
[[ $(metric 'poold_process_segments_skipped_total{reason="over_max"}' <<<"$s") -ge 1 ]]; ok $? "the drop is counted (over_max)"
kept=$(sed -n 's/^poold_process_info{pid="\([0-9]*\)".*/\1/p' <<<"$s")
dropped=$P4; [[ $kept == "$P4" ]] && dropped=$P5
grep 'more processes than --collector.processes.max' "$POOLD_LOG" | grep -q "pids=\"\?$dropped"
ok $? "a log line names the dropped process ($dropped)"
for i in 1 2 3; do [[ $(scrape | sed -n 's/^poold_process_info{pid="\([0-9]*\)".*/\1/p') == "$kept" ]] || break; done
ok $? "the same process stays exported scrape after scrape ($kept)"
sed -i 's/max = 1/max = 4/' "$TMP/c.conf"
kill -HUP "$POOLD_PID"
wait_for "[[ \$(scrape | metric poold_processes) == 2 ]]" 5
ok $? "a reload raises the maximum: both exported"
printf 'workload = idle\ncollector.processes = true\ncollector.processes.dir = %s\n' "$TMP/nowhere" >"$TMP/c.conf"
kill -HUP "$POOLD_PID"
wait_for "scrape >/dev/null; grep -q 'process collector: cannot read the directory' '$POOLD_LOG'" 5
ok $? "a directory that does not exist: logged"
[[ $(scrape | metric poold_processes) == 0 ]]; ok $? "... and poold_processes 0"
stop_poold; ok $? "SIGTERM: exit 0"
done_testing
