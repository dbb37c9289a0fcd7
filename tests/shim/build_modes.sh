#!/usr/bin/env bash
# The build-time defaults, each built into a private folder and preloaded:
# `make debug`'s POOL_DEBUG=1 (the pool allocator with the debug hooks unless
# POOLMALLOC says otherwise, as CPython's debug builds) and
# POOL_THRESHOLD=512 (pymalloc's threshold: no medium tier unless
# POOLMALLOC_THRESHOLD raises it).
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/shim/lib.sh

skip_if_sanitized "debug build" "threshold-512 build"
OUT=$TMP/build

# ---- POOL_DEBUG=1 (what make debug sets) -----------------------------------------
nice make --no-print-directory -s BUILD="$OUT/debug" POOL_DEBUG=1 OPT=-Og "$OUT/debug/libpoolmalloc.so" \
  >"$TMP/make-debug.log" 2>&1
ok $? "POOL_DEBUG=1 builds the shim into its own folder" || diag "$(tail -5 "$TMP/make-debug.log")"
DSHIM=$(realpath "$OUT/debug/libpoolmalloc.so")
{ LD_PRELOAD=$DSHIM "$PROGS/shim_overflow" >"$TMP/ovf.out" 2>&1; } 2>/dev/null
rc=$?
[[ $rc -ne 0 ]] && grep -q "buffer overflow" "$TMP/ovf.out" && ! grep -q survived "$TMP/ovf.out"
ok $? "debug build, POOLMALLOC unset: the hooks catch a one-byte overflow (exit $rc)"
POOLMALLOC=pymalloc LD_PRELOAD=$DSHIM "$PROGS/shim_overflow" >"$TMP/ovf.out" 2>&1
[[ $? -eq 0 ]] && grep -q survived "$TMP/ovf.out"
ok $? "debug build, POOLMALLOC=pymalloc: no hooks, the overflow lands in the block's slack"
{ LD_PRELOAD=$SHIM "$PROGS/shim_overflow" >"$TMP/ovf.out" 2>&1; } 2>/dev/null
[[ $? -eq 0 ]] && grep -q survived "$TMP/ovf.out"
ok $? "release build, POOLMALLOC unset: pymalloc, no hooks"

# ---- POOL_THRESHOLD=512 --------------------------------------------------------------
nice make --no-print-directory -s BUILD="$OUT/t512" POOL_THRESHOLD=512 "$OUT/t512/libpoolmalloc.so" \
  >"$TMP/make-t512.log" 2>&1
ok $? "POOL_THRESHOLD=512 builds the shim into its own folder" || diag "$(tail -5 "$TMP/make-t512.log")"
TSHIM=$(realpath "$OUT/t512/libpoolmalloc.so")
seq 3000 | POOLMALLOCSTATS=1 LD_PRELOAD=$TSHIM sort >/dev/null 2>"$TMP/t512.report"
grep -q "^Small block threshold = 512, in 32 size classes" "$TMP/t512.report"
ok $? "POOL_THRESHOLD=512: pymalloc's threshold and 32 classes by default"
seq 3000 | POOLMALLOCSTATS=1 POOLMALLOC_THRESHOLD=262144 LD_PRELOAD=$TSHIM sort >/dev/null \
  2>"$TMP/t512-up.report"
grep -q "^Small block threshold = 262144, in 68 size classes" "$TMP/t512-up.report"
ok $? "POOL_THRESHOLD=512 build, POOLMALLOC_THRESHOLD=262144: the medium tier back on"
seq 3000 | POOLMALLOCSTATS=1 LD_PRELOAD=$SHIM sort >/dev/null 2>"$TMP/default.report"
grep -q "^Small block threshold = 262144, in 68 size classes" "$TMP/default.report"
ok $? "release build: the medium tier up to 256 KiB by default"
done_testing
