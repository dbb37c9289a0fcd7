# TAP helpers for shell test suites: source it, then
#   ok CONDITION-EXIT-STATUS "description"   (e.g. ok $? "..." or check "desc" cmd...);
#                                            returns that status, for `ok $? "..." || diagnose`
#   check "description" command args...     passes when the command succeeds
#   skip "description" "reason"
#   diag "text"
#   done_testing                             prints the plan; exit status = failures
TAP_N=0
TAP_FAILED=0
ok() {
  local status=$1; shift
  TAP_N=$((TAP_N + 1))
  if [[ $status -eq 0 ]]; then echo "ok $TAP_N - $*"; return 0; fi
  echo "not ok $TAP_N - $*"; TAP_FAILED=$((TAP_FAILED + 1))
  return 1   # so that `ok $? "..." || { diagnose; }` runs its diagnosis
}
check() {
  local desc=$1; shift
  local out
  out=$("$@" 2>&1); local status=$?
  ok $status "$desc"
  [[ $status -ne 0 ]] && printf '%s\n' "$out" | head -20 | sed 's/^/#   /'
  return $status
}
skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1 # SKIP $2"; }
diag() { printf '# %s\n' "$*"; }
done_testing() { echo "1..$TAP_N"; [[ $TAP_FAILED -eq 0 ]]; }
