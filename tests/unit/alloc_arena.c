/* Arenas and pools: empty pools go back to their arena, empty arenas go
 * back to the OS (one spare kept), the fullest arena serves first, and
 * empty pools are given back with madvise after the purge delay or by
 * pool_trim, with `returned` counted. */
#define _GNU_SOURCE
#include "pattern.h"
#include "poolalloc.h"
#include "stats_check.h"
#include "tap.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define ARENA_OF(p) ((uintptr_t)(p) & ~(uintptr_t)(POOL_ARENA_SIZE - 1))
#define POOL_OF(p) ((uintptr_t)(p) & ~(uintptr_t)(POOL_POOL_SIZE - 1))

/* 512-byte blocks: 32 to a pool, so pools fill and drain quickly. Pool 0
 * of each arena holds the headers, so an arena has 63 pools of blocks. */
enum { BIG = POOL_SMALL_REQUEST_THRESHOLD, PER_POOL = POOL_POOL_SIZE / BIG };
enum { BLOCK_POOLS = POOL_POOLS_PER_ARENA - 1 };
enum { NBLK = PER_POOL * BLOCK_POOLS * 3 };   /* three arenas' worth */
static void *blk[NBLK];

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static pool_stats_t snap(void)
{
    pool_stats_t st;
    pool_stats_get(&st);
    return st;
}

static size_t fill_blocks(void)
{
    for (size_t i = 0; i < NBLK; i++) {
        blk[i] = pool_malloc(BIG);
        pat_fill(blk[i], BIG);
    }
    return NBLK;
}

/* Frees the blocks of blk[] that lie in arena `arena` (0 = any) and in
 * pools whose index within the arena is in [from, to). */
static int free_where(uintptr_t arena, unsigned from, unsigned to)
{
    int intact = 1;
    for (size_t i = 0; i < NBLK; i++) {
        if (!blk[i] || (arena && ARENA_OF(blk[i]) != arena))
            continue;
        unsigned idx = (unsigned)((POOL_OF(blk[i]) - ARENA_OF(blk[i])) / POOL_POOL_SIZE);
        if (idx < from || idx >= to)
            continue;
        intact &= pat_check(blk[i], BIG);
        pool_free(blk[i]);
        blk[i] = NULL;
    }
    return intact;
}

static void test_arena_release(void)
{
    pool_stats_t base = snap();
    fill_blocks();
    pool_stats_t full = snap();
    OK(full.arenas_current >= base.arenas_current + 3,
       "three arenas' worth of 512-byte blocks maps at least 3 arenas (%llu -> %llu)",
       (unsigned long long)base.arenas_current, (unsigned long long)full.arenas_current);
    OK(full.arenas_highwater >= full.arenas_current, "highwater >= current");

    /* Empty the first two arenas the blocks went to, one after the other. */
    uintptr_t a1 = ARENA_OF(blk[0]), a2 = 0;
    for (size_t i = 0; i < NBLK && !a2; i++)
        if (ARENA_OF(blk[i]) != a1)
            a2 = ARENA_OF(blk[i]);
    int intact = free_where(a1, 0, POOL_POOLS_PER_ARENA);
    pool_stats_t one = snap();
    OK_STATS(stats_consistent, &one, "after emptying one arena");
    OK(one.arenas_current == full.arenas_current && pool_owns((void *)a1),
       "the first empty arena is kept as the spare");
    OK(one.pools_used == full.pools_used - BLOCK_POOLS,
       "its %d pools went back to it", BLOCK_POOLS);
    intact &= free_where(a2, 0, POOL_POOLS_PER_ARENA);
    pool_stats_t two = snap();
    OK_STATS(stats_consistent, &two, "after emptying a second arena");
    OK(two.arenas_current == full.arenas_current - 1 &&
       two.arenas_released_total == full.arenas_released_total + 1,
       "the second empty arena is unmapped (current %llu -> %llu)",
       (unsigned long long)full.arenas_current, (unsigned long long)two.arenas_current);
    OK(pool_owns((void *)a1) + pool_owns((void *)a2) == 1,
       "exactly one of the two empty arenas is still ours");

    intact &= free_where(0, 0, POOL_POOLS_PER_ARENA);
    OK(intact, "every block kept its bytes");
    pool_stats_t none = snap();
    OK_STATS(stats_quiescent, &none, "after freeing everything");
    OK(none.arenas_current <= base.arenas_current + 2,
       "after freeing everything: at most the heap's current pool's arena and one spare "
       "(%llu arenas)", (unsigned long long)none.arenas_current);
    pool_trim();
    pool_stats_t trimmed = snap();
    OK(trimmed.arenas_current <= (base.arenas_current ? base.arenas_current : 1),
       "after pool_trim: only the spare is left (%llu arenas)",
       (unsigned long long)trimmed.arenas_current);
    OK(trimmed.pools_used == base.pools_used, "no pool in use");
}

/* A new pool comes from the usable arena with the fewest free pools. */
static void test_fullest_first(void)
{
    fill_blocks();
    uintptr_t arenas[3] = { ARENA_OF(blk[0]) };
    int na = 1;
    for (size_t i = 0; i < NBLK && na < 3; i++) {
        int seen = 0;
        for (int j = 0; j < na; j++)
            seen |= arenas[j] == ARENA_OF(blk[i]);
        if (!seen)
            arenas[na++] = ARENA_OF(blk[i]);
    }
    /* Leave 40, 10 and 25 free pools in the three arenas. */
    free_where(arenas[0], 0, 40);
    free_where(arenas[1], 20, 30);
    free_where(arenas[2], 30, 55);
    pool_stats_t st = snap();
    OK_STATS(stats_consistent, &st, "after punching holes in three arenas");

    static pool_arena_info_t before[64], after[64];
    size_t n = pool_arena_map(before, 64, 0);
    void *q = pool_malloc(16);   /* the test has no 16-byte pool yet: a new pool */
    pool_arena_map(after, 64, 0);
    uint32_t min_free = UINT32_MAX;
    uintptr_t got = 0;
    for (size_t i = 0; i < n; i++) {
        if (before[i].free_pools && before[i].free_pools < min_free)
            min_free = before[i].free_pools;
        if (after[i].address == before[i].address &&
            after[i].free_pools + 1 == before[i].free_pools)
            got = after[i].address;
    }
    OK(got == ARENA_OF(q), "the new pool came from the arena that lost a free pool");
    for (size_t i = 0; i < n; i++)
        if (before[i].address == got)
            OK(before[i].free_pools == min_free,
               "that arena had the fewest free pools (%u; the fewest was %u)",
               before[i].free_pools, min_free);
    pool_free(q);
    free_where(0, 0, POOL_POOLS_PER_ARENA);
    pool_trim();
}

/* Empties pools of two classes by allocating and freeing a few pools'
 * worth, so several EMPTY pools exist afterwards. */
static void make_empty_pools(void)
{
    enum { N = PER_POOL * 6 };
    void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = pool_malloc(BIG);
    for (int i = 0; i < N; i++)
        pool_free(p[i]);
}

/* Pool hand-overs are where purging runs: churn a class whose pools come
 * and go. */
static void churn_pools(void)
{
    enum { N = 200 };
    void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = pool_malloc(256);
    for (int i = 0; i < N; i++)
        pool_free(p[i]);
}

static void test_purge(void)
{
    pool_trim();
    long prev = pool_set_purge_delay_ms(-1);
    OK(pool_set_purge_delay_ms(-1) == -1, "pool_set_purge_delay_ms returns the previous value");
    OK(pool_set_purge_delay_ms(-5) == -1 && pool_set_purge_delay_ms(-1) == -1,
       "delays below -1 mean never (-1)");
    pool_stats_t st = snap();
    OK(st.purge_delay_ms == -1, "the stats report the delay");

    /* -1: never, however long the pools stay empty. */
    pool_stats_t a = snap();
    make_empty_pools();
    for (int i = 0; i < 10; i++) {
        sleep_ms(5);
        churn_pools();
    }
    pool_stats_t b = snap();
    OK(b.pools_empty > 0 && b.purged_pools == a.purged_pools && b.purges == a.purges,
       "with delay -1 empty pools stay resident (%llu empty, %llu purged)",
       (unsigned long long)b.pools_empty, (unsigned long long)(b.purged_pools - a.purged_pools));

    /* pool_trim ignores the delay. */
    size_t given = pool_trim();
    pool_stats_t c = snap();
    OK_STATS(stats_consistent, &c, "after pool_trim");
    OK(given > 0 && given == (c.purged_pools - b.purged_pools) * POOL_POOL_SIZE &&
       given == c.purged_bytes - b.purged_bytes && c.purges > b.purges,
       "pool_trim returns the bytes it gave back (%zu), counted in purged_*", given);
    OK(c.pools_empty == 0 && c.pools_returned > 0 &&
       c.bytes.returned == c.pools_returned * POOL_POOL_SIZE && c.bytes.empty_pools == 0,
       "after pool_trim no pool is empty-resident; returned = %llu pools",
       (unsigned long long)c.pools_returned);
    OK(pool_trim() == 0, "a second pool_trim has nothing to give");

    /* Returned pools serve again. */
    enum { N = 2000 };
    static void *p[N];
    int intact = 1;
    for (int i = 0; i < N; i++) {
        p[i] = pool_malloc(BIG);
        pat_fill(p[i], BIG);
    }
    pool_stats_t d = snap();
    OK(d.pools_returned < c.pools_returned && d.purged_pools == c.purged_pools,
       "returned pools are reused (%llu -> %llu), purged_pools is cumulative",
       (unsigned long long)c.pools_returned, (unsigned long long)d.pools_returned);
    for (int i = 0; i < N; i++) {
        intact &= pat_check(p[i], BIG);
        pool_free(p[i]);
    }
    OK(intact, "blocks in reused returned pools keep their bytes");

    /* Delay 0: empty pools go at the next pool hand-over a couple of ms on. */
    pool_set_purge_delay_ms(0);
    a = snap();
    make_empty_pools();
    int rounds = 0;
    for (b = snap(); b.purged_pools == a.purged_pools && rounds < 400; rounds++) {
        sleep_ms(5);
        churn_pools();
        b = snap();
    }
    OK(b.purged_pools > a.purged_pools, "with delay 0 empty pools are purged without pool_trim "
       "(%llu pools, after %d rounds)", (unsigned long long)(b.purged_pools - a.purged_pools),
       rounds);
    OK_STATS(stats_consistent, &b, "after purging on the slow path");

    /* A day: nothing ripens during the test. */
    pool_trim();
    pool_set_purge_delay_ms(86400000L);
    a = snap();
    make_empty_pools();
    for (int i = 0; i < 10; i++) {
        sleep_ms(5);
        churn_pools();
    }
    b = snap();
    OK(b.purged_pools == a.purged_pools && b.pools_empty > 0,
       "with a one-day delay nothing is purged on the slow path");
    pool_set_purge_delay_ms(prev);
}

int main(void)
{
    long def = pool_set_purge_delay_ms(-1);
    OK(def == 100, "the default purge delay is 100 ms (got %ld)", def);
    test_arena_release();
    test_fullest_first();
    pool_set_purge_delay_ms(def);
    test_purge();
    return tap_done();
}
