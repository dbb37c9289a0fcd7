/* Randomized stress from several threads with cross-thread frees.
 *
 * Each worker keeps a table of blocks and does random operations on it:
 * malloc / calloc / aligned / realloc / free, and hands blocks to other
 * workers through queues, so most blocks are freed by a thread that did not
 * allocate them. Every block is filled with a pattern derived from its
 * address and size, and every byte is checked before it is freed, resized
 * or passed on. Meanwhile a statistics thread takes snapshots (and arena
 * maps, and trims) and checks the byte identity on each.
 *
 * Two phases: one long-lived thread per lane, then eight generations of
 * short-lived threads per lane, each exiting while it still owns its table
 * of blocks, which the next generation (on an adopted heap, or a new one)
 * takes over, checks and frees.
 *
 *   alloc_stress [ops-per-lane] */
#include "blockq.h"
#include "pattern.h"
#include "poolalloc.h"
#include "stats_check.h"
#include "tap.h"

#include <stdatomic.h>
#include <stdlib.h>

/* Operations per worker, well inside the timeout: a 1% share of blocks up to
 * 288 KiB, filled and checked, with a 1 ms purge delay (runs of up to 16
 * pools given back and faulted in again), costs more than the rest. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
enum { DEFAULT_OPS = 30000 };
#else
enum { DEFAULT_OPS = 250000 };
#endif
enum { WORKERS = 4, SLOTS = 512 };

typedef struct {
    int id;
    int gens;                   /* threads in a row on this lane */
    long ops_per_gen;
    rng_t rng;
    block_ref_t slot[SLOTS];
    uint64_t bad_bytes, bad_shape, sent, received, ops;
} worker_t;

static worker_t workers[WORKERS];
static blockq_t inbox[WORKERS];
static long ops_per_worker = DEFAULT_OPS;
static atomic_int workers_left;

/* ---- one block ------------------------------------------------------------ */

static void shape_check(worker_t *w, const void *p, size_t n, size_t align)
{
    if (!p || ((uintptr_t)p & (align - 1)) || pool_usable_size(p) < n)
        w->bad_shape++;
}

static void verify(worker_t *w, block_ref_t b)
{
    if (b.p && !pat_check(b.p, b.n))
        w->bad_bytes++;
}

static void release(worker_t *w, block_ref_t *b)
{
    verify(w, *b);
    pool_free(b->p);
    b->p = NULL;
    b->n = 0;
}

static block_ref_t fresh(worker_t *w)
{
    size_t n = rng_size(&w->rng);
    size_t align = POOL_ALIGNMENT;
    void *p;
    switch (rng_below(&w->rng, 10)) {
    case 0:
    case 1: {
        size_t k = 1 + rng_below(&w->rng, 8);
        n = (n / k) * k;
        p = pool_calloc(k, n / k);
        if (p && !all_zero(p, n))
            w->bad_bytes++;
        break;
    }
    case 2:
        align = (size_t)1 << (4 + rng_below(&w->rng, 9));   /* 16 .. 4096 */
        p = pool_aligned_alloc(align, n);
        break;
    case 3:
        p = pool_realloc(NULL, n);
        break;
    default:
        p = pool_malloc(n);
    }
    shape_check(w, p, n, align);
    pat_fill(p, n);
    return (block_ref_t){ p, n };
}

static void resize(worker_t *w, block_ref_t *b)
{
    size_t m = rng_size(&w->rng);
    if (m == 0)
        m = 1;     /* realloc(p, 0) frees: that is free's job here */
    verify(w, *b);
    uint64_t seed = pat_seed(b->p, b->n);
    void *q = pool_realloc(b->p, m);
    shape_check(w, q, m, POOL_ALIGNMENT);
    if (!pat_check_seed(q, b->n < m ? b->n : m, seed))
        w->bad_bytes++;
    pat_fill(q, m);
    *b = (block_ref_t){ q, m };
}

/* ---- the workers ------------------------------------------------------------------ */

/* Returns how many blocks it took (at most 64). */
static size_t drain_inbox(worker_t *w)
{
    block_ref_t got[64];
    size_t n = blockq_take(&inbox[w->id], got, 64);
    for (size_t i = 0; i < n; i++) {
        w->received++;
        block_ref_t *s = &w->slot[rng_below(&w->rng, SLOTS)];
        if (s->p || rng_below(&w->rng, 2))
            release(w, &got[i]);          /* a cross-thread free */
        else
            *s = got[i];                  /* keep it; freed later, also cross-thread */
    }
    return n;
}

/* One thread of a lane: random operations, then either exit owning the
 * lane's blocks (the next generation takes them) or, as the last one, wait
 * for the other lanes and free everything. */
static void *worker_main(void *arg)
{
    worker_t *w = arg;
    for (long i = 0; i < w->ops_per_gen; i++) {
        block_ref_t *s = &w->slot[rng_below(&w->rng, SLOTS)];
        size_t op = rng_below(&w->rng, 100);
        if (op < 35) {
            if (s->p)
                release(w, s);
            *s = fresh(w);
        } else if (op < 50) {
            if (s->p)
                resize(w, s);
        } else if (op < 70) {
            if (s->p)
                release(w, s);
        } else if (op < 90) {
            int to = (int)rng_below(&w->rng, WORKERS);
            if (s->p && to != w->id) {
                verify(w, *s);
                if (blockq_push(&inbox[to], *s)) {
                    w->sent++;
                    s->p = NULL;
                }
            }
        } else {
            drain_inbox(w);
        }
        w->ops++;
    }
    if (--w->gens > 0)
        return NULL;               /* exits owning memory */
    atomic_fetch_sub(&workers_left, 1);
    /* Keep receiving until every worker is done sending. */
    while (atomic_load(&workers_left) > 0)
        drain_inbox(w);
    while (drain_inbox(w))
        ;
    for (int k = 0; k < SLOTS; k++)
        if (w->slot[k].p)
            release(w, &w->slot[k]);
    return NULL;
}

/* Runs the lane's generations one after another; allocates nothing itself. */
static void *lane_main(void *arg)
{
    worker_t *w = arg;
    while (w->gens > 0) {
        pthread_t t;
        pthread_create(&t, NULL, worker_main, w);
        pthread_join(t, NULL);
    }
    return NULL;
}

/* ---- the statistics thread ------------------------------------------------------- */

static atomic_int stop_stats;
static char stats_why[256];
static uint64_t snapshots, bad_snapshots, bad_maps;
static pool_arena_info_t map[32];

static void *stats_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_stats)) {
        pool_stats_t st;
        pool_stats_get(&st);
        char why[256];
        if (!stats_consistent(&st, why, sizeof why) && bad_snapshots++ == 0)
            memcpy(stats_why, why, sizeof why);
        size_t n = pool_arena_map(map, 32, 0);
        for (size_t a = 0; a < n && a < 32; a++)
            for (unsigned p = 0; p < POOL_POOLS_PER_ARENA; p++)
                bad_maps += map[a].pools[p].used > map[a].pools[p].blocks;
        if (++snapshots % 64 == 0)
            pool_trim();
    }
    return NULL;
}

/* One phase: WORKERS lanes of `gens` threads each, with the statistics
 * thread running throughout; then the checks. */
static void run_phase(const char *name, int gens)
{
    pool_stats_t before;
    pool_stats_get(&before);
    memset(workers, 0, sizeof workers);
    snapshots = bad_snapshots = bad_maps = 0;
    atomic_store(&stop_stats, 0);
    atomic_store(&workers_left, WORKERS);
    pthread_t wt[WORKERS], stt;
    pthread_create(&stt, NULL, stats_main, NULL);
    for (int i = 0; i < WORKERS; i++) {
        workers[i].id = i;
        workers[i].gens = gens;
        workers[i].ops_per_gen = ops_per_worker / gens;
        workers[i].rng.s = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1) + (uint64_t)gens;
        pthread_create(&wt[i], NULL, lane_main, &workers[i]);
    }
    for (int i = 0; i < WORKERS; i++)
        pthread_join(wt[i], NULL);
    atomic_store(&stop_stats, 1);
    pthread_join(stt, NULL);

    uint64_t bad_bytes = 0, bad_shape = 0, sent = 0, received = 0, ops = 0;
    for (int i = 0; i < WORKERS; i++) {
        bad_bytes += workers[i].bad_bytes;
        bad_shape += workers[i].bad_shape;
        sent += workers[i].sent;
        received += workers[i].received;
        ops += workers[i].ops;
    }
    OK(ops == (uint64_t)WORKERS * (uint64_t)(ops_per_worker / gens * gens),
       "%s: %d lanes of %d thread(s) did %llu operations", name, WORKERS, gens,
       (unsigned long long)ops);
    OK(bad_bytes == 0, "%s: every byte of every block was intact when checked (%llu bad)", name,
       (unsigned long long)bad_bytes);
    OK(bad_shape == 0, "%s: every result was non-NULL, aligned and big enough (%llu bad)", name,
       (unsigned long long)bad_shape);
    OK(sent > 0 && sent == received, "%s: %llu blocks handed between threads, all received",
       name, (unsigned long long)sent);
    if (!OK(bad_snapshots == 0, "%s: %llu concurrent snapshots all consistent (%llu not)", name,
            (unsigned long long)snapshots, (unsigned long long)bad_snapshots))
        DIAG("first: %s", stats_why);
    OK(snapshots > 0, "%s: the statistics thread took snapshots while the workers ran", name);
    OK(bad_maps == 0, "%s: concurrent arena maps never show more used blocks than a pool holds",
       name);

    pool_stats_t after;
    pool_stats_get(&after);
    OK_STATS(stats_quiescent, &after, "%s: after joining, live blocks = mallocs - frees", name);
    OK(after.ops.remote_free - before.ops.remote_free > 0, "%s: cross-thread frees happened "
       "(%llu)", name, (unsigned long long)(after.ops.remote_free - before.ops.remote_free));
    uint64_t live = 0;
    for (unsigned c = 0; c < POOL_NUM_CLASSES; c++)
        live += after.classes[c].blocks_allocated;
    OK(live == 0 && after.large_allocations == 0, "%s: no block is left allocated (%llu small, "
       "%llu large)", name, (unsigned long long)live,
       (unsigned long long)after.large_allocations);
    OK(after.heaps_abandoned == after.heaps && after.heaps >= 1,
       "%s: every heap is abandoned once its thread exited (%llu of %llu; main has none)", name,
       (unsigned long long)after.heaps_abandoned, (unsigned long long)after.heaps);

    pool_trim();
    pool_stats_t trimmed;
    pool_stats_get(&trimmed);
    OK_STATS(stats_quiescent, &trimmed, "%s: after pool_trim", name);
    OK(trimmed.arenas_current <= 1 && trimmed.pools_used == 0,
       "%s: after everything is freed and trimmed: at most one spare arena, no pool in use "
       "(%llu arenas, %llu pools used)", name, (unsigned long long)trimmed.arenas_current,
       (unsigned long long)trimmed.pools_used);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        ops_per_worker = atol(argv[1]);
    pool_set_purge_delay_ms(1);    /* purging runs on the slow paths too */
    for (int i = 0; i < WORKERS; i++)
        blockq_init(&inbox[i]);
    run_phase("long-lived threads", 1);
    run_phase("8 generations of threads", 8);
    return tap_done();
}
