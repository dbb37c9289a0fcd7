#!/usr/bin/env bash
# poolpython-runtime: poolpython under load, against python3: objects freed
# by other threads (and by the main thread after their creators exited);
# os.fork mid-way through a live heap with another thread allocating, and
# multiprocessing's fork, forkserver and spawn children (all on the pool
# allocator); a C extension (built here against python3-config) using
# PyMem_*/PyObject_* from its own threads under PyGILState_Ensure, also
# under CPython's debug hooks; sqlite3 and zlib; the RSS after freeing a
# large structure comes down; POOLMALLOC_EXPORT publishes the statistics
# and poold's process collector shows a poolpython process, gone when it
# exits.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/daemon/lib.sh
source tests/poolpython/lib.sh
require_poolpython "poolpython at run time"
HERE=$(realpath tests/poolpython)

# ---- threads -----------------------------------------------------------------------------
same_as_python3 "threads: records built by 8 threads, checked and dropped by 8 others" \
  "$HERE/threads_free.py"
POOLMALLOCSTATS=1 "$POOLPY" "$HERE/threads_free.py" 5000 >/dev/null 2>"$TMP/threads.err"
remote=$(awk -F= '/^# cross-thread frees/ { gsub(/[ ,]/, "", $2); print $2 }' "$TMP/threads.err")
heaps=$(awk -F= '/^# thread heaps/ { gsub(/[ ,]/, "", $2); print $2 }' "$TMP/threads.err")
[[ ${remote:-0} -gt 10000 && ${heaps:-0} -ge 8 ]]
ok $? "... and most frees really were another thread's ($remote cross-thread frees, $heaps heaps)"
POOLMALLOC=debug same_as_python3 "threads under POOLMALLOC=debug (CPython's hooks check the GIL)" \
  "$HERE/threads_free.py" 3000

# ---- fork and multiprocessing --------------------------------------------------------------
run_as py3 "$PY3" "$HERE/forks.py"
run_as pool "$POOLPY" "$HERE/forks.py"
cmp -s <(head -n -1 "$TMP/py3.out") <(head -n -1 "$TMP/pool.out") && [[ $(cat "$TMP/pool.status") == 0 ]]
ok $? "os.fork children and multiprocessing fork/forkserver/spawn pools compute what python3's do" ||
  sed 's/^/#   /' "$TMP/pool.out" "$TMP/pool.err" | head
[[ $(tail -1 "$TMP/pool.out") == 1 && $(tail -1 "$TMP/py3.out") == 0 ]]
ok $? "... and every child of every start method ran on the pool allocator"

# ---- a C extension with threads of its own ---------------------------------------------------
EXT=$TMP/ext
mkdir -p "$EXT"
gcc -O2 -g -std=gnu11 -Wall -Wextra -Werror -fPIC -shared -pthread \
  $("$PY3-config" --includes | sed 's/-I/-isystem /g') "$HERE/memthreads.c" \
  -o "$EXT/memthreads$("$PY3-config" --extension-suffix)"
ok $? "the extension builds against $PY3-config"
cd "$EXT"
same_as_python3 "the extension's 8 threads (PyGILState_Ensure, PyMem, PyObject, raw)" \
  -c 'import memthreads; e, s = memthreads.run(8, 400); print(e, s)'
[[ $(cut -d' ' -f1 "$TMP/pool.out") == 0 ]]; ok $? "... with no block changed under it"
POOLMALLOC=debug same_as_python3 "... under CPython's debug hooks (every call checked for the GIL)" \
  -c 'import memthreads; e, s = memthreads.run(8, 200); print(e, s)'
cd - >/dev/null

# ---- the standard library's C parts ------------------------------------------------------------
same_as_python3 "sqlite3 and zlib" -c '
import sqlite3, zlib
db = sqlite3.connect(":memory:")
db.execute("create table t (k integer primary key, v text, b blob)")
db.executemany("insert into t values (?, ?, ?)",
               ((i, "v%d" % i, zlib.compress(b"x%d" % i * 50)) for i in range(20000)))
rows = db.execute("select k, v, b from t where k % 7 = 0 order by v").fetchall()
assert all(zlib.decompress(b) == b"x%d" % k * 50 for k, _, b in rows)
print(len(rows), db.execute("select sum(length(b)) from t").fetchone())'

# ---- memory comes back ----------------------------------------------------------------------------
read -r _ b0 p0 f0 _ < <("$PY3" "$HERE/rss_drop.py")
read -r _ b1 p1 f1 _ < <("$POOLPY" "$HERE/rss_drop.py")
diag "RSS kB before / peak / after freeing all but 1 in 1000: python3 $b0 / $p0 / $f0, poolpython $b1 / $p1 / $f1"
[[ -n $f1 && $f1 -lt $((b1 + (p1 - b1) / 3)) ]]
ok $? "the RSS comes down after freeing a large structure ($p1 -> $f1 kB)"

# ---- statistics for poold -------------------------------------------------------------------------
D=$TMP/shm
mkdir -p "$D"
cat >"$TMP/serve.py" <<'PY'
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
keep = [str(i) * 4 for i in range(50000)]
time.sleep(60)
PY
POOLMALLOC_EXPORT=$D POOLMALLOC_EXPORT_INTERVAL=100 "$POOLPY" "$TMP/serve.py" & P=$!
TEST_PIDS+=("$P")
wait_for "[[ -e $D/poolmalloc.$P ]]" 10
ok $? "POOLMALLOC_EXPORT: the launcher publishes $D/poolmalloc.<pid>"
if [[ -x $POOLD ]] && start_poold --workload=idle --collector.processes --collector.processes.dir="$D"; then
  s=$(scrape)
  grep -qE "^poold_process_info\{pid=\"$P\",comm=\"poolpython\"[,}].* 1$" <<<"$s"
  ok $? "poold --collector.processes: poold_process_info{pid=\"$P\",comm=\"poolpython\",...} 1"
  n=$(awk -v k="poold_process_operations_total{pid=\"$P\",comm=\"poolpython\",op=\"malloc\"}" \
        '$1 == k { print $2 }' <<<"$s")
  [[ ${n%.*} -gt 50000 ]]; ok $? "... with its allocator's figures (${n:-no} mallocs)"
  stop_poold
else
  skip "poold --collector.processes sees poolpython" "$POOLD is not built or did not start"
  skip "... with its allocator's figures" "no poold"
fi
kill -TERM "$P"; wait "$P"; st=$?
[[ $st == 0 && ! -e $D/poolmalloc.$P ]]; ok $? "a clean exit removes the segment (exit $st)"

# exec and _exit run no atexit handler: the segment must still go (and come
# back when the exec fails), as at a clean exit. Each program prints what it
# sees of its own segment, then leaves as the test's name says.
cat >"$TMP/leave.py" <<'PY'
import os, sys, time
def published(pid):
    seg = "%s/poolmalloc.%d" % (sys.argv[1], pid)
    for _ in range(200):
        if os.path.exists(seg):
            return "published"
        time.sleep(0.01)
    return "never published"
how = sys.argv[2]
print(os.getpid(), published(os.getpid()), flush=True)
if how == "failed-exec":           # the segment comes back, then a real exec
    try:
        os.execv("/nonexistent/prog", ["x"])
    except OSError:
        pass
    print("back", published(os.getpid()), flush=True)
    os.execv("/bin/true", ["true"])
elif how == "fork-_exit":          # a forked child publishes its own, and leaves by _exit
    pid = os.fork()
    if pid == 0:
        print(os.getpid(), "child", published(os.getpid()), flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
elif how == "execv":
    os.execv("/bin/true", ["true"])
elif how == "execlp-python":
    os.execlp(sys.executable, sys.executable, "-c", "pass")
elif how == "_exit":
    os._exit(0)
PY
for how in execv execlp-python failed-exec _exit fork-_exit; do
  out=$(POOLMALLOC_EXPORT=$D POOLMALLOC_EXPORT_INTERVAL=20 "$POOLPY" "$TMP/leave.py" "$D" "$how" 2>&1); st=$?
  mapfile -t pids < <(awk '{ print $1 }' <<<"$out" | grep -E '^[0-9]+$')
  left=$(for p in "${pids[@]}"; do [[ -e $D/poolmalloc.$p ]] && echo "poolmalloc.$p"; done)
  want='^[0-9]+ published$'
  [[ $how == failed-exec ]] && want=$'^[0-9]+ published\nback published$'
  [[ $how == fork-_exit ]] && want=$'^[0-9]+ published\n[0-9]+ child published$'
  [[ $st == 0 && $out =~ $want && -z $left ]]
  ok $? "$how: the process published, and no segment is left behind${left:+ ($left)}" ||
    printf '%s\n' "$out" | head -5 | sed 's/^/#   /'
done

done_testing
