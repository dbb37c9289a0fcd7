#!/usr/bin/env bash
# poolpython-regrtest-*: CPython's own regression tests (Debian's
# libpython3.11-testsuite) under /usr/bin/python3 and under poolpython, the
# same modules with the same options; every module must get the same verdict
# and every test case the same outcome (passed / failed / error / skipped)
# under both. A module that differs is run once more under both, alone, and
# counts as the same only if it then agrees (a test that is flaky on a
# loaded machine is not the allocator's doing; one that differs twice is).
#   [REGRTEST_ARGS='-m PATTERN ...'] tests/poolpython/regrtest.sh MODULE...
# (REGRTEST_ARGS: more regrtest options for both runs, e.g. test selection)
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/poolpython/lib.sh
require_poolpython "CPython's regression tests"
if [[ ! -d /usr/lib/python3.11/test/libregrtest ]]; then
  skip "CPython's regression tests" "libpython3.11-testsuite is not installed"; done_testing; exit
fi

# Runs regrtest under interpreter $1 into $TMP/$2.{log,xml} for modules $3...
regrtest() {
  local interp=$1 tag=$2 extra=(); shift 2
  read -ra extra <<<"${REGRTEST_ARGS-}"   # words, never globbed
  (cd "$TMP" && nice "$interp" -m test -j2 --timeout 150 "${extra[@]}" \
     --junit-xml "$TMP/$tag.xml" "$@" \
     >"$TMP/$tag.log" 2>&1)
}
compare() {
  "$PY3" tests/poolpython/regrtest_compare.py "$TMP/$1-py3.log" "$TMP/$1-py3.xml" \
    "$TMP/$1-pool.log" "$TMP/$1-pool.xml" "${@:2}"
}

regrtest "$PY3" first-py3 "$@"
regrtest "$POOLPY" first-pool "$@"
declare -A again_ok=()
again=()
while IFS=$'\t' read -r module verdict what; do
  [[ $verdict == same ]] || again+=("$module")
done < <(compare first "$@")
if [[ ${#again[@]} -gt 0 ]]; then
  diag "differing on the first run, run again alone: ${again[*]}"
  regrtest "$PY3" again-py3 "${again[@]}"
  regrtest "$POOLPY" again-pool "${again[@]}"
  while IFS=$'\t' read -r module verdict what; do
    [[ $verdict == same ]] && again_ok[$module]=$what
  done < <(compare again "${again[@]}")
fi
while IFS=$'\t' read -r module verdict what; do
  if [[ $verdict == same ]]; then ok 0 "$module: the same under both ($what)"
  elif [[ -n ${again_ok[$module]-} ]]; then
    ok 0 "$module: the same under both on a second run (${again_ok[$module]}; first: $what)"
  else ok 1 "$module: differs ($what)"; fi
done < <(compare first "$@")
done_testing
