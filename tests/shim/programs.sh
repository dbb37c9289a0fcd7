#!/usr/bin/env bash
# Real programs on the preload shim, with output identical to a plain run:
# sort (one and several threads), python3 with PYTHONMALLOC=malloc (object
# churn and threads), gcc (the object file and the compiled program's
# output), git (init, commits, log, fsck, gc), and a few of them under
# POOLMALLOC=debug and POOLMALLOC=malloc.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/shim/lib.sh
HERE=tests/shim

skip_if_sanitized "sort" "sort -n" "sort --parallel" "python3" "gcc" "compiled program" "git" \
  "sort under POOLMALLOC=debug" "python3 under POOLMALLOC=debug" "sort under POOLMALLOC=malloc"

# ---- sort ------------------------------------------------------------------
awk 'BEGIN { s = 12345; for (i = 0; i < 300000; i++) {
        s = (s * 1103515245 + 12345) % 2147483648
        printf "%08x %d line-%d\n", s, s % 100000, i % 977 } }' >"$TMP/input.txt"
same_output "sort" sort "$TMP/input.txt"
same_output "sort -n" sort -n -k2 -k3 "$TMP/input.txt"
same_output "sort --parallel" sort -u --parallel=2 -S 8M -T "$TMP" "$TMP/input.txt"

# ---- python3 ---------------------------------------------------------------
if command -v /usr/bin/python3 >/dev/null; then
  PYTHONMALLOC=malloc same_output "python3" /usr/bin/python3 "$HERE/churn.py"
else skip "python3" "/usr/bin/python3 is not installed"; fi

# ---- gcc -------------------------------------------------------------------
cat >"$TMP/prog.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; char name[24]; unsigned v; };
int main(void) {
    struct node *head = NULL;
    for (unsigned i = 0; i < 20000; i++) {
        struct node *n = malloc(sizeof *n);
        snprintf(n->name, sizeof n->name, "n%u", i * 7919u % 20000u);
        n->v = i; n->next = head; head = n;
    }
    unsigned long sum = 0; size_t len = 0;
    while (head) { struct node *n = head; head = n->next; sum += n->v * strlen(n->name); len++; free(n); }
    printf("%zu nodes, checksum %lu\n", len, sum);
    return 0;
}
C
if command -v gcc >/dev/null; then
  gcc_run() { gcc -O2 -g -c "$TMP/prog.c" -o "$TMP/prog.o" && gcc "$TMP/prog.o" -o "$TMP/prog" &&
              cat "$TMP/prog.o" && "$TMP/prog"; }
  same_output "gcc" gcc_run
  "$TMP/prog" >"$TMP/run.out"; check "compiled program" grep -q "20000 nodes" "$TMP/run.out"
else skip "gcc" "gcc is not installed"; skip "compiled program" "gcc is not installed"; fi

# ---- git -------------------------------------------------------------------
if command -v git >/dev/null; then
  same_output "git" bash "$HERE/git_session.sh"
else skip "git" "git is not installed"; fi

# ---- other modes -------------------------------------------------------------
POOLMALLOC=debug same_output "sort under POOLMALLOC=debug" sort -k2 "$TMP/input.txt"
if command -v /usr/bin/python3 >/dev/null; then
  POOLMALLOC=debug PYTHONMALLOC=malloc same_output "python3 under POOLMALLOC=debug" \
    /usr/bin/python3 "$HERE/churn.py" 2
else skip "python3 under POOLMALLOC=debug" "/usr/bin/python3 is not installed"; fi
POOLMALLOC=malloc same_output "sort under POOLMALLOC=malloc" sort "$TMP/input.txt"

done_testing
