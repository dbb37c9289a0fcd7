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
grep -qF "poold_process_info{pid=\"$P1\",comm=\"python3\",allocator=\"poolalloc\"} 1" <<<"$s"; ok $? "poold_process_info{pid=\"$P1\",comm=\"python3\",allocator=\"poolalloc\"} 1"
grep -qF "poold_process_info{pid=\"$P2\",comm=\"q\\\"b\\\\s\",allocator=\"poolalloc\"} 1" <<<"$s"
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
# pymalloc's threshold, so the template can also stand for a CPython pymalloc segment (pymalloc=1)
POOLMALLOC_THRESHOLD=512 on_shim /usr/bin/python3 "$TMP/grow.py" & P4=$!
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
[[ $(metric poold_processes <<<"$s") == 1 ]] && grep -q "^poold_process_info{pid=\"$P4\",comm=\"python3\",allocator=\"poolalloc\"} 1" <<<"$s"
ok $? "only the real process is exported among them"
out=$(promtool check metrics <<<"$s" 2>&1); ok $([[ $? -eq 0 && -z $out ]]; echo $?) "promtool check metrics: still clean"
kill -0 "$POOLD_PID"; ok $? "poold is still running"
for i in $(seq 1 20); do cp "$TMP/template" "$D/poolmalloc.$P4.x" 2>/dev/null; head -c $((RANDOM % 3000)) /dev/urandom >"$D/poolmalloc.99999$((i % 9))"; scrape >/dev/null || break; done
ok $? "20 scrapes while segments are rewritten with random bytes of random sizes"

# Version 2's own, one at a time, each with the reason it must be counted under: the
# file's size against its capacity, the map against the stats and against itself.
cap=$(python3 -c 'import struct,sys; print(struct.unpack_from("<I", open(sys.argv[1],"rb").read(), 132)[0])' "$TMP/template")
while read -r want what args; do
  f=$D/poolmalloc.999930
  # shellcheck disable=SC2086
  $MKSEG "$TMP/template" "$f" pid=999930 $args
  a=$(scrape | metric "poold_process_segments_skipped_total{reason=\"$want\"}")
  b=$(scrape | metric "poold_process_segments_skipped_total{reason=\"$want\"}")
  rm -f "$f"
  [[ $b -gt $a ]]; ok $? "version 2, ${what//_/ }: skipped as $want"
done <<EOF
size      file_shorter_than_its_capacity      truncate=$((5432 + 400))
map       more_records_than_room              records=$((cap + 1))
map       map_of_more_arenas_than_the_stats   map_total=999
map       a_pool_state_out_of_range           pool=0:3:9
map       a_pool_with_more_used_than_blocks   pool=0:1:1:65535
map       pool_0_not_the_header               pool=0:0:2
version   an_unknown_allocator                allocator=7
version   another_record_size                 record_size=399
version   a_reserved_field_set                reserved=1
inconsistent poolalloc_without_its_groups     has=0x20
EOF

# Version 1 (an older shim; the committed seed) and a pymalloc segment are read too. Their
# interval is long, so they stay fresh through the checks below on a loaded machine.
sleep 60 & S3=$!; sleep 60 & S4=$!; TEST_PIDS+=("$S3" "$S4")
$MKSEG tests/fuzz/corpus/segment/python3 "$D/poolmalloc.$S3" pid="$S3" start=now updated=now interval=60000
$MKSEG "$TMP/template" "$D/poolmalloc.$S4" pid="$S4" start=now updated=now interval=60000 pymalloc=1
s=$(scrape)
grep -q "^poold_process_info{pid=\"$S3\",comm=\"python3\",allocator=\"poolalloc\"} 1" <<<"$s"
ok $? "a version 1 segment is still exported (allocator poolalloc)"
grep -q "^poold_process_info{pid=\"$S4\",comm=\"python3\",allocator=\"pymalloc\"} 1" <<<"$s"
ok $? "a pymalloc segment is exported, labelled allocator=pymalloc"
grep -q "^poold_process_arenas{pid=\"$S4\"" <<<"$s" && ! grep -q "^poold_process_operations_total{pid=\"$S4\"" <<<"$s" &&
  ! grep -q "^poold_process_large_bytes{pid=\"$S4\"" <<<"$s" && grep -q "^poold_process_operations_total{pid=\"$P4\"" <<<"$s"
ok $? "... with no operation or large-block samples (pymalloc keeps none), while poolalloc's have them"
# pymalloc's map lacks the arenas CPython made before its publisher loaded: a partial map is fine
sleep 60 & S5=$!; TEST_PIDS+=("$S5")
recs=$(python3 -c 'import struct,sys; print(struct.unpack_from("<I", open(sys.argv[1],"rb").read(), 136)[0])' "$TMP/template")
$MKSEG "$TMP/template" "$D/poolmalloc.$S5" pid="$S5" start=now updated=now interval=60000 pymalloc=1 records=$((recs - 1))
$MKSEG "$TMP/template" "$D/poolmalloc.999931" pid=999931 records=$((recs - 1))
a=$(scrape | metric 'poold_process_segments_skipped_total{reason="map"}')
s2=$(scrape)
grep -q "^poold_process_info{pid=\"$S5\",comm=\"python3\",allocator=\"pymalloc\"} 1" <<<"$s2" &&
  [[ $(metric 'poold_process_segments_skipped_total{reason="map"}' <<<"$s2") -gt $a ]]
ok $? "a pymalloc map of fewer arenas than its stats is exported; the shim's is refused as map"
rm -f "$D/poolmalloc.$S5" "$D/poolmalloc.999931"
curl -sf "$POOLD_URL/stats" >"$TMP/stats.json"
python3 - "$S3" "$S4" "$P4" "$TMP/stats.json" <<'PY'
import json, sys
v1, py, v2 = (int(x) for x in sys.argv[1:4])
procs = {p["pid"]: p for p in json.load(open(sys.argv[4]))["processes"]}
assert procs[v1]["segment_version"] == 1 and "map_arenas" not in procs[v1], procs[v1]
assert procs[py]["allocator_name"] == "pymalloc" and procs[py]["allocator_version"] == "3.11.2"
assert "operations" not in procs[py]["allocator"] and "large" not in procs[py]["allocator"]
assert "allocations" not in procs[py]["allocator"]["size_classes"][0]
assert procs[v2]["segment_version"] == 2
assert procs[v2]["map_arenas"] == procs[v2]["allocator"]["arenas"]["current"]
assert "operations" in procs[v2]["allocator"]
PY
ok $? "/stats: segment versions, allocator names, groups left out for pymalloc, the map's arenas"
rm -f "$D/poolmalloc.$S3" "$D/poolmalloc.$S4"

# A process outgrowing its segment's room for the map gets a larger file (renamed over the old).
cat >"$TMP/big.py" <<'PY'
import time
x = [str(i) * 4 for i in range(2500000)]   # ~130 arenas of small strings
time.sleep(60)
PY
on_shim /usr/bin/python3 "$TMP/big.py" & P6=$!
TEST_PIDS+=("$P6")
# One read of the file gives arenas, room, records and size together; the
# program is still growing, so wait for a moment the map is complete.
seg_shape() {
  python3 - "$1" <<'PY'
import os, struct, sys
try:
    d = open(sys.argv[1], "rb").read()
    seq, tot = struct.unpack_from("<Q", d, 56)[0], struct.unpack_from("<Q", d, 144)[0]
    cap, rec = struct.unpack_from("<II", d, 132)
except (OSError, struct.error):
    sys.exit(1)
print(tot, cap, rec, len(d), seq % 2)
PY
}
big_ok() {
  read -r tot cap rec size odd < <(seg_shape "$D/poolmalloc.$P6") || return 1
  (( odd == 0 && tot > 100 && cap > 64 && rec == tot && size == 5432 + cap * 400 ))
}
wait_for big_ok 20
read -r tot cap rec size odd < <(seg_shape "$D/poolmalloc.$P6")
big_ok
ok $? "a process with $tot arenas: its segment grew to room for $cap records ($size bytes), the map complete"
s=$(scrape)
[[ $(metric "poold_process_arenas{pid=\"$P6\",comm=\"python3\"}" <<<"$s") -gt 100 ]]
ok $? "... and it is exported"
kill "$P6"

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
