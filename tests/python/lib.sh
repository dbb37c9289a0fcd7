# Helpers for the pymalloc suites (source after tests/lib/tap.sh, with BUILD set):
#   the module on PYTHONPATH, none of its settings inherited, and
#   require_module: ends the suite unless the module is built for a plain python3.
export PYTHONPATH=$PWD/$BUILD/python
unset POOLD_PYMALLOC_EXPORT POOLD_PYMALLOC_INTERVAL POOLD_PYMALLOC_EXPORT_MODE PYTHONMALLOC
PY=/usr/bin/python3
LIB="$PY tests/python/pymalloc_lib.py"

require_module() {
  if ! ls "$BUILD"/python/poold_pymalloc/_native*.so >/dev/null 2>&1; then
    ok 1 "poold_pymalloc is built ($BUILD/python; needs python3-dev)"
    done_testing; exit
  fi
  if ldd "$BUILD"/python/poold_pymalloc/_native*.so | grep -Eq 'lib(asan|tsan|ubsan)'; then
    skip "poold_pymalloc in real python3 processes" "built with a sanitizer, whose runtime python3 does not load (covered by the plain build)"
    done_testing; exit
  fi
}
