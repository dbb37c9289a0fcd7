#!/usr/bin/env bash
# The preload shim with our own C programs: the whole C allocation API
# (memalign, posix_memalign, valloc, pvalloc, malloc_usable_size,
# reallocarray, ...) compared line by line with glibc in every POOLMALLOC
# mode; threads with cross-thread frees; fork; threads that exit; the
# POOLMALLOCSTATS report; POOLMALLOC=debug catching an overflow;
# POOLMALLOC=malloc passing through; an unknown POOLMALLOC value.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/shim/lib.sh

skip_if_sanitized "preloading" "C API" "threads" "fork" "exiting threads" "POOLMALLOCSTATS" \
  "POOLMALLOC=debug" "POOLMALLOC=malloc" "unknown POOLMALLOC"

# ---- the shim is really in use ---------------------------------------------------
check "without the shim, pool_owns is absent" grep -q "pool_owns=absent" <("$PROGS/shim_api" owner)
check "with the shim, malloc'd blocks are the pools'" \
  grep -q "pool_owns=yes" <(LD_PRELOAD=$SHIM "$PROGS/shim_api" owner)

# ---- the C API, line by line, in every mode ----------------------------------------
"$PROGS/shim_api" >"$TMP/api.plain"
for mode in "" debug malloc malloc_debug; do
  POOLMALLOC=$mode LD_PRELOAD=$SHIM "$PROGS/shim_api" >"$TMP/api.shim" 2>"$TMP/api.err"
  ok $? "C API${mode:+ under POOLMALLOC=$mode}: shim_api ran to the end"
  while IFS=$'\t' read -r want got; do
    name=${want%% ok}; name=${name%% BAD}; name=${name%"${name##*[! ]}"}
    [[ "$got" == "$want" ]]; ok $? "C API${mode:+ ($mode)}: $name: as glibc (${want##* })"
  done < <(paste "$TMP/api.plain" "$TMP/api.shim")
done

# ---- threads, fork, exiting threads -----------------------------------------------------
same_output "threads with cross-thread frees" "$PROGS/shim_threads" 100000
POOLMALLOC=debug same_output "threads under POOLMALLOC=debug" "$PROGS/shim_threads" 20000
same_output "fork with a thread allocating, children exit 0" "$PROGS/shim_fork"
POOLMALLOC=debug same_output "fork under POOLMALLOC=debug" "$PROGS/shim_fork"
LD_PRELOAD=$SHIM "$PROGS/shim_exit_threads" >"$TMP/exit.out"
ok $? "100 threads that exit, one after another and four at a time"
read -r heaps abandoned < <(sed -n 's/.*heaps=\([0-9]*\) abandoned=\([0-9]*\).*/\1 \2/p' "$TMP/exit.out")
diag "$(cat "$TMP/exit.out")"
[[ ${heaps:-99} -le 6 ]]; ok $? "exited threads' heaps are reused: at most 6 heaps (got ${heaps:-?})"
grep -q "stats=consistent" "$TMP/exit.out"; ok $? "the statistics are consistent after they exited"
[[ ${abandoned:-0} -ge 1 ]]; ok $? "the last thread's heap is abandoned (got ${abandoned:-?})"

# ---- POOLMALLOCSTATS ---------------------------------------------------------------------
POOLMALLOCSTATS=1 LD_PRELOAD=$SHIM "$PROGS/shim_api" >/dev/null 2>"$TMP/report"
arenas=$(sed -n 's/^# arenas allocated current *= *\([0-9,]*\)$/\1/p' "$TMP/report" | tr -d ,)
total=$(sed -n 's/^Total *= *\([0-9,]*\)$/\1/p' "$TMP/report" | tr -d ,)
mapped=$(sed -n 's/^[0-9]* arenas \* 1048576 bytes\/arena *= *\([0-9,]*\)$/\1/p' "$TMP/report" | tr -d ,)
grep -q '^# arenas allocated total *= ' "$TMP/report" && grep -q '^# arenas reclaimed *= ' "$TMP/report" &&
  grep -q '^# arenas highwater mark *= ' "$TMP/report" && [[ -n "$arenas" ]]
ok $? "POOLMALLOCSTATS=1: the report at exit has the four '# arenas ...' lines"
[[ -n "$total" && "$total" == "$mapped" && "$total" -eq $((arenas * 1048576)) ]]
ok $? "POOLMALLOCSTATS=1: breakdown Total ($total) = arenas current ($arenas) * 1 MiB"
[[ $(report_mallocs "$TMP/report") -gt 100 ]]
ok $? "POOLMALLOCSTATS=1: the report counts the program's mallocs ($(report_mallocs "$TMP/report"))"
grep -q '^class   size   num pools' "$TMP/report"; ok $? "POOLMALLOCSTATS=1: the size-class table"
seq 1000 | POOLMALLOCSTATS=1 LD_PRELOAD=$SHIM sort >/dev/null 2>"$TMP/sort.report"
grep -q '^# arenas allocated total' "$TMP/sort.report"
ok $? "POOLMALLOCSTATS=1 sort: the report at exit (coreutils close stderr in an atexit handler)"
POOLMALLOCSTATS=0 LD_PRELOAD=$SHIM "$PROGS/shim_api" >/dev/null 2>"$TMP/noreport"
[[ ! -s "$TMP/noreport" ]]; ok $? "POOLMALLOCSTATS=0: no report"

# ---- POOLMALLOC=debug catching an overflow ---------------------------------------------------
LD_PRELOAD=$SHIM "$PROGS/shim_overflow" >"$TMP/ovf.out" 2>&1
ok $? "a one-byte overflow into slack passes without the debug hooks"
for mode in debug pymalloc_debug malloc_debug; do
  { POOLMALLOC=$mode LD_PRELOAD=$SHIM "$PROGS/shim_overflow" >"$TMP/ovf.out" 2>&1; } 2>/dev/null
  rc=$?
  target=$(sed -n 's/^target=\(0x[0-9a-f]*\) size=24$/\1/p' "$TMP/ovf.out")
  [[ $rc -eq 134 ]] && grep -q "buffer overflow" "$TMP/ovf.out" &&
    grep -q "block at $target: 24 bytes" "$TMP/ovf.out" && ! grep -q survived "$TMP/ovf.out"
  ok $? "POOLMALLOC=$mode: the overflow aborts (exit $rc) with a report naming block $target, 24 bytes"
done

# ---- POOLMALLOC=malloc and unknown values ------------------------------------------------------
check "POOLMALLOC=malloc: blocks come from glibc" \
  grep -q "pool_owns=no" <(POOLMALLOC=malloc LD_PRELOAD=$SHIM "$PROGS/shim_api" owner)
POOLMALLOC=nonsense LD_PRELOAD=$SHIM "$PROGS/shim_api" owner >"$TMP/bogus.out" 2>"$TMP/bogus.err"
grep -q "pool_owns=yes" "$TMP/bogus.out"
ok $? "POOLMALLOC=nonsense: the default (pools) is used"
grep -q "POOLMALLOC=nonsense is not one of" "$TMP/bogus.err" && grep -q "using pymalloc" "$TMP/bogus.err"
ok $? "POOLMALLOC=nonsense: a clear message on stderr ($(head -c 120 "$TMP/bogus.err"))"
[[ $(grep -c "POOLMALLOC=nonsense" "$TMP/bogus.err") -eq 1 ]]
ok $? "POOLMALLOC=nonsense: reported once"

done_testing
