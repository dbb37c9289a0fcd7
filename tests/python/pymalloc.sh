#!/usr/bin/env bash
# poold_pymalloc on real /usr/bin/python3 processes: the runner, the figures
# against sys._debugmallocstats() in the same process, the byte kinds, the
# arena map, reclaimed arenas, threads, fork, exec, SIGKILL, several
# processes, the .pth hook, and the refusals.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
BUILD=${BUILD:-build}
source tests/python/lib.sh
T=$(mktemp -d /tmp/pymalloc-test.XXXXXX)
SEG=$T/shm
mkdir -p "$SEG"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT

require_module

# Waits (5 s at most) until FILE exists (or, with !, is gone).
wait_file() {
  local i
  for i in $(seq 100); do
    if [[ $1 == "!" ]]; then [[ -e $2 ]] || return 0; else [[ -e $1 ]] && return 0; fi
    sleep 0.05
  done
  return 1
}

# ---- the runner, the figures against the dump, reclaimed arenas -------------------
out=$(echo "from stdin" | $PY -m poold_pymalloc --interval 3600 --dir "$SEG" \
        tests/python/churn.py "$T" 7 a "b c" 2>"$T/err")
status=$?
ok $(( status != 7 )) "-m poold_pymalloc SCRIPT: the script's exit status (7, got $status)"
grep -qx "argv \['a', 'b c'\]" <<<"$out"; ok $? "the script gets its arguments"
grep -qx "stdin from stdin" <<<"$out"; ok $? "the script reads stdin and writes stdout"
for m in built dropped; do
  check "at '$m' the exported figures equal sys._debugmallocstats() in that process" \
    $LIB compare "$T/$m.seg" "$T/$m.dump"
done
built=$($LIB get "$T/built.seg" arenas_current)
ok $(( built < 20 )) "the program built $built arenas"
recl=$($LIB get "$T/dropped.seg" arenas_released_total)
ok $(( recl < 10 )) "dropping them shows $recl reclaimed arenas"
mapped=$($LIB get "$T/built.seg" arena_records)
ok $(( mapped < built - 5 )) "the arena map holds $mapped of the $built arenas"
used=$($LIB get "$T/built.seg" map_used_pools)
ok $(( used < 100 )) "the map shows $used pools in use"
[[ $($LIB get "$T/built.seg" allocator_version) == 3.11.* ]]
ok $? "the segment names CPython's version"
ls "$SEG"/poolmalloc.* >/dev/null 2>&1; ok $(( ! $? )) "the segment is gone after the exit"

# -m MODULE, a failing program, a missing script, usage
mkdir -p "$T/mods"
printf 'import sys\nprint("mod", sys.argv)\nsys.exit(int(sys.argv[1]))\n' > "$T/mods/modprog.py"
out=$(cd "$T/mods" && $PY -m poold_pymalloc --dir "$SEG" -m modprog 3 x)
ok $(( $? != 3 )) "-m poold_pymalloc -m MODULE: the module's exit status"
[[ $out == "mod ['$T/mods/modprog.py', '3', 'x']" ]]; ok $? "the module's argv is as under python3 -m ($out)"
printf 'raise ValueError("boom")\n' > "$T/boom.py"
$PY -m poold_pymalloc --dir "$SEG" "$T/boom.py" 2>"$T/err"
ok $(( $? != 1 )) "an uncaught exception exits 1"
grep -q "ValueError: boom" "$T/err"; ok $? "with its traceback"
$PY -m poold_pymalloc "$T/nothere.py" 2>"$T/err"
ok $(( $? != 2 )) "a missing script exits 2"
$PY -m poold_pymalloc --bogus x.py 2>"$T/err"
ok $(( $? != 2 )) "an unknown option exits 2"
grep -q "usage:" "$T/err"; ok $? "with the usage"
ls "$SEG"/poolmalloc.* >/dev/null 2>&1; ok $(( ! $? )) "no segment left behind"

# ---- the segment while a program runs: default place, mode, threads ----------------
cat > "$T/threads.py" <<'PY'
import sys, threading, time
stop = False
def work(k):
    while not stop:
        junk = [{"k": k, "i": i, "s": "v" * (i % 200)} for i in range(20000)]
        del junk
ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in ts: t.start()
print("ready", flush=True)
sys.stdin.read()
stop = True
for t in ts: t.join()
PY
coproc TH { exec $PY -m poold_pymalloc --interval 0.05 "$T/threads.py"; }
PIDS+=("$TH_PID"); pid=$TH_PID
read -r -t 10 line <&"${TH[0]}"
wait_file /dev/shm/poolmalloc.$pid
ok $? "the default directory is /dev/shm (poolmalloc.$pid)"
[[ $($LIB get /dev/shm/poolmalloc.$pid mode) == 600 ]]; ok $? "the segment is owner-only"
bad=0
for i in $(seq 40); do
  $LIB valid /dev/shm/poolmalloc.$pid "$pid" 2>>"$T/err" || bad=$((bad + 1)); sleep 0.03
done
ok $bad "4 threads churning: 40 reads of the segment are whole and add up ($bad not)"
u1=$($LIB get /dev/shm/poolmalloc.$pid updates)
for i in $(seq 100); do
  u2=$($LIB get /dev/shm/poolmalloc.$pid updates); (( u2 >= u1 + 3 )) && break; sleep 0.05
done
ok $(( u2 < u1 + 3 )) "it keeps being updated while the threads churn ($u1 -> $u2)"
echo >&"${TH[1]}"; exec {TH[1]}>&-
wait "$pid"; ok $? "the threaded program exits 0"
wait_file ! /dev/shm/poolmalloc.$pid; ok $? "its segment is removed at the exit"

# ---- fork, exec, _exit ---------------------------------------------------------------
cat > "$T/fork.py" <<'PY'
import os, sys, time, multiprocessing
seg = sys.argv[1]
def exists(pid): return os.path.exists("%s/poolmalloc.%d" % (seg, pid))
r, w = os.pipe()
child = os.fork()
if child == 0:
    os.close(r)
    x = [str(i) for i in range(100000)]
    os.write(w, b"%d\n" % exists(os.getpid())); os.close(w)
    time.sleep(0.3)
    os._exit(0)
os.close(w)
print("child published its own:", os.read(r, 10).decode().strip() == "1", flush=True)
os.waitpid(child, 0)
print("child's gone after _exit:", not exists(child), flush=True)
print("parent's still there:", exists(os.getpid()), flush=True)
def job(n): return exists(os.getpid()) and sum(range(n)) > 0
with multiprocessing.get_context("fork").Pool(2) as pool:
    print("pool workers publish:", all(pool.map(job, [10000] * 4)), flush=True)
try:
    os.execv("/nonexistent/prog", ["x"])
except OSError:
    print("back after a failed exec:", exists(os.getpid()), flush=True)
os.execv("/bin/sh", ["sh", "-c", "test -e %s/poolmalloc.$$ && echo exec: kept || echo exec: removed" % seg])
PY
out=$($PY -m poold_pymalloc --dir "$SEG" --interval 0.1 "$T/fork.py" "$SEG" 2>&1)
for want in "child published its own: True" "child's gone after _exit: True" \
            "parent's still there: True" "pool workers publish: True" \
            "back after a failed exec: True" "exec: removed"; do
  grep -qxF "$want" <<<"$out"; ok $? "fork/exec: $want"
done
left=$(ls "$SEG" | wc -l)
diag "$left segments of pool workers killed by Pool.terminate()'s SIGTERM left: $(ls "$SEG"; for f in "$SEG"/*; do kill -0 "${f##*.}" 2>/dev/null && echo "${f##*.} alive"; done)"
printf 'pass\n' > "$T/pass.py"
$PY -m poold_pymalloc --dir "$SEG" "$T/pass.py"
[[ -z $(ls "$SEG") ]]; ok $? "the next exporter's start sweeps segments of dead pids (none left)"

# forks and exits while the publisher runs every 10 ms: no deadlock, nothing left
cat > "$T/storm.py" <<'PY'
import os, sys, threading
stop = False
def churn():
    while not stop:
        x = [{"i": i} for i in range(5000)]
t = threading.Thread(target=churn); t.start()
for i in range(150):
    pid = os.fork()
    if pid == 0:
        y = [str(j) for j in range(2000)]
        if i % 3 == 0:
            sys.exit(0)          # atexit: stop() joins the child's publisher
        os._exit(0)
    os.waitpid(pid, 0)
stop = True; t.join()
print("done")
PY
out=$(timeout 120 $PY -m poold_pymalloc --dir "$SEG" --interval 0.01 "$T/storm.py")
ok $? "150 forks (exit and _exit) with 2 threads and a 10 ms interval: no deadlock ($out)"
[[ -z $(ls "$SEG") ]]; ok $? "... and no segment left"

# ---- SIGKILL, several processes --------------------------------------------------------
spids=()
for i in 1 2 3; do
  ( exec $PY -m poold_pymalloc --dir "$SEG" --interval 0.1 "$T/threads.py" < <(sleep 30) >/dev/null ) &
  spids+=($!); PIDS+=($!)
done
good=0
for p in "${spids[@]}"; do
  wait_file "$SEG/poolmalloc.$p" && $LIB valid "$SEG/poolmalloc.$p" "$p" && good=$((good + 1))
done
ok $(( good != 3 )) "3 Pythons at once: 3 segments, each with its own pid ($good)"
kill -9 "${spids[0]}"; wait "${spids[0]}" 2>/dev/null
sleep 0.2
[[ -e $SEG/poolmalloc.${spids[0]} ]] && ! kill -0 "${spids[0]}" 2>/dev/null
ok $? "SIGKILL leaves the segment of a dead pid behind (a reader sees the pid gone)"
for p in "${spids[@]:1}"; do kill -9 "$p"; wait "$p" 2>/dev/null; done
rm -f "$SEG"/poolmalloc.*

# ---- the .pth start-up hook, in a private user site ------------------------------------
site=$T/user/lib/python3.11/site-packages
mkdir -p "$site"
cp -r "$BUILD/python/poold_pymalloc" "$BUILD/python/poold_pymalloc.pth" "$site/"
hooked() { env -u PYTHONPATH PYTHONUSERBASE=$T/user "$@"; }
probe='import os, sys, time
print("imported" if "poold_pymalloc" in sys.modules else "not imported")
p = "%s/poolmalloc.%d" % (sys.argv[1], os.getpid())
for _ in range(100):
    if os.path.exists(p): break
    time.sleep(0.02)
print("segment" if os.path.exists(p) else "no segment", flush=True)'
out=$(hooked $PY -c "$probe" "$SEG")
[[ $out == $'not imported\nno segment' ]]; ok $? "without POOLD_PYMALLOC_EXPORT the hook imports nothing ($out)"
out=$(hooked env POOLD_PYMALLOC_EXPORT="$SEG" POOLD_PYMALLOC_INTERVAL=0.2 \
      POOLD_PYMALLOC_EXPORT_MODE=0644 $PY -c "$probe
print(open(p, 'rb').read(8).decode(), oct(os.stat(p).st_mode & 0o777))
import poold_pymalloc; print(poold_pymalloc._native.segment_path() == p)" "$SEG")
[[ $out == $'imported\nsegment\nPOOLSHM1 0o644\nTrue' ]]
ok $? "POOLD_PYMALLOC_EXPORT=DIR through the .pth hook exports, mode 0644 ($out)"
hooked env POOLD_PYMALLOC_EXPORT="$SEG" POOLD_PYMALLOC_INTERVAL=0.2 $PY -c "
import time, sys; time.sleep(0.5)
import poold_pymalloc; h = poold_pymalloc._native.segment_path(); print(h)" > "$T/out"
ok $? "a program exporting through the hook runs normally"
out=$(hooked env POOLD_PYMALLOC_EXPORT=1 POOLD_PYMALLOC_INTERVAL=abc $PY -c 'print("ran")' 2>&1)
[[ $out == *"POOLD_PYMALLOC_INTERVAL=abc"*ran* ]]; ok $? "a bad POOLD_PYMALLOC_INTERVAL is named, the program still runs"
out=$(hooked env POOLD_PYMALLOC_EXPORT=relative $PY -c 'print("ran")' 2>&1)
[[ $out == *"expected 1 or an absolute directory"*ran* ]]; ok $? "a relative POOLD_PYMALLOC_EXPORT is refused, the program still runs"
out=$(hooked env POOLD_PYMALLOC_EXPORT=1 PYTHONMALLOC=malloc $PY -c 'print("ran")' 2>&1)
[[ $out == *"no pymalloc to export"*ran* ]]; ok $? "PYTHONMALLOC=malloc through the hook: said, and the program runs"

# ---- make install, into a DESTDIR ---------------------------------------------------------
make -s --no-print-directory BUILD="$BUILD" install-pymalloc DESTDIR="$T/dest" PREFIX=/usr/local >"$T/make.log" 2>&1
ok $? "make install-pymalloc DESTDIR=... PREFIX=/usr/local"
inst=$T/dest/usr/local/lib/python3.11/dist-packages
ls "$inst"/poold_pymalloc.pth "$inst"/poold_pymalloc/__init__.py "$inst"/poold_pymalloc/__main__.py \
   "$inst"/poold_pymalloc/_native*.so >/dev/null
ok $? "it installs the package and the hook into Debian's site directory for /usr/local"
out=$(env -u PYTHONPATH POOLD_PYMALLOC_EXPORT="$SEG" $PY -c "
import site, os; site.addsitedir('$inst')
import poold_pymalloc; print(poold_pymalloc.__file__.startswith('$inst'), poold_pymalloc.running() is not None)")
[[ $out == "True True" ]]; ok $? "the installed hook exports when that directory is a site directory ($out)"

# ---- refusals and other allocators ---------------------------------------------------------
PYTHONMALLOC=malloc $PY -m poold_pymalloc --dir "$SEG" "$T/boom.py" 2>"$T/err"
st=$?
ok $(( st != 2 )) "PYTHONMALLOC=malloc: -m poold_pymalloc refuses (exit $st)"
grep -q "come from the C library's malloc.*no pymalloc to export" "$T/err"; ok $? "and says there is no pymalloc"
$PY -X tracemalloc -m poold_pymalloc --dir "$SEG" "$T/boom.py" 2>"$T/err"
ok $(( $? != 2 )) "under tracemalloc's hook: refused"
grep -q "not pymalloc" "$T/err"; ok $? "and says why"
for pm in debug pymalloc_debug; do
  cat > "$T/dbg.py" <<'PY'
import shutil, sys, poold_pymalloc
x = [{"a": i} for i in range(50000)]
poold_pymalloc._native.publish()
shutil.copyfile(poold_pymalloc.running(), sys.argv[1])
PY
  PYTHONMALLOC=$pm $PY -m poold_pymalloc --dir "$SEG" --interval 3600 "$T/dbg.py" "$T/dbg.seg"
  $LIB valid "$T/dbg.seg" && [[ $($LIB get "$T/dbg.seg" allocator_version) == *debug ]]
  ok $? "PYTHONMALLOC=$pm: the debug variant is exported, marked debug"
done
for v in 3.12.1 3.13.0; do
  other=$HOME/.pyenv/versions/$v/bin/python3
  if [[ -x $other ]]; then
    $other -c 'import poold_pymalloc' 2>"$T/err"
    [[ $? -ne 0 ]] && grep -q "built for .cpython-311" "$T/err"
    ok $? "CPython $v: a clear import error ($(tail -1 "$T/err" | cut -c1-100))"
  else
    skip "CPython $v refuses" "no $other on this machine"
  fi
done
other=$HOME/.pyenv/versions/3.11.7/bin/python3
if [[ -x $other ]]; then
  $other -m poold_pymalloc --dir "$SEG" --interval 3600 "$T/dbg.py" "$T/o.seg" 2>"$T/err" &&
    $LIB valid "$T/o.seg"
  ok $? "another CPython 3.11 (3.11.7, same ABI) is supported"
else
  skip "another CPython 3.11" "no $other"
fi

# ---- reports it does not understand are refused, line named ----------------------------------
$PY - "$T" <<'PY' > "$T/refusals"
import re, sys, os
from poold_pymalloc import _native
r, w = os.pipe()
saved = os.dup(2); os.dup2(w, 2); sys._debugmallocstats(); os.dup2(saved, 2); os.close(w)
text = os.read(r, 1 << 20).decode()
report = text[:text.index("\n\n", text.index("arena map counts")) + 1]
rep = report[report.index("Small block"):]
rep = rep[:rep.rindex("Total")] + rep[rep.rindex("Total"):].split("\n")[0] + "\n"
_native.parse(rep)
print("ok whole")
def first_num(s, label):
    return re.sub(r"(%s\s*=\s*)([\d,]+)" % re.escape(label),
                  lambda m: m.group(1) + "{:,}".format(int(m.group(2).replace(",", "")) + 16), s, 1)
cases = {
    "empty": "",
    "header": rep.replace("Small block threshold", "Tiny block threshold"),
    "classes": rep.replace("in 32 size classes", "in 33 size classes"),
    "allocated": first_num(rep, "# bytes in allocated blocks"),
    "quantization": first_num(rep, "# bytes lost to quantization"),
    "reclaimed": first_num(rep, "# arenas reclaimed"),
    "row": re.sub(r"^(\s+3\s+64\s+\d+\s+)(\d+)", lambda m: m.group(1) + str(int(m.group(2)) + 1), rep, 1, re.M),
    "commas": re.sub(r"(# bytes in allocated blocks\s*=\s*\d+),(\d)", r"\1\2,", rep, 1),
    "extra": rep + "something new\n",
    "cut": rep[: len(rep) // 2],
    "unknown line": rep.replace("# bytes lost to pool headers", "# bytes lost to pool hats"),
}
for name, t in cases.items():
    try:
        _native.parse(t)
        print("accepted", name)
    except _native.Unavailable as e:
        print("refused", name, "|", e)
PY
grep -q "^ok whole" "$T/refusals"; ok $? "the real report parses"
n=$(grep -c "^refused .*| line [0-9]* of the malloc statistics" "$T/refusals")
ok $(( n != 11 )) "11 broken reports are refused, each naming its line ($n)"
grep "^accepted" "$T/refusals" | sed 's/^/# /'

done_testing
