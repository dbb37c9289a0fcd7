/*
 * Arenas and their pools: the global, locked slow path.
 *
 * Every operation here runs under pool_arena_lock. A heap comes here only to
 * get a new pool or to give back an empty one, i.e. at most once per pool's
 * worth of blocks.
 *
 * As in pymalloc, the arenas that have free pools sit on the `usable` list in
 * ascending order of free pools, and a pool is always taken from the head:
 * the fullest arena first, so that nearly empty arenas can drain and be
 * unmapped. lasta[k] is the last arena with k free pools, so re-sorting after
 * a change of one costs O(1) list work. A medium run of k pools is taken from
 * the first arena on that list with k contiguous free pools (found with a
 * few shifts of the arena's free-pool mask); an arena that has none is
 * skipped, and after a bounded walk a new arena is mapped.
 *
 * Memory goes back to the kernel in two ways: an arena whose pools are all
 * empty is unmapped (at most one such arena is kept as a spare), and an
 * empty pool inside a live arena is madvise'd once it has stayed empty for
 * the purge delay. Purging runs from this slow path (and pool_trim()), never
 * from a background thread.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdlib.h>
#include <string.h>

pthread_mutex_t pool_arena_lock = PTHREAD_MUTEX_INITIALIZER;
_Atomic uint64_t pool_arena_map_bits[MAP_WORDS];

static arena_t *usable_head, *usable_tail;
static arena_t *lasta[POOLS_PER_ARENA + 1];
static arena_t *all_head;           /* every live arena, ascending address */
static arena_t *recycled;           /* descriptors of unmapped arenas */
static uint64_t region_used[(1u << (REGION_SHIFT - ARENA_SHIFT)) / 64];  /* slots in use */

static uint64_t n_allocated_total, n_released_total, n_current, n_highwater;
static uint64_t n_purges, n_purged_pools, n_purged_bytes;
static unsigned n_empty_resident;   /* pools in POOL_STATE_EMPTY */
static unsigned n_fully_free;       /* arenas with every pool free */
static uint32_t last_purge_ms;
static _Atomic long purge_delay_ms = 100;

/* ---- the usable list ------------------------------------------------------ */

static void usable_unlink(arena_t *a)
{
    unsigned k = a->nfree;
    if (lasta[k] == a)
        lasta[k] = (a->prev && a->prev->nfree == k) ? a->prev : NULL;
    if (a->prev) a->prev->next = a->next; else usable_head = a->next;
    if (a->next) a->next->prev = a->prev; else usable_tail = a->prev;
    a->next = a->prev = NULL;
}

/* Insert after the last arena with at most a->nfree free pools. */
static void usable_insert(arena_t *a)
{
    arena_t *after = NULL;
    for (unsigned j = a->nfree; j >= 1 && !after; j--)
        after = lasta[j];
    a->prev = after;
    a->next = after ? after->next : usable_head;
    if (a->next) a->next->prev = a; else usable_tail = a;
    if (after) after->next = a; else usable_head = a;
    lasta[a->nfree] = a;
}

static void set_nfree(arena_t *a, unsigned nfree)
{
    if (a->nfree > 0)
        usable_unlink(a);
    a->nfree = (uint16_t)nfree;
    if (nfree > 0)
        usable_insert(a);
}

/* ---- arena life ------------------------------------------------------------- */

static void map_bit(const arena_t *a, bool on)
{
    uintptr_t k = (uintptr_t)a->base >> ARENA_SHIFT;
    uint64_t bit = (uint64_t)1 << (k & 63);
    if (on)
        atomic_fetch_or_explicit(&pool_arena_map_bits[k >> 6], bit, memory_order_release);
    else
        atomic_fetch_and_explicit(&pool_arena_map_bits[k >> 6], ~bit, memory_order_release);
}

/* The lowest free slot of the region (keeps live arenas together), mapped. */
static char *region_take(void)
{
    size_t slots = os_region_slots();
    for (size_t w = 0; w < slots / 64; w++) {
        if (region_used[w] == ~(uint64_t)0)
            continue;
        size_t slot = w * 64 + (size_t)__builtin_ctzll(~region_used[w]);
        char *p = os_region_arena(slot);
        if (p)
            region_used[w] |= (uint64_t)1 << (slot % 64);
        return p;
    }
    return NULL;
}


static void unmap_arena(char *base)
{
    if (((uintptr_t)base >> REGION_SHIFT) == pool_region_tag) {
        size_t slot = ((uintptr_t)base & (((uintptr_t)1 << REGION_SHIFT) - 1)) >> ARENA_SHIFT;
        os_region_release(base);
        region_used[slot / 64] &= ~((uint64_t)1 << (slot % 64));
    } else {
        os_unmap(base, POOL_ARENA_SIZE);
    }
}

static arena_t *arena_new(void)
{
    char *base = region_take();
    if (!base && !(base = os_map_arena()))
        return NULL;
    arena_t *a = recycled;
    if (a)
        recycled = a->all_next;
    else if (!(a = os_meta_alloc(sizeof *a))) {
        unmap_arena(base);
        return NULL;
    }
    memset(a, 0, sizeof *a);
    a->base = base;
    a->state[0] = POOL_STATE_HEADER;    /* pool 0 holds the pool headers */
    a->free_mask = ~(uint64_t)1;

    /* keep all_head sorted by address, for a stable arena map */
    arena_t *prev = NULL, *next = all_head;
    while (next && next->base < base) {
        prev = next;
        next = next->all_next;
    }
    a->all_prev = prev;
    a->all_next = next;
    if (next) next->all_prev = a;
    if (prev) prev->all_next = a; else all_head = a;

    map_bit(a, true);
    n_allocated_total++;
    if (++n_current > n_highwater)
        n_highwater = n_current;
    n_fully_free++;
    set_nfree(a, USABLE_POOLS);
    return a;
}

static void arena_free(arena_t *a)
{
    set_nfree(a, 0);
    n_fully_free--;
    for (unsigned i = 0; i < POOLS_PER_ARENA; i++)
        if (a->state[i] == POOL_STATE_EMPTY)
            n_empty_resident--;
    if (a->all_prev) a->all_prev->all_next = a->all_next; else all_head = a->all_next;
    if (a->all_next) a->all_next->all_prev = a->all_prev;
    map_bit(a, false);
    unmap_arena(a->base);
    n_current--;
    n_released_total++;
    a->all_next = recycled;
    recycled = a;
}

/* ---- purging ------------------------------------------------------------------ */

static size_t purge_range(arena_t *a, unsigned from, unsigned to)
{
    size_t n = (size_t)(to - from) * POOL_POOL_SIZE;
    if (os_purge(a->base + (size_t)from * POOL_POOL_SIZE, n) != 0)
        return 0;
    for (unsigned i = from; i < to; i++) {
        a->state[i] = POOL_STATE_RETURNED;
        a->empty_mask &= ~((uint64_t)1 << i);
    }
    n_empty_resident -= to - from;
    n_purges++;
    n_purged_pools += to - from;
    n_purged_bytes += n;
    return n;
}

/* madvise every empty pool that has been empty for the delay (or all, when
 * forced), merging neighbours into one call. */
size_t arena_purge_locked(bool force)
{
    long delay = atomic_load_explicit(&purge_delay_ms, memory_order_relaxed);
    uint32_t now = os_now_ms();
    size_t given = 0;
    last_purge_ms = now;
    if (n_empty_resident == 0 || (delay < 0 && !force))
        return 0;
    for (arena_t *a = all_head; a && n_empty_resident; a = a->all_next) {
        if (!a->empty_mask)
            continue;           /* nothing resident to give back here */
        unsigned run = 0;
        bool in_run = false;
        for (unsigned i = 0; i <= POOLS_PER_ARENA; i++) {
            bool ripe = i < POOLS_PER_ARENA && a->state[i] == POOL_STATE_EMPTY &&
                        (force || now - a->empty_since[i] >= (uint32_t)delay);
            if (ripe && !in_run) {
                run = i;
                in_run = true;
            } else if (!ripe && in_run) {
                given += purge_range(a, run, i);
                in_run = false;
            }
        }
    }
    return given;
}

static void maybe_purge(void)
{
    long delay = atomic_load_explicit(&purge_delay_ms, memory_order_relaxed);
    if (n_empty_resident == 0 || delay < 0)
        return;
    uint32_t now = os_now_ms();
    uint32_t every = delay > 8 ? (uint32_t)delay / 4 : 2;
    if (now - last_purge_ms >= every)
        arena_purge_locked(false);
}

long arena_set_purge_delay(long ms)
{
    if (ms < -1)
        ms = -1;
    return atomic_exchange(&purge_delay_ms, ms);
}

long arena_purge_delay(void)
{
    return atomic_load_explicit(&purge_delay_ms, memory_order_relaxed);
}

/* ---- pools -------------------------------------------------------------------- */

_Static_assert(POOLS_PER_ARENA == 64, "an arena's pools fit one 64-bit mask");

/* Bits of the k-pool runs starting at each pool: the pools i..i+k-1 all free. */
static uint64_t run_starts(const arena_t *a, unsigned k)
{
    uint64_t m = a->free_mask, r = m;
    for (unsigned j = 1; j < k; j++)
        r &= m >> j;
    return r;
}

/* Where a k-pool run can start in a, or -1. A single pool is taken from
 * the resident empty pools first (their pages are still there). */
static int find_run(const arena_t *a, unsigned k)
{
    uint64_t r = k == 1 && a->empty_mask ? a->empty_mask : run_starts(a, k);
    return r ? __builtin_ctzll(r) : -1;
}

/* The fullest arena with room for k contiguous pools; a bounded walk, so
 * that a heap of arenas fragmented by single pools costs a new arena rather
 * than a long search on every run. */
enum { RUN_SEARCH_ARENAS = 32 };
static arena_t *arena_with_run(unsigned k, int *idx)
{
    unsigned seen = 0;
    for (arena_t *a = usable_head; a && seen < RUN_SEARCH_ARENAS; a = a->next) {
        if (a->nfree < k)
            continue;
        seen++;
        if ((*idx = find_run(a, k)) >= 0)
            return a;
    }
    arena_t *a = arena_new();
    *idx = a ? find_run(a, k) : -1;
    return a;
}

static void take_pools(arena_t *a, unsigned idx, unsigned k, unsigned cls)
{
    if (a->nfree == USABLE_POOLS)
        n_fully_free--;
    for (unsigned i = idx; i < idx + k; i++) {
        uint64_t bit = (uint64_t)1 << i;
        if (a->empty_mask & bit)
            n_empty_resident--;
        a->free_mask &= ~bit;
        a->empty_mask &= ~bit;
        a->state[i] = i == idx ? POOL_STATE_USED : POOL_STATE_SPAN;
        a->cls[i] = (uint8_t)cls;
    }
    set_nfree(a, a->nfree - k);
}

pool_t *arena_pool_acquire(heap_t *h, unsigned cls)
{
    unsigned k = class_pools(cls);
    int idx;
    pthread_mutex_lock(&pool_arena_lock);
    maybe_purge();
    arena_t *a = arena_with_run(k, &idx);
    if (!a) {
        pthread_mutex_unlock(&pool_arena_lock);
        return NULL;
    }
    take_pools(a, (unsigned)idx, k, cls);
    pthread_mutex_unlock(&pool_arena_lock);

    /* The headers are written outside the lock. A concurrent statistics walk
     * may read the first one early: it then sees used == 0 and xfree == 0,
     * which every pool has while it is not serving a class (see
     * arena_pool_release). The further pools of a run point back to it and
     * carry what a free checks before it needs the run: owner and class. */
    pool_t *p = pool_header(a->base, (unsigned)idx);
    for (unsigned j = 1; j < k; j++) {
        p[j].span = (uint8_t)j;
        p[j].heap = h;
        p[j].cls = (uint8_t)cls;
    }
    pool_remote(p)->arena = a;
    pool_init(p, h, cls);
    return p;
}

/* p is empty (used == 0, xfree == 0) and on no heap list. */
void arena_pool_release(pool_t *p)
{
    arena_t *a = pool_remote(p)->arena;
    unsigned idx = pool_index(p), k = class_pools(p->cls);
    p->heap = NULL;
    pthread_mutex_lock(&pool_arena_lock);
    uint32_t now = os_now_ms();
    for (unsigned i = idx; i < idx + k; i++) {
        a->state[i] = POOL_STATE_EMPTY;
        a->empty_since[i] = now;
        a->free_mask |= (uint64_t)1 << i;
        a->empty_mask |= (uint64_t)1 << i;
    }
    n_empty_resident += k;
    set_nfree(a, a->nfree + k);
    if (a->nfree == USABLE_POOLS && ++n_fully_free > 1)
        arena_free(a);              /* keep at most one spare arena */
    maybe_purge();
    pthread_mutex_unlock(&pool_arena_lock);
}

/* ---- statistics ------------------------------------------------------------------ */

/* What one pool holds right now, read from a header another thread may be
 * writing. used and the remote-free count are read separately, so the result
 * is clamped into [0, nblocks]; the byte identity does not depend on it. */
static unsigned pool_live_blocks(const pool_t *p, unsigned nblocks)
{
    uint32_t used = LOAD_COUNTER(&p->used);
    uint32_t pending = XFREE_COUNT(atomic_load_explicit(&pool_remote(p)->xfree,
                                                        memory_order_relaxed));
    if (pending >= used)
        return 0;
    used -= pending;
    return used > nblocks ? nblocks : used;
}

static void pool_info(const arena_t *a, unsigned i, pool_pool_info_t *out)
{
    out->state = a->state[i];
    out->size_class = a->state[i] == POOL_STATE_USED || a->state[i] == POOL_STATE_SPAN ? a->cls[i] : 0;
    out->used = out->blocks = 0;
    if (a->state[i] == POOL_STATE_USED) {
        unsigned nb = class_blocks(a->cls[i]);
        out->blocks = (uint16_t)nb;
        out->used = (uint16_t)pool_live_blocks(pool_header(a->base, i), nb);
    }
}

void arena_stats_locked(pool_stats_t *st)
{
    st->arenas_allocated_total = n_allocated_total;
    st->arenas_released_total = n_released_total;
    st->arenas_highwater = n_highwater;
    st->arenas_current = n_current;
    st->mapped_bytes = n_current * POOL_ARENA_SIZE;
    st->purges = n_purges;
    st->purged_pools = n_purged_pools;
    st->purged_bytes = n_purged_bytes;

    pool_bytes_t *b = &st->bytes;
    for (const arena_t *a = all_head; a; a = a->all_next) {
        for (unsigned i = 0; i < POOLS_PER_ARENA; i++) {
            pool_pool_info_t pi;
            pool_info(a, i, &pi);
            switch (pi.state) {
            case POOL_STATE_USED: {
                pool_class_stats_t *cs = &st->classes[pi.size_class];
                size_t bs = class_size(pi.size_class);
                st->pools_used++;
                cs->pools++;
                cs->pools_full += pi.used == pi.blocks;
                cs->blocks_allocated += pi.used;
                cs->blocks_free += (uint64_t)(pi.blocks - pi.used);
                b->allocated += pi.used * bs;
                b->free_blocks += (uint64_t)(pi.blocks - pi.used) * bs;
                b->quantization += (uint64_t)class_pools(pi.size_class) * POOL_POOL_SIZE -
                                   pi.blocks * bs;
                break;
            }
            case POOL_STATE_SPAN:       /* its bytes are counted with the run's first pool */
                st->pools_span++;
                break;
            case POOL_STATE_HEADER:
                b->pool_headers += POOL_POOL_SIZE;
                break;
            case POOL_STATE_EMPTY:
                st->pools_empty++;
                b->empty_pools += POOL_POOL_SIZE;
                break;
            case POOL_STATE_RETURNED:
                st->pools_returned++;
                b->returned += POOL_POOL_SIZE;
                break;
            default:
                st->pools_untouched++;
                b->untouched += POOL_POOL_SIZE;
                break;
            }
        }
    }
    b->alignment = 0;   /* arenas are mapped 1 MiB-aligned: nothing is lost */
}

size_t arena_map_locked(pool_arena_info_t *out, size_t max, size_t skip)
{
    size_t n = 0, copied = 0;
    for (const arena_t *a = all_head; a; a = a->all_next, n++) {
        if (n < skip || copied >= max)
            continue;
        pool_arena_info_t *r = &out[copied++];
        r->address = (uintptr_t)a->base;
        r->free_pools = a->nfree;
        for (unsigned i = 0; i < POOLS_PER_ARENA; i++)
            pool_info(a, i, &r->pools[i]);
    }
    return n;
}
