/* Thread life cycles: exact remote-free counts, threads that exit while
 * owning memory and new threads that adopt their heaps, full pools of dead
 * threads coming back through the delayed list, TSD destructors that
 * allocate after the allocator's own, pool_thread_release, fork while
 * other threads allocate, and a mixed multi-threaded load in which no block
 * is ever held twice. */
#include "blockq.h"
#include "child.h"
#include "pattern.h"
#include "poolalloc.h"
#include "stats_check.h"
#include "tap.h"

#include <stdatomic.h>
#include <stdlib.h>

static pool_stats_t snap(void)
{
    pool_stats_t st;
    pool_stats_get(&st);
    return st;
}

static uint64_t live_small(const pool_stats_t *st)
{
    uint64_t n = 0;
    for (unsigned c = 0; c < POOL_NUM_CLASSES; c++)
        n += st->classes[c].blocks_allocated;
    return n;
}

static void run_threads(int n, void *(*fn)(void *), void *args, size_t argsize)
{
    pthread_t t[16];
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, fn, (char *)args + (size_t)i * argsize);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

/* ---- exact remote-free counts ---------------------------------------------- */

enum { K = 1000 };
static void *handed[K];

static void *alloc_k(void *arg)
{
    size_t n = (size_t)(uintptr_t)arg;
    for (int i = 0; i < K; i++) {
        handed[i] = pool_malloc(n);
        pat_fill(handed[i], n);
    }
    return NULL;
}

static void test_remote_counts(void)
{
    pool_free(pool_malloc(16));   /* main's own heap, so its frees below are remote */
    pthread_t t;
    pthread_create(&t, NULL, alloc_k, (void *)(uintptr_t)48);
    pthread_join(t, NULL);
    pool_stats_t a = snap();
    int intact = 1;
    for (int i = 0; i < K; i++) {
        intact &= pat_check(handed[i], 48);
        pool_free(handed[i]);
    }
    pool_stats_t b = snap();
    OK(intact, "blocks of an exited thread are intact");
    OK(b.ops.remote_free - a.ops.remote_free == K, "%d frees of another thread's blocks count "
       "%llu remote frees", K, (unsigned long long)(b.ops.remote_free - a.ops.remote_free));
    OK(b.classes[2].frees - a.classes[2].frees == K &&
       a.classes[2].blocks_allocated - b.classes[2].blocks_allocated == K,
       "class 2: %d frees, %d fewer live blocks (pending remote frees are not live)", K, K);
    OK_STATS(stats_quiescent, &b, "after the remote frees");
}

/* ---- leave and adopt --------------------------------------------------------- */

enum { THREADS = 4, PER_THREAD = 3000 };
typedef struct {
    int id;
    block_ref_t blk[PER_THREAD];
    uint64_t small, bad;
} leaver_t;
static leaver_t leavers[THREADS];
static pthread_barrier_t barrier;

static void *leave(void *arg)
{
    leaver_t *l = arg;
    rng_t r = { 0x1234567ULL * (uint64_t)(l->id + 1) };
    for (int i = 0; i < PER_THREAD; i++) {
        size_t n = rng_size(&r);
        l->blk[i] = (block_ref_t){ pool_malloc(n), n };
        pat_fill(l->blk[i].p, n);
        l->small += n >= 1 && n <= POOL_MEDIUM_MAX;
    }
    pthread_barrier_wait(&barrier);   /* all alive at once: four distinct heaps */
    return NULL;                      /* exits owning every block */
}

static void *adopt(void *arg)
{
    leaver_t *l = arg;
    void *first = pool_malloc(32);       /* takes a heap */
    pthread_barrier_wait(&barrier);      /* main looks at the heaps */
    pthread_barrier_wait(&barrier);
    for (int t = 0; t < THREADS; t++)    /* every leaver's blocks, a quarter each */
        for (int i = l->id; i < PER_THREAD; i += THREADS) {
            block_ref_t *b = &leavers[t].blk[i];
            l->bad += !pat_check(b->p, b->n);
            pool_free(b->p);
        }
    rng_t r = { 99 + (uint64_t)l->id };
    void *mine[500];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 500; i++) {
            size_t n = rng_size(&r);
            mine[i] = pool_malloc(n);
            pat_fill(mine[i], n);
            l->bad += !pat_check(mine[i], n);
        }
        for (int i = 0; i < 500; i++)
            pool_free(mine[i]);
    }
    pool_free(first);
    return NULL;
}

static void test_leave_and_adopt(void)
{
    pool_free(pool_malloc(16));          /* main has a heap too */
    pool_stats_t s0 = snap();
    for (int i = 0; i < THREADS; i++)
        leavers[i].id = i;
    pthread_barrier_init(&barrier, NULL, THREADS);
    run_threads(THREADS, leave, leavers, sizeof leavers[0]);
    pthread_barrier_destroy(&barrier);
    pool_stats_t s1 = snap();
    uint64_t small = 0;
    for (int i = 0; i < THREADS; i++)
        small += leavers[i].small;
    OK(live_small(&s1) - live_small(&s0) == small,
       "%llu small blocks of exited threads are still allocated", (unsigned long long)small);
    OK(s1.heaps_abandoned == s1.heaps - 1 && s1.heaps_abandoned >= THREADS,
       "every heap but main's is abandoned (%llu of %llu)",
       (unsigned long long)s1.heaps_abandoned, (unsigned long long)s1.heaps);
    OK_STATS(stats_quiescent, &s1, "after the leavers exited");

    static leaver_t adopters[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS + 1);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        adopters[i].id = i;
        pthread_create(&t[i], NULL, adopt, &adopters[i]);
    }
    pthread_barrier_wait(&barrier);
    pool_stats_t s2 = snap();
    OK(s2.heaps == s1.heaps, "%d new threads made no new heap (%llu -> %llu)", THREADS,
       (unsigned long long)s1.heaps, (unsigned long long)s2.heaps);
    OK(s2.heaps_abandoned == s1.heaps_abandoned - THREADS,
       "they adopted %d abandoned heaps (%llu -> %llu abandoned)", THREADS,
       (unsigned long long)s1.heaps_abandoned, (unsigned long long)s2.heaps_abandoned);
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    uint64_t bad = 0;
    for (int i = 0; i < THREADS; i++)
        bad += adopters[i].bad;
    OK(bad == 0, "the adopters found every leaver's block intact and their own too");

    pool_stats_t s3 = snap();
    OK_STATS(stats_quiescent, &s3, "after the adopters exited");
    OK(live_small(&s3) == live_small(&s0) && s3.large_allocations == s0.large_allocations,
       "everything the threads allocated is freed");
    pool_trim();
    pool_stats_t s4 = snap();
    OK(s4.arenas_current <= 1 && s4.pools_used == 0,
       "after pool_trim: at most the spare arena, no pool in use (%llu arenas, %llu pools)",
       (unsigned long long)s4.arenas_current, (unsigned long long)s4.pools_used);
}

/* ---- full pools of a dead thread --------------------------------------------------- */

enum { PER_POOL_512 = POOL_POOL_SIZE / 512, FULL_POOLS = 8 };
static void *full_blocks[PER_POOL_512 * FULL_POOLS];

static void *fill_pools(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_POOL_512 * FULL_POOLS; i++)
        full_blocks[i] = pool_malloc(512);
    return NULL;
}

static void *reuse_pools(void *arg)
{
    int *same = arg;
    void *p[PER_POOL_512 * FULL_POOLS];
    for (int i = 0; i < PER_POOL_512 * FULL_POOLS; i++) {
        p[i] = pool_malloc(512);
        for (int j = 0; j < PER_POOL_512 * FULL_POOLS; j++)
            if (((uintptr_t)p[i] & ~(uintptr_t)(POOL_POOL_SIZE - 1)) ==
                ((uintptr_t)full_blocks[j] & ~(uintptr_t)(POOL_POOL_SIZE - 1))) {
                (*same)++;
                break;
            }
    }
    for (int i = 0; i < PER_POOL_512 * FULL_POOLS; i++)
        pool_free(p[i]);
    return NULL;
}

static void test_full_pools_of_dead_thread(void)
{
    pool_trim();
    pthread_t t;
    pthread_create(&t, NULL, fill_pools, NULL);
    pthread_join(t, NULL);
    pool_stats_t a = snap();
    OK(a.classes[31].pools_full >= FULL_POOLS - 1, "the dead thread left %llu full 512-byte "
       "pools", (unsigned long long)a.classes[31].pools_full);
    for (int i = 0; i < PER_POOL_512 * FULL_POOLS; i++)
        pool_free(full_blocks[i]);
    pool_stats_t b = snap();
    OK(b.classes[31].blocks_allocated == 0, "freed remotely, their blocks are no longer live");
    int same = 0;
    pthread_create(&t, NULL, reuse_pools, &same);
    pthread_join(t, NULL);
    pool_stats_t c = snap();
    OK(same == PER_POOL_512 * FULL_POOLS && c.arenas_allocated_total == b.arenas_allocated_total,
       "a thread adopting the heap reuses those pools (%d of %d blocks), no new arena", same,
       PER_POOL_512 * FULL_POOLS);

    pthread_create(&t, NULL, fill_pools, NULL);
    pthread_join(t, NULL);
    for (int i = 0; i < PER_POOL_512 * FULL_POOLS; i++)
        pool_free(full_blocks[i]);
    pool_trim();
    pool_stats_t d = snap();
    OK(d.classes[31].pools == 0 && d.pools_used == 0,
       "pool_trim returns full pools emptied by remote frees after their thread died "
       "(%llu pools left)", (unsigned long long)d.classes[31].pools);
}

/* ---- TSD destructors that allocate after the allocator's ------------------------- */

static pthread_key_t late_key;
static blockq_t late_q;
static atomic_int late_lost;

/* Runs after the allocator's own destructor abandoned this thread's heap:
 * frees a block of that heap, then allocates blocks (small and large) that
 * the main thread checks and frees later. */
static void late_destructor(void *arg)
{
    pool_free(arg);
    for (size_t i = 0; i < 6; i++) {
        size_t n = i == 5 ? 3000 : 24 + i * 70;
        void *p = pool_malloc(n);
        pat_fill(p, n);
        if (!blockq_push(&late_q, (block_ref_t){ p, n })) {
            pool_free(p);
            atomic_fetch_add(&late_lost, 1);
        }
    }
}

static void *late_thread(void *arg)
{
    (void)arg;
    pool_free(pool_malloc(64));
    pthread_setspecific(late_key, pool_malloc(100));
    return NULL;
}

static void test_late_destructors(void)
{
    pool_free(pool_malloc(16));    /* the allocator's key exists before ours */
    pthread_key_create(&late_key, late_destructor);
    blockq_init(&late_q);
    pool_stats_t a = snap();
    enum { ROUNDS = 10, AT_ONCE = 4 };
    int bad = 0, got = 0;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_t t[AT_ONCE];
        for (int i = 0; i < AT_ONCE; i++)
            pthread_create(&t[i], NULL, late_thread, NULL);
        for (int i = 0; i < AT_ONCE; i++)
            pthread_join(t[i], NULL);
        block_ref_t b[64];
        size_t n = blockq_take(&late_q, b, 64);
        for (size_t i = 0; i < n; i++, got++) {
            bad += !pat_check(b[i].p, b[i].n);
            pool_free(b[i].p);
        }
    }
    pool_stats_t b = snap();
    OK(got == ROUNDS * AT_ONCE * 6 && atomic_load(&late_lost) == 0 && bad == 0,
       "%d threads (%d at a time) allocate in TSD destructors after their heap's exit: "
       "%d blocks, all intact", ROUNDS * AT_ONCE, AT_ONCE, got);
    OK(b.heaps - a.heaps <= AT_ONCE, "they make at most %d new heaps (%llu)", AT_ONCE,
       (unsigned long long)(b.heaps - a.heaps));
    OK(b.heaps_abandoned == b.heaps - 1, "and every heap but main's is abandoned afterwards "
       "(%llu of %llu)", (unsigned long long)b.heaps_abandoned, (unsigned long long)b.heaps);
    OK_STATS(stats_quiescent, &b, "after the late destructors");
    pthread_key_delete(late_key);
    pool_trim();
    pool_stats_t c = snap();
    OK(c.pools_used == 0 && c.arenas_current <= 1,
       "with those blocks freed, pool_trim leaves no pool in use (%llu pools, %llu arenas)",
       (unsigned long long)c.pools_used, (unsigned long long)c.arenas_current);
}

/* ---- pool_thread_release ----------------------------------------------------------- */

static void *release_midway(void *arg)
{
    int *bad = arg;
    void *before[100], *after[100];
    for (int i = 0; i < 100; i++) {
        before[i] = pool_malloc(24 + (size_t)i);
        pat_fill(before[i], 24 + (size_t)i);
    }
    pool_thread_release();
    for (int i = 0; i < 100; i++) {
        after[i] = pool_malloc(24 + (size_t)i);
        pat_fill(after[i], 24 + (size_t)i);
    }
    for (int i = 0; i < 100; i++) {
        *bad += !pat_check(before[i], 24 + (size_t)i) + !pat_check(after[i], 24 + (size_t)i);
        pool_free(before[i]);
        pool_free(after[i]);
    }
    pool_thread_release();
    pool_thread_release();          /* twice: a no-op */
    return NULL;
}

static void test_thread_release(void)
{
    int bad[3] = { 0 };
    run_threads(3, release_midway, bad, sizeof bad[0]);
    OK(bad[0] + bad[1] + bad[2] == 0, "pool_thread_release mid-life: old and new blocks intact");
    pool_stats_t st = snap();
    OK_STATS(stats_quiescent, &st, "after pool_thread_release");
    OK(st.heaps_abandoned == st.heaps - 1, "released heaps are abandoned (%llu of %llu)",
       (unsigned long long)st.heaps_abandoned, (unsigned long long)st.heaps);
}

/* ---- fork while other threads allocate ------------------------------------------- */

static atomic_int churn_stop;
static blockq_t parent_q;

/* GCC 12's AddressSanitizer does not lock its own allocator around fork(),
 * so a child forked while a churn thread is inside ASan's malloc (our large
 * requests go there) deadlocks in ASan, not in us. Under ASan the churn
 * threads stay in the pools (small and medium); the plain build also goes
 * past them. */
#if defined(__SANITIZE_ADDRESS__)
enum { CHURN_MAX = POOL_MEDIUM_MAX };
#else
enum { CHURN_MAX = POOL_MEDIUM_MAX + 8192 };
#endif

static void *churn(void *arg)
{
    rng_t r = { (uint64_t)(uintptr_t)arg };
    void *slot[64] = { 0 };
    while (!atomic_load(&churn_stop)) {
        int k = (int)rng_below(&r, 64);
        size_t n = 1 + rng_below(&r, CHURN_MAX);
        pool_free(slot[k]);
        slot[k] = pool_malloc(n);
        pat_fill(slot[k], n);
        if (rng_below(&r, 8) == 0 && blockq_push(&parent_q, (block_ref_t){ slot[k], n }))
            slot[k] = NULL;
        if (rng_below(&r, 4) == 0)
            pool_free(pool_calloc(3, n));
    }
    for (int k = 0; k < 64; k++)
        pool_free(slot[k]);
    return NULL;
}

/* In the child: free what the parent's threads handed over (their heaps
 * are dead here), churn, and check the statistics. The parent forked while
 * holding the queue's lock, so the queue is whole and ours alone. */
static void forked_child(void *arg)
{
    (void)arg;
    block_ref_t got[BLOCKQ_CAP];
    size_t n = blockq_take_locked(&parent_q, got, BLOCKQ_CAP);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += !pat_check(got[i].p, got[i].n);
        pool_free(got[i].p);
    }
    void *p[2000];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 2000; i++) {
            p[i] = pool_malloc(1 + (size_t)(i * 7) % 700);
            pat_fill(p[i], 1 + (size_t)(i * 7) % 700);
        }
        for (int i = 0; i < 2000; i++) {
            bad += !pat_check(p[i], 1 + (size_t)(i * 7) % 700);
            pool_free(p[i]);
        }
    }
    pool_trim();
    pool_stats_t st;
    pool_stats_get(&st);
    char why[256] = "";
    if (!stats_consistent(&st, why, sizeof why))
        printf("stats: %s\n", why);
    printf("child freed %zu handed blocks, %d bad\n", n, bad);
    _exit(bad || why[0] ? 1 : 0);
}

static void test_fork(void)
{
    blockq_init(&parent_q);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 7));
    int good = 0;
    enum { FORKS = 8 };
    for (int i = 0; i < FORKS; i++) {
        child_t c;
        pthread_mutex_lock(&parent_q.lock);
        child_run(&c, forked_child, NULL);
        pthread_mutex_unlock(&parent_q.lock);
        if (child_exited(&c, 0))
            good++;
        else
            child_diag(&c);
        block_ref_t got[64];
        size_t n = blockq_take(&parent_q, got, 64);   /* the parent frees some too */
        for (size_t j = 0; j < n; j++)
            pool_free(got[j].p);
    }
    atomic_store(&churn_stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    block_ref_t got[BLOCKQ_CAP];
    size_t n = blockq_take(&parent_q, got, BLOCKQ_CAP);
    for (size_t j = 0; j < n; j++)
        pool_free(got[j].p);
    OK(good == FORKS, "%d children forked while two threads allocate: each frees the parent's "
       "blocks, churns and exits 0 (%d did)", FORKS, good);
    pool_stats_t st = snap();
    OK_STATS(stats_quiescent, &st, "the parent after the forks");
}

/* ---- no block held twice: the traced programs' mix, checked ---------------- */

/* Worker threads make what tests/observe/trace_threads makes (mostly small
 * blocks, one in 16 medium, calloc, 64- and 32-byte alignments, reallocs,
 * a quarter of the frees by the next thread), each block stamped in its
 * first word with an ownership mark swapped in atomically: a block handed
 * out while another holder has it finds the mark already there. The rest of
 * the block carries a pattern checked at free and at realloc. */
enum { MIX_THREADS = 4, MIX_SLOTS = 256, MIX_GENERATIONS = 3 };
#ifdef __SANITIZE_ADDRESS__
enum { MIX_ROUNDS = 4000 };
#elif defined(__SANITIZE_THREAD__)
enum { MIX_ROUNDS = 2000 };
#else
enum { MIX_ROUNDS = 20000 };
#endif
static blockq_t mix_inbox[MIX_THREADS];
static atomic_int mix_twice, mix_bad;

static uint64_t mark_of(const void *p) { return (uint64_t)(uintptr_t)p ^ 0x6f776e6564626c6bULL; }

static void take(void *p, size_t n, bool zeroed)
{
    if (!p)
        return;
    if (zeroed && !all_zero(p, n))
        atomic_fetch_add(&mix_bad, 1);
    if (atomic_exchange((_Atomic uint64_t *)p, mark_of(p)) == mark_of(p))
        atomic_fetch_add(&mix_twice, 1);
    pat_fill((char *)p + 8, n - 8);
}

/* Checks the block and gives up its mark; the caller frees or reallocs it. */
static void give_up(void *p, size_t n)
{
    if (!pat_check((char *)p + 8, n - 8) ||
        atomic_exchange((_Atomic uint64_t *)p, 0) != mark_of(p))
        atomic_fetch_add(&mix_bad, 1);
}

static void mix_drain(int me)
{
    block_ref_t b[64];
    for (size_t k; (k = blockq_take(&mix_inbox[me], b, 64)) != 0;)
        for (size_t i = 0; i < k; i++) {
            give_up(b[i].p, b[i].n);
            pool_free(b[i].p);
        }
}

static void *mix_worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    rng_t r = { 0x9e3779b97f4a7c15ULL * (uint64_t)(me + 1) };
    block_ref_t slot[MIX_SLOTS] = { { 0 } };
    for (int round = 0; round < MIX_ROUNDS; round++) {
        block_ref_t *s = &slot[rng_below(&r, MIX_SLOTS)];
        size_t n = rng_below(&r, 16) == 0 ? 600 + rng_below(&r, 70000) : 8 + rng_below(&r, 393);
        if (s->p && rng_below(&r, 8) == 0) {
            give_up(s->p, s->n);
            void *q = pool_realloc(s->p, n);
            size_t keep = n < s->n ? n : s->n;
            if (q) {   /* the moved prefix keeps the old block's pattern */
                if (!pat_check_seed((char *)q + 8, keep - 8, pat_seed((char *)s->p + 8, s->n - 8)))
                    atomic_fetch_add(&mix_bad, 1);
                *s = (block_ref_t){ q, n };
            }
            take(s->p, s->n, false);
            continue;
        }
        if (s->p && (rng_below(&r, 4) != 0 || !blockq_push(&mix_inbox[(me + 1) % MIX_THREADS], *s))) {
            give_up(s->p, s->n);   /* a block handed on is given up by its taker */
            pool_free(s->p);
        }
        int kind = (int)rng_below(&r, 8);
        if (kind == 2)
            n = (n + 31) & ~(size_t)31;
        void *p = NULL;
        if (kind == 0)
            p = pool_calloc(1, n);
        else if (kind == 1 && pool_posix_memalign(&p, 64, n) != 0)
            p = NULL;
        else if (kind == 2)
            p = pool_aligned_alloc(32, n);
        else if (kind > 2)
            p = pool_malloc(n);
        if (p && (uintptr_t)p % (kind == 1 ? 64 : kind == 2 ? 32 : 16) != 0)
            atomic_fetch_add(&mix_bad, 1);
        take(p, n, kind == 0);
        *s = (block_ref_t){ p, p ? n : 0 };
        if ((round & 255) == 0)
            mix_drain(me);
    }
    for (int k = 0; k < MIX_SLOTS; k++)
        if (slot[k].p) {
            give_up(slot[k].p, slot[k].n);
            pool_free(slot[k].p);
        }
    mix_drain(me);
    return NULL;
}

static void test_no_block_held_twice(void)
{
    for (int i = 0; i < MIX_THREADS; i++)
        blockq_init(&mix_inbox[i]);
    for (int g = 0; g < MIX_GENERATIONS; g++) {
        pthread_t t[MIX_THREADS];
        for (int i = 0; i < MIX_THREADS; i++)
            pthread_create(&t[i], NULL, mix_worker, (void *)(intptr_t)i);
        for (int i = 0; i < MIX_THREADS; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < MIX_THREADS; i++)
            mix_drain(i);   /* what the last worker handed to a thread already gone */
    }
    OK(atomic_load(&mix_twice) == 0, "%d threads x %d generations x %d mixed operations: no block "
       "handed out while held (%d seen)", MIX_THREADS, MIX_GENERATIONS, MIX_ROUNDS,
       atomic_load(&mix_twice));
    OK(atomic_load(&mix_bad) == 0, "every block kept its pattern, alignment and zeroes (%d bad)",
       atomic_load(&mix_bad));
}

int main(void)
{
    test_remote_counts();
    test_leave_and_adopt();
    test_full_pools_of_dead_thread();
    test_late_destructors();
    test_thread_release();
    test_fork();
    test_no_block_held_twice();
    return tap_done();
}
