# Helpers for the preload-shim suites (source after tests/lib/tap.sh).
#   same_output "desc" cmd args...   runs cmd plain and with LD_PRELOAD=$SHIM;
#                                    passes when the exit status, stdout and
#                                    stderr match and the preloaded processes
#                                    really bound malloc and free to the shim
#   report_mallocs FILE              "# times malloc called" summed over the
#                                    POOLMALLOCSTATS reports in FILE
# $TMP is a private directory removed at exit.
BUILD=${BUILD:-build}
SHIM=$(realpath "$BUILD/libpoolmalloc.so" 2>/dev/null || echo "$BUILD/libpoolmalloc.so")
PROGS=$BUILD/tests/shim
TMP=$(mktemp -d /tmp/poold-shim.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
unset POOLMALLOC POOLMALLOCSTATS POOLMALLOC_PURGE_DELAY

# A shim built with a sanitizer cannot be preloaded: the sanitizer runtime
# must own malloc itself, and such a process dies at start-up. The shim is
# covered by the plain build; here every test is skipped with that reason.
skip_if_sanitized() {
  local why
  if [[ ! -f "$SHIM" ]]; then why="$SHIM is not built"
  elif ldd "$SHIM" 2>/dev/null | grep -Eq 'lib(asan|tsan|ubsan)'; then
    why="$SHIM is built with a sanitizer, whose runtime cannot run under a preloaded malloc (covered by the plain build)"
  else return 0; fi
  for t in "$@"; do skip "$t" "$why"; done
  done_testing
  exit
}

report_mallocs() {
  awk -F= '/^# times malloc called/ { gsub(/[ ,]/, "", $2); n += $2 } END { print n + 0 }' "$1"
}

# Processes (of the last preloaded run) whose malloc and free bound to the shim.
bound_processes() {
  local n=0 f
  for f in "$TMP"/ld.*; do
    [[ -f $f ]] || continue
    grep -q "to $SHIM \[0\]: normal symbol \`malloc'" "$f" &&
      grep -q "to $SHIM \[0\]: normal symbol \`free'" "$f" && n=$((n + 1))
  done
  echo $n
}

# Runs "$@" preloaded, stdout/stderr to $TMP/shim.out / shim.err; prints the
# exit status. Dynamic-linker bindings go to $TMP/ld.<pid>.
run_preloaded() {
  rm -f "$TMP"/ld.*
  LD_DEBUG=bindings LD_DEBUG_OUTPUT="$TMP/ld" LD_PRELOAD=$SHIM "$@" >"$TMP/shim.out" 2>"$TMP/shim.err"
  echo $?
}

same_output() {
  local desc=$1; shift
  "$@" >"$TMP/plain.out" 2>"$TMP/plain.err"; local rc1=$?
  local rc2; rc2=$(run_preloaded "$@")
  local procs; procs=$(bound_processes)
  local lines; lines=$(wc -l <"$TMP/plain.out")
  if [[ $rc1 -eq $rc2 ]] && cmp -s "$TMP/plain.out" "$TMP/shim.out" &&
     cmp -s "$TMP/plain.err" "$TMP/shim.err" && [[ $procs -gt 0 ]]; then
    ok 0 "$desc: same exit ($rc1) and output ($lines lines) on the shim ($procs processes on it)"
  else
    ok 1 "$desc: plain exit $rc1, shim exit $rc2, $procs processes bound malloc to the shim"
    diff "$TMP/plain.out" "$TMP/shim.out" | head -10 | sed 's/^/#   stdout: /'
    diff "$TMP/plain.err" "$TMP/shim.err" | head -10 | sed 's/^/#   stderr: /'
  fi
}
