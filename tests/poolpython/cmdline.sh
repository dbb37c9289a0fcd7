#!/usr/bin/env bash
# poolpython-cmdline: the launcher runs like /usr/bin/python3. The same
# command lines (script and arguments, -c, -m, stdin and "-", -i, -E, -I,
# -X, -V, a bad option, an uncaught exception, SystemExit) give the same
# exit status, stdout and stderr; SIGINT ends it with KeyboardInterrupt and
# death by SIGINT, SIGTERM kills it, as python3; the interactive prompt on a
# terminal; sys.executable is the launcher, so subprocesses run on it too;
# sys.path, prefixes and site-packages are python3's, in and out of a venv
# (a link to the launcher in a venv made by python3, and a venv made by
# the launcher). The objects are the pool allocator's, and POOLMALLOC picks
# the allocator as for the library (CPython's own debug hooks for the debug
# variants).
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/poolpython/lib.sh
require_poolpython "poolpython command line"

cat >"$TMP/args.py" <<'PY'
import sys
print(sys.argv[1:], __name__, sys.flags.isolated, sys.flags.ignore_environment)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 0)
PY
cat >"$TMP/raises.py" <<'PY'
def f(d):
    return d["missing"]
f({})
PY
mkdir -p "$TMP/pkg"
printf 'import sys\nprint("main of pkg", sys.argv[1:])\n' >"$TMP/pkg/__main__.py"
printf 'import sys\nprint("from stdin", sys.argv)\nraise SystemExit(4)\n' >"$TMP/stdin.py"
printf '{"b": [1, 2, {"c": null}], "a": "x"}\n' >"$TMP/in.json"

# ---- the same command lines, the same results -------------------------------------------
same_as_python3 "script with arguments" "$TMP/args.py" one "two words" --three
same_as_python3 "script's exit status (sys.exit(7))" "$TMP/args.py" 7
same_as_python3 "-c with arguments" -c 'import sys; print(sys.argv); print(sum(range(10**5)))' a -b
same_as_python3 "-c raising SystemExit with a message" -c 'raise SystemExit("bye")'
same_as_python3 "an uncaught exception: traceback, exit 1" "$TMP/raises.py"
same_as_python3 "-m a stdlib module with arguments (json.tool --sort-keys)" -m json.tool --sort-keys "$TMP/in.json"
pushd "$TMP" >/dev/null; same_as_python3 "-m a package's __main__" -m pkg x y; popd >/dev/null
same_as_python3 "-m a missing module" -m no_such_module_here
STDIN=$TMP/stdin.py same_as_python3 "a program on stdin"
STDIN=$TMP/stdin.py same_as_python3 "'-' with arguments" - p q
STDIN=$TMP/stdin.py same_as_python3 "-i with a piped stdin (prompts on stderr)" -i -c 'x = 6 * 7'
same_as_python3 "-V" -V
same_as_python3 "-h" -h
same_as_python3 "an unknown option: usage, exit 2" -Q
same_as_python3 "-X utf8 -X dev -X importtime=0" -X utf8 -X dev -c \
  'import sys; print(sys.flags.utf8_mode, sys.flags.dev_mode, sys.getfilesystemencoding())'
PYTHONPATH=$TMP/pkg PYTHONDONTWRITEBYTECODE=1 same_as_python3 "PYTHONPATH and PYTHON* variables are read" \
  -c 'import sys; print(sys.path[:2], sys.flags.dont_write_bytecode)'
PYTHONPATH=$TMP/pkg PYTHONDONTWRITEBYTECODE=1 same_as_python3 "-E ignores them" \
  -E -c 'import sys; print(sys.path[:2], sys.flags.dont_write_bytecode, sys.flags.ignore_environment)'
PYTHONPATH=$TMP/pkg same_as_python3 "-I: isolated (no script dir, no env, no user site)" -I "$TMP/args.py"
same_as_python3 "-S -s -B -O -u -W flags" -S -s -B -O -u -W error -c \
  'import sys; print(sys.flags.no_site, sys.flags.no_user_site, sys.flags.optimize, "site" in sys.modules)'

# ---- paths: as python3 sees them ---------------------------------------------------------
PATHS='import site, sys, sysconfig
print(sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)
print(sys.path)
print(site.getsitepackages(), site.ENABLE_USER_SITE, sysconfig.get_paths()["purelib"])'
same_as_python3 "sys.prefix, sys.path, site-packages, sysconfig" -c "$PATHS"
out=$("$POOLPY" -c 'import sys; print(sys.executable, sys._base_executable)')
[[ $out == "$POOLPY $POOLPY" ]]; ok $? "sys.executable is the launcher ($out)"
out=$(PATH=$(dirname "$POOLPY"):$PATH poolpython -c 'import sys; print(sys.executable)')
[[ $out == "$POOLPY" ]]; ok $? "run by name through PATH: sys.executable is still its full path ($out)"
"$POOLPY" -c '
import ctypes, subprocess, sys
child = "import ctypes; print(ctypes.CDLL(None).pool_owns(ctypes.c_void_p(id([]))))"
out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout
sys.exit(out.strip() != "1")'
ok $? "a subprocess of sys.executable runs on the pool allocator"

# A venv made by python3, with a link to the launcher beside its python.
"$PY3" -m venv --without-pip "$TMP/venv" && ln -s "$POOLPY" "$TMP/venv/bin/poolpython"
ok $? "python3 -m venv --without-pip; a link to the launcher in its bin/"
run_as venv-py3 "$TMP/venv/bin/python" -c "$PATHS"
run_as venv-pool "$TMP/venv/bin/poolpython" -c "$PATHS"
cmp -s "$TMP/venv-py3.out" "$TMP/venv-pool.out" && grep -q "^$TMP/venv $TMP/venv /usr /usr$" "$TMP/venv-pool.out"
ok $? "in the venv: the venv's prefix, python3's base prefix, the venv's site-packages, as its python" ||
  diff "$TMP/venv-py3.out" "$TMP/venv-pool.out" | sed 's/^/#   /'
out=$("$TMP/venv/bin/poolpython" -c 'import sys; print(sys.executable, sys.prefix != sys.base_prefix)')
[[ $out == "$TMP/venv/bin/poolpython True" ]]; ok $? "in the venv: sys.executable is the venv's link ($out)"
"$POOLPY" -m venv --without-pip "$TMP/venv2" &&
  out=$("$TMP/venv2/bin/python" -c '
import ctypes, sys
print(sys.prefix, ctypes.CDLL(None).pool_owns(ctypes.c_void_p(id({}))))')
[[ $out == "$TMP/venv2 1" ]]; ok $? "a venv made by the launcher: its python is the launcher, in the venv ($out)"

# ---- signals -----------------------------------------------------------------------------
same_as_python3 "SIGINT: KeyboardInterrupt, then death by SIGINT (130)" -c '
import os, signal, time
print("before", flush=True)
os.kill(os.getpid(), signal.SIGINT)
time.sleep(5)'
same_as_python3 "SIGINT caught by the program: its own exit status" -c '
import os, signal
try:
    os.kill(os.getpid(), signal.SIGINT)
except KeyboardInterrupt:
    raise SystemExit(9)'
for interp in "$PY3" "$POOLPY"; do
  "$interp" -c 'import time; print("ready", flush=True); time.sleep(30)' >"$TMP/term.out" &
  pid=$!; TEST_PIDS+=("$pid")
  for _ in $(seq 100); do grep -q ready "$TMP/term.out" && break; sleep 0.05; done
  kill -TERM "$pid"; wait "$pid"; echo $? >>"$TMP/term.status"
done
[[ $(sort -u "$TMP/term.status") == 143 ]]; ok $? "SIGTERM from outside: killed by it (143), as python3 ($(tr '\n' ' ' <"$TMP/term.status"))"
same_as_python3 "a SIGTERM handler runs" -c '
import os, signal, sys
signal.signal(signal.SIGTERM, lambda *a: sys.exit(5))
os.kill(os.getpid(), signal.SIGTERM)
signal.pause()'

# ---- the interactive prompt on a terminal ------------------------------------------------
cat >"$TMP/ptyrun.py" <<'PY'
# Runs argv[1] on a pseudo-terminal, types two lines, prints what it showed.
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "-q"])
out, sent, deadline = b"", 0, time.time() + 20
lines = [b"print(6 * 7, 'answer')\n", b"raise SystemExit(3)\n"]
while time.time() < deadline:
    if sent < len(lines) and out.count(b">>> ") > sent:
        os.write(fd, lines[sent]); sent += 1
    if select.select([fd], [], [], 0.2)[0]:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
_, status = os.waitpid(pid, 0)
print(out.decode(errors="replace").replace("\r", ""), "status", os.waitstatus_to_exitcode(status))
PY
for interp in "$PY3" "$POOLPY"; do "$PY3" "$TMP/ptyrun.py" "$interp" >"$TMP/pty.$(basename "$interp")"; done
cmp -s "$TMP/pty.python3" "$TMP/pty.poolpython" && grep -q '^42 answer' "$TMP/pty.poolpython" &&
  grep -q 'status 3$' "$TMP/pty.poolpython"
ok $? "the interactive prompt on a terminal: prompts, evaluates, exits with SystemExit's status" ||
  sed 's/^/#   /' "$TMP/pty.poolpython" | head

# ---- the allocator -----------------------------------------------------------------------
NAME='import ctypes
f = ctypes.pythonapi._PyMem_GetCurrentAllocatorName
f.restype = ctypes.c_char_p
x = [str(i) * 3 for i in range(1000)]
print(f(), ctypes.CDLL(None).pool_owns(ctypes.c_void_p(id(x[500]))))'
[[ $("$POOLPY" -c "$NAME") == "None 1" ]]
ok $? "default: objects live in the pool allocator's arenas (CPython names it custom)"
[[ $(POOLMALLOC=malloc "$POOLPY" -c "$NAME") == "b'malloc' 0" ]]
ok $? "POOLMALLOC=malloc: CPython's system allocator"
[[ $(POOLMALLOC=malloc_debug "$POOLPY" -c "$NAME") == "b'malloc_debug' 0" ]]
ok $? "POOLMALLOC=malloc_debug: CPython's debug hooks over it"
for m in debug pymalloc_debug; do
  [[ $(POOLMALLOC=$m "$POOLPY" -c "$NAME") == "None 1" ]]
  ok $? "POOLMALLOC=$m: still the pool allocator underneath"
done
# CPython's debug hooks say so when the GIL is not held (and stay out of the way otherwise).
NOGIL='import _testcapi; _testcapi.pymem_malloc_without_gil(); print("not caught")'
for m in debug pymalloc_debug malloc_debug; do
  POOLMALLOC=$m "$POOLPY" -c "$NOGIL" >"$TMP/nogil.out" 2>&1
  st=$?
  [[ $st -ne 0 ]] && grep -q 'called without holding the GIL' "$TMP/nogil.out"
  ok $? "POOLMALLOC=$m: CPython's debug hooks catch PyMem_Malloc without the GIL (exit $st)"
done
"$POOLPY" -X dev -c "$NOGIL" >"$TMP/nogil.out" 2>&1
grep -q 'called without holding the GIL' "$TMP/nogil.out"; ok $? "-X dev adds the debug hooks, as in python3"
[[ $("$POOLPY" -c "$NOGIL" 2>&1) == "not caught" ]]; ok $? "without them, no hooks"
POOLMALLOC=debug "$POOLPY" -c 'import _testcapi; _testcapi.pymem_buffer_overflow()' >"$TMP/ovf.out" 2>&1
st=$?
[[ $st -ne 0 ]] && grep -q 'FORBIDDENBYTE' "$TMP/ovf.out" && grep -q '16 bytes originally requested' "$TMP/ovf.out"
ok $? "POOLMALLOC=debug: a buffer overflow is reported by CPython's hooks (exit $st)"
out=$(POOLMALLOC=bogus "$POOLPY" -c "$NAME" 2>&1)
[[ $out == *"POOLMALLOC=bogus is not one of"*"using pymalloc"*"None 1" ]]
ok $? "an unknown POOLMALLOC: one clear message, then the pool allocator"
POOLMALLOCSTATS=1 "$POOLPY" -c 'x = [(i, str(i)) for i in range(100000)]' 2>"$TMP/stats.err"
n=$(awk -F= '/^# times malloc called/ { gsub(/[ ,]/, "", $2); print $2 }' "$TMP/stats.err")
[[ ${n:-0} -gt 200000 ]] && grep -q '^# arenas highwater mark' "$TMP/stats.err"
ok $? "POOLMALLOCSTATS=1: our report at exit ($n mallocs)"

# ---- make install ------------------------------------------------------------------------
make --no-print-directory -s BUILD="$BUILD" DESTDIR="$TMP/dest" PREFIX=/opt/pp install-poolpython >/dev/null &&
  [[ $("$TMP/dest/opt/pp/bin/poolpython" -c "$NAME") == "None 1" ]]
ok $? "make install-poolpython: PREFIX/bin/poolpython runs"
[[ $("$TMP/dest/opt/pp/bin/poolpython" -c "$PATHS") == "$("$PY3" -c "$PATHS")" ]]
ok $? "installed elsewhere: the same sys.path and site-packages as python3"

done_testing
