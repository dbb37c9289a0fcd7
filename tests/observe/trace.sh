#!/usr/bin/env bash
# observe-trace: recording allocation traces of real programs with the
# shim (POOLMALLOCTRACE) and reading them with build/pooltrace: python3,
# sort, a multi-threaded program with cross-thread frees and thread churn,
# a forking program (exit, _exit, exec, grandchild); every trace is
# well-formed and complete, and replaying it through the pool allocator
# gives the same operation counts and peak live bytes as its summary.
# Then pooltrace itself: usage, and broken or hostile traces (truncated,
# corrupt, huge claims) reported with the file and byte offset.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/observe/lib.sh

require_shim "tracing real programs"

# summary and replay of one trace agree; the replay held what the summary says
# and left nothing behind.  compare NAME TRACE
compare() {
  local name=$1 t=$2
  "$POOLTRACE" summary "$t" >"$TMP/$name.sum" 2>&1; ok $? "$name: pooltrace summary reads the trace"
  "$POOLTRACE" replay "$t" >"$TMP/$name.rep" 2>&1; ok $? "$name: pooltrace replay runs it through the pool allocator"
  same_counts "$TMP/$name.sum" "$TMP/$name.rep"
  ok $? "$name: replay's operation counts and peak live bytes are the summary's ($(field "$TMP/$name.sum" 'peak live bytes'))" ||
    diff <(shared_lines "$TMP/$name.sum") <(shared_lines "$TMP/$name.rep") | sed 's/^/#   /'
  local peak held
  peak=$(field "$TMP/$name.sum" 'peak live bytes' | cut -d' ' -f1)
  held=$(sed -n 's/^replay held: peak \([0-9]*\) bytes.*/\1/p' "$TMP/$name.rep")
  [[ -n $peak && $peak == "$held" ]]; ok $? "$name: the replay itself held $held bytes at its peak (summary: $peak)"
  grep -q '^replay blocks: .* 0 refused, 0 corrupted$' "$TMP/$name.rep"
  ok $? "$name: no block refused or corrupted ($(field "$TMP/$name.rep" 'replay blocks'))"
  grep -q '^allocator blocks still allocated after the replay: 0 small, 0 large$' "$TMP/$name.rep"
  ok $? "$name: the replay freed everything it made"
  grep -q '^anomalies: free_unknown 0 realloc_unknown 0 address_live 0 too_large 0 too_many_live 0$' "$TMP/$name.sum"
  ok $? "$name: no anomaly: every free is of a block the trace allocated"
}

# ---- python3 ------------------------------------------------------------------
cat >"$TMP/grow.py" <<'PY'
import threading
d = {}
def work(n):
    l = []
    for i in range(n):
        l.append(("x" * (i % 300), i, [i] * (i % 7)))
        if i % 3 == 0:
            d[i] = str(i) * 5
    return len(l)
ts = [threading.Thread(target=work, args=(20000,)) for _ in range(3)]
for t in ts: t.start()
for t in ts: t.join()
print(work(30000), len(d))
PY
if [[ -x /usr/bin/python3 ]]; then
  out=$(PYTHONMALLOC=malloc POOLMALLOCTRACE=$TMP/py.trace LD_PRELOAD=$SHIM /usr/bin/python3 "$TMP/grow.py")
  ok $? "python3: runs traced ($out)"
  check "python3: pooltrace check --strict" "$POOLTRACE" check --strict "$TMP/py.trace"
  compare python3 "$TMP/py.trace"
  threads=$(sed -n 's/.* \([0-9]*\) threads,.*/\1/p' "$TMP/python3.sum")
  [[ $threads -ge 4 ]]; ok $? "python3: the trace has the main thread and the 3 workers ($threads threads)"
  calls=$(sed -n 's/^operations: malloc \([0-9]*\) .*/\1/p' "$TMP/python3.sum")
  [[ $calls -gt 100000 ]]; ok $? "python3: every malloc is there ($calls)"
else
  skip "python3" "/usr/bin/python3 is not installed"
fi

# ---- sort ------------------------------------------------------------------------
awk 'BEGIN { s = 12345; for (i = 0; i < 300000; i++) {
        s = (s * 1103515245 + 12345) % 2147483648; printf "%08x %d\n", s, i } }' >"$TMP/input.txt"
# -S: without it sort sizes its buffer from the free memory (up to hundreds of MB)
sort -S 64M --parallel=2 "$TMP/input.txt" | md5sum >"$TMP/sort.plain"
POOLMALLOCTRACE=$TMP/sort.trace LD_PRELOAD=$SHIM sort -S 64M --parallel=2 "$TMP/input.txt" | md5sum >"$TMP/sort.traced"
cmp -s "$TMP/sort.plain" "$TMP/sort.traced"; ok $? "sort -S 64M --parallel=2: same output traced"
check "sort: pooltrace check --strict" "$POOLTRACE" check --strict "$TMP/sort.trace"
compare sort "$TMP/sort.trace"

# ---- a multi-threaded program: cross-thread frees, thread churn -------------------
out=$(POOLMALLOCTRACE=$TMP/mt.trace LD_PRELOAD=$SHIM "$OBS/trace_threads" 4 20000 5)
ok $? "trace_threads: runs traced ($out)"
check "trace_threads: pooltrace check --strict" "$POOLTRACE" check --strict "$TMP/mt.trace"
compare threads "$TMP/mt.trace"
read -r _ made _ _ <<<"$out"
traced=$(sed -n 's/^operations: .* aligned \([0-9]*\)$/\1/p' "$TMP/threads.sum")
[[ $made == "$traced" ]]; ok $? "trace_threads: the trace has every aligned allocation the program made ($traced of $made)"
threads=$(sed -n 's/.* \([0-9]*\) threads,.*/\1/p' "$TMP/threads.sum")
[[ $threads -eq 21 ]]; ok $? "trace_threads: 20 workers in 5 generations and main: 21 threads ($threads)"
cross=$(field "$TMP/threads.sum" 'cross-thread frees')
[[ $cross -gt 1000 ]]; ok $? "trace_threads: cross-thread frees are in it ($cross)"
# thread churn: a thread's buffer is reused, never leaked, even when glibc frees after its exit handler
# (one glibc arena: a new 64 MiB arena for a thread's large blocks would hide the figure)
read -r _ _ _ vm_few < <(MALLOC_ARENA_MAX=1 POOLMALLOCTRACE=$TMP/few.trace LD_PRELOAD=$SHIM "$OBS/trace_threads" 2 50 2)
read -r _ _ _ vm_many < <(MALLOC_ARENA_MAX=1 POOLMALLOCTRACE=$TMP/churn.trace LD_PRELOAD=$SHIM "$OBS/trace_threads" 2 50 400)
[[ $vm_few -gt 0 && $((vm_many - vm_few)) -lt 8192 ]]
ok $? "800 short-lived threads traced: no buffer kept per dead thread (VmSize $vm_few KB after 4 threads, $vm_many KB after 800)"
check "800 short-lived threads: pooltrace check --strict" "$POOLTRACE" check --strict "$TMP/churn.trace"
threads=$("$POOLTRACE" summary "$TMP/churn.trace" | sed -n '1s/.* \([0-9]*\) threads,.*/\1/p')
[[ $threads -ge 801 ]]; ok $? "800 short-lived threads: all of them in the trace ($threads; the reader has no thread limit)"

# ---- a forking program ---------------------------------------------------------------
mkdir "$TMP/fork"
POOLMALLOCTRACE="$TMP/fork/t.%p" LD_PRELOAD=$SHIM "$OBS/trace_fork" >"$TMP/fork.out"
ok $? "trace_fork: parent and children exit 0"
n=$(ls "$TMP/fork" | wc -l)
[[ $n -eq 7 ]]; ok $? "trace_fork: one trace per process image: parent, 4 children, a grandchild, an exec'd image ($n files)"
bad=0
while read -r pid role aligned; do
  f=$TMP/fork/t.$pid
  [[ $role == exec ]] && f=$TMP/fork/t.$pid.$pid   # the exec'd image: t.PID exists, so t.PID.PID
  if ! "$POOLTRACE" check --strict "$f" >/dev/null 2>&1; then bad=$((bad + 1)); diag "$role: $f is not well-formed"; continue; fi
  got=$("$POOLTRACE" summary "$f" | sed -n 's/^operations: .* aligned \([0-9]*\)$/\1/p')
  [[ $got == "$aligned" ]] || { bad=$((bad + 1)); diag "$role ($f): $got aligned allocations traced, $aligned made"; }
done <"$TMP/fork.out"
[[ $bad -eq 0 && $(wc -l <"$TMP/fork.out") -eq 7 ]]
ok $? "trace_fork: every trace is well-formed (--strict) and holds exactly its process's aligned allocations"

# ---- file naming ----------------------------------------------------------------------
: >"$TMP/exists.trace"
POOLMALLOCTRACE=$TMP/exists.trace LD_PRELOAD=$SHIM /bin/true 2>"$TMP/exists.err"
pid_file=$(ls "$TMP"/exists.trace.* 2>/dev/null | head -1)
[[ -s $TMP/exists.trace ]]; ok $((! $?)) "an existing FILE is never overwritten"
[[ -n $pid_file ]] && grep -q "exists; tracing to $pid_file" "$TMP/exists.err"
ok $? "... the trace goes to FILE.<pid>, and a note says so"

# ---- pooltrace: usage --------------------------------------------------------------------
"$POOLTRACE" --help | grep -q '^usage: pooltrace summary'; ok $? "pooltrace --help"
"$POOLTRACE" --version | grep -q '^pooltrace (poolalloc '; ok $? "pooltrace --version"
for args in "" "replay" "replay a b" "bogus x" "summary --speed=abc x" "check --nope x"; do
  "$POOLTRACE" $args >/dev/null 2>&1; [[ $? -eq 2 ]]; ok $? "pooltrace $args: exit status 2 (usage)"
done

# ---- broken and hostile traces: the file and the offset, never a crash --------------------
$MK small "$TMP/small.trace"
"$POOLTRACE" summary "$TMP/small.trace" >"$TMP/small.sum"
grep -q '^operations: malloc 2 calloc 1 realloc 1 free 2 aligned 1$' "$TMP/small.sum" &&
  grep -q '^peak live bytes: 1348 in 4 blocks' "$TMP/small.sum" &&
  grep -q '^cross-thread frees: 1$' "$TMP/small.sum"
ok $? "a hand-made trace: counts, peak (1348 bytes) and the cross-thread free are right"
$MK small-v2 "$TMP/small2.trace"
"$POOLTRACE" summary "$TMP/small2.trace" >"$TMP/small2.sum"
diff <(grep -v '^clock:' "$TMP/small.sum" | tail -n +2) <(grep -v '^clock:' "$TMP/small2.sum" | tail -n +2) >/dev/null &&
  grep -q '^clock: TSC ticks of 0.3333 ns' "$TMP/small2.sum"
ok $? "the same trace in version 2, with 3 ticks per ns: the same summary, times mapped to ns through the clock pairs"
grep -q '^clock: ' "$TMP/py.sum" 2>/dev/null || grep -q '^clock: ' "$TMP/python3.sum"
ok $? "a real trace says what its clock is ($(field "$TMP/python3.sum" clock))"
declare -A want=(
  [empty-file]="offset 0: file too short" [not-a-trace]="offset 0: not a poolalloc trace"
  [bad-version]="offset 8: unsupported trace version 9" [truncated-header]="offset 0: file too short"
  [truncated-chunk-header]="offset 64: truncated chunk header" [truncated-payload]="offset 64: chunk payload truncated"
  [bad-chunk-magic]="offset 64: bad chunk magic" [second-chunk-bad]="offset 104: bad chunk magic"
  [payload-claim]="offset 64: implausible chunk" [zero-records]="offset 64: implausible chunk"
  [records-claim]="offset 64: implausible chunk" [extra-bytes]="offset 101: chunk has bytes after its last record"
  [unknown-op]="offset 96: unknown operation 0x77" [long-varint]="offset 96: malformed malloc record"
  [varint-overflow]="offset 96: malformed malloc record"
)
for k in "${!want[@]}"; do
  $MK "$k" "$TMP/$k.trace"
  for cmd in check summary replay; do
    "$POOLTRACE" $cmd "$TMP/$k.trace" >/dev/null 2>"$TMP/err"; rc=$?
    grep -qF "pooltrace: $TMP/$k.trace: ${want[$k]}" "$TMP/err" && [[ $rc -eq 1 ]]
    ok $? "$k: pooltrace $cmd: exit 1, \"$(head -c 120 "$TMP/err")\""
  done
done
# a real trace cut short at many offsets: an error with an offset, or a shorter valid trace; never a crash
size=$(stat -c %s "$TMP/mt.trace"); crashes=0
for cut in 1 10 63 64 65 95 96 97 200 1000 5000 $((size / 3)) $((size / 2)) $((size - 7)) $((size - 1)); do
  head -c "$cut" "$TMP/mt.trace" >"$TMP/cut.trace"
  "$POOLTRACE" replay "$TMP/cut.trace" >/dev/null 2>"$TMP/err"; rc=$?
  if [[ $rc -gt 1 ]] || { [[ $rc -eq 1 ]] && ! grep -qE "cut.trace: offset [0-9]+: " "$TMP/err"; }; then
    crashes=$((crashes + 1)); diag "cut at $cut: exit $rc: $(head -c 200 "$TMP/err")"
  fi
done
ok $crashes "a real trace cut at 15 offsets: every replay ends with exit 1 and 'FILE: offset N: ...' (or succeeds)"
# random bytes written over a real trace
python3 - "$TMP/mt.trace" "$TMP" <<'PY'
import random, sys
data = bytearray(open(sys.argv[1], "rb").read())
rnd = random.Random(7)
for i in range(20):
    d = bytearray(data[:200000])
    for _ in range(1 + i):
        d[rnd.randrange(64, len(d))] = rnd.randrange(256)
    open(f"{sys.argv[2]}/flip{i}.trace", "wb").write(d)
PY
crashes=0
for i in $(seq 0 19); do
  "$POOLTRACE" replay "$TMP/flip$i.trace" >/dev/null 2>"$TMP/err"; rc=$?
  [[ $rc -le 1 ]] || { crashes=$((crashes + 1)); diag "flip$i: exit $rc: $(head -c 200 "$TMP/err")"; }
done
ok $crashes "20 real traces with bytes overwritten: replay exits 0 or 1, never crashes"
$MK huge-request "$TMP/huge.trace"
"$POOLTRACE" replay "$TMP/huge.trace" >"$TMP/huge.rep" 2>&1; rc=$?
grep -q 'too_large 3' "$TMP/huge.rep" && grep -q '^replay blocks: 1 made, 1 freed' "$TMP/huge.rep" && [[ $rc -eq 0 ]]
ok $? "requests of 1 TiB, a realloc to 2 TiB and a 1 GiB alignment: not replayed, counted as too_large"
"$POOLTRACE" check --strict "$TMP/huge.trace" >/dev/null; [[ $? -eq 1 ]]; ok $? "check --strict fails on those anomalies"
$MK unknown-frees "$TMP/unk.trace"
"$POOLTRACE" replay "$TMP/unk.trace" >"$TMP/unk.rep" 2>&1
grep -q 'anomalies: free_unknown 1 realloc_unknown 1 address_live 1 ' "$TMP/unk.rep"
ok $? "frees and reallocs of unknown addresses, an address handed out twice: counted ($(field "$TMP/unk.rep" anomalies))"
"$POOLTRACE" check --explain "$TMP/unk.trace" | grep -q '^first anomaly: free_unknown at record 1: free by thread 7 at 5 ticks .*, block 0x1000$'
ok $? "check --explain names the first anomaly: record, operation, thread, time, address"
$MK address-live "$TMP/live.trace"
"$POOLTRACE" check --strict --explain "$TMP/live.trace" >"$TMP/live.out"; rc=$?
[[ $rc -eq 1 ]] && grep -q '^first anomaly: address_live at record 2: malloc by thread 8 at 8 ticks .*, 20 bytes -> 0x3000$' "$TMP/live.out" &&
  grep -q '^  0x3000 was still live: 10 bytes allocated by thread 7 at ' "$TMP/live.out"
ok $? "check --explain: an address handed out while live shows both allocations ($(tail -1 "$TMP/live.out"))"
$MK many-threads "$TMP/many.trace"
"$POOLTRACE" check --strict "$TMP/many.trace" | grep -q '10000 records, 5000 threads'
ok $? "a trace of 5000 threads reads (threads join the merge as it reaches them)"
$MK time-backwards "$TMP/back.trace"
check "a thread whose chunks go back in time still reads" "$POOLTRACE" replay "$TMP/back.trace"

# ---- replay pacing ---------------------------------------------------------------------------
dur=$("$POOLTRACE" summary "$TMP/mt.trace" | sed -n 's/^duration: \([0-9.]*\) ms.*/\1/p')
start=$(date +%s%N); "$POOLTRACE" replay --speed=0.5 "$TMP/mt.trace" >/dev/null; end=$(date +%s%N)
took=$(( (end - start) / 1000000 ))
awk -v t="$took" -v d="${dur:-0}" 'BEGIN { exit !(d > 0 && t >= 2 * d * 0.95) }'
ok $? "--speed=0.5 replays a ${dur} ms trace at half its pace (took ${took} ms)"
done_testing
