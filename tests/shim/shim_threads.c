/* A multi-threaded program with cross-thread frees, for the preload shim:
 * workers allocate pattern-filled blocks with plain malloc & co. and hand
 * most of them to other workers, who check every byte and free them. Prints
 * only what does not depend on the allocator, so its output is the same
 * with and without LD_PRELOAD; exits 1 on any damaged block.
 *
 *   shim_threads [ops-per-thread] */
#include "blockq.h"
#include "pattern.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

enum { THREADS = 4, SLOTS = 256 };
static blockq_t inbox[THREADS];
static atomic_int running;
static long ops = 100000;

typedef struct {
    int id;
    uint64_t bad, sent, freed_remote, checksum;
} worker_t;

static void check_free(worker_t *w, block_ref_t b)
{
    if (!pat_check(b.p, b.n))
        w->bad++;
    free(b.p);
}

static size_t drain(worker_t *w)
{
    block_ref_t got[64];
    size_t n = blockq_take(&inbox[w->id], got, 64);
    for (size_t i = 0; i < n; i++) {
        check_free(w, got[i]);
        w->freed_remote++;
    }
    return n;
}

static void *work(void *arg)
{
    worker_t *w = arg;
    rng_t r = { 0xabcdefULL + (uint64_t)w->id * 7919 };
    block_ref_t slot[SLOTS] = { { 0 } };
    for (long i = 0; i < ops; i++) {
        block_ref_t *s = &slot[rng_below(&r, SLOTS)];
        size_t n = rng_size(&r) + 1, op = rng_below(&r, 10);
        int to = (int)rng_below(&r, THREADS);   /* drawn always: the sequence is fixed */
        w->checksum = w->checksum * 31 + n + op;
        if (op < 4) {
            if (s->p)
                check_free(w, *s);
            *s = (block_ref_t){ op == 0 ? calloc(1, n) : malloc(n), n };
            pat_fill(s->p, n);
        } else if (op < 5 && s->p) {
            uint64_t seed = pat_seed(s->p, s->n);
            void *q = realloc(s->p, n);
            if (!pat_check_seed(q, s->n < n ? s->n : n, seed))
                w->bad++;
            *s = (block_ref_t){ q, n };
            pat_fill(q, n);
        } else if (op < 8 && s->p) {
            if (to != w->id && blockq_push(&inbox[to], *s)) {
                w->sent++;
                s->p = NULL;
            }
        } else {
            drain(w);
        }
    }
    atomic_fetch_sub(&running, 1);
    while (atomic_load(&running) > 0)
        drain(w);
    while (drain(w))
        ;
    for (int k = 0; k < SLOTS; k++)
        if (slot[k].p)
            check_free(w, slot[k]);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        ops = atol(argv[1]);
    worker_t w[THREADS] = { { 0 } };
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        blockq_init(&inbox[i]);
    atomic_store(&running, THREADS);
    for (int i = 0; i < THREADS; i++) {
        w[i].id = i;
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    uint64_t bad = 0, sent = 0, remote = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        bad += w[i].bad;
        sent += w[i].sent;
        remote += w[i].freed_remote;
        printf("worker %d checksum %016llx\n", i, (unsigned long long)w[i].checksum);
    }
    printf("handed over %s, damaged blocks %llu\n",
           sent == remote && sent > 0 ? "all" : "SOME LOST",
           (unsigned long long)bad);
    return bad || sent != remote;
}
