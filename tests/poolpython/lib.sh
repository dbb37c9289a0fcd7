# Helpers for the poolpython suites (source after tests/lib/tap.sh):
#   $POOLPY      the launcher (absolute path), $PY3 the system python3
#   $TMP         a private directory, removed at exit with every process in
#                TEST_PIDS (source tests/daemon/lib.sh first when poold is
#                needed: its cleanup runs too)
#   same_as_python3 "desc" args...   runs python3 and poolpython with the
#                same arguments (stdin from $STDIN when set); passes when
#                the exit status, stdout and stderr are equal once each
#                interpreter's own path is written PYTHON
#   require_poolpython               ends the suite with one skip when the
#                launcher or python3 is missing
BUILD=${BUILD:-build}
POOLPY=$(realpath "$BUILD/poolpython" 2>/dev/null || echo "$BUILD/poolpython")
PY3=/usr/bin/python3
TMP=$(mktemp -d /tmp/poolpython-test.XXXXXX)
declare -a TEST_PIDS=("${TEST_PIDS[@]}")
poolpython_cleanup() {
  local p
  for p in "${TEST_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  declare -F cleanup >/dev/null && cleanup
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap poolpython_cleanup EXIT
unset POOLMALLOC POOLMALLOCSTATS POOLMALLOC_EXPORT POOLMALLOC_PURGE_DELAY PYTHONMALLOC \
      PYTHONDEVMODE PYTHONHOME PYTHONPATH PYTHONSTARTUP PYTHONINSPECT LD_PRELOAD

require_poolpython() {
  local why=
  if [[ ! -x $PY3 ]]; then why="no $PY3"
  elif [[ ! -x $POOLPY ]]; then why="$POOLPY is not built (needs python3-dev)"
  else return 0; fi
  skip "${1:-poolpython}" "$why"; done_testing; exit
}

# run_as NAME INTERP args...: output to $TMP/NAME.{out,err,status}, with the
# interpreter's path replaced by PYTHON.
run_as() {
  local name=$1 interp=$2; shift 2
  if [[ -n ${STDIN-} ]]; then "$interp" "$@" <"$STDIN" >"$TMP/$name.out" 2>"$TMP/$name.err"
  else "$interp" "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err"; fi
  echo $? >"$TMP/$name.status"
  sed -i "s|$interp|PYTHON|g" "$TMP/$name.out" "$TMP/$name.err"
}

same_as_python3() {
  local desc=$1; shift
  run_as py3 "$PY3" "$@"
  run_as pool "$POOLPY" "$@"
  local f bad=
  for f in status out err; do
    cmp -s "$TMP/py3.$f" "$TMP/pool.$f" || bad+=" $f"
  done
  [[ -z $bad ]]
  ok $? "$desc (exit $(cat "$TMP/pool.status"))${bad:+: differs in$bad}"
  if [[ -n $bad ]]; then
    for f in status out err; do
      diff "$TMP/py3.$f" "$TMP/pool.$f" | head -8 | sed "s/^/#   $f: /"
    done
  fi
}
