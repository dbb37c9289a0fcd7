/* Statistics snapshots.
 *
 * Nothing on the fast path keeps a shared counter. A snapshot walks every
 * arena under the arena lock (which only pool hand-overs contend for) and
 * reads each pool's header once; every byte figure for a pool is derived
 * from that one reading, so the breakdown sums exactly to the arenas
 * walked, whatever the other threads do meanwhile. Operation counts are
 * per-heap counters summed afterwards.
 *
 * Blocks in threads' caches of freed blocks still count as used in their
 * pools; they are moved to the free side here, per class (the caller's own
 * caches are emptied first, so a single-threaded program sees its pools'
 * figures exactly too). The move keeps the byte identity. */
#include "internal.h"

#include <string.h>

static void fill_geometry(pool_stats_t *st)
{
    st->arena_size = POOL_ARENA_SIZE;
    st->pool_size = POOL_POOL_SIZE;
    st->pool_header_size = 2 * LINE;
    st->arena_header_size = POOL_POOL_SIZE;
    st->small_threshold = (uint32_t)threshold();
    st->num_classes = (uint32_t)class_of(threshold()) + 1;   /* the classes in use */
    st->pools_per_arena = USABLE_POOLS;
    for (unsigned c = 0; c < st->num_classes; c++) {   /* the rest stay zero */
        st->classes[c].size = (uint32_t)class_size(c);
        st->classes[c].blocks_per_pool = class_blocks(c);
        st->classes[c].pools_per_run = class_pools(c);
    }
}

static void flush_own_caches(void)
{
    heap_t *h = pool_tls_heap;
    if (h != &pool_heap_empty)
        for (unsigned c = 0; c < NCLASSES; c++)
            heap_cache_flush(h, &h->cls[c]);
}

static void uncount_cached(pool_stats_t *st)
{
    for (unsigned c = 0; c < NCLASSES; c++) {
        pool_class_stats_t *cs = &st->classes[c];
        uint64_t n = cs->blocks_cached < cs->blocks_allocated ? cs->blocks_cached
                                                              : cs->blocks_allocated;
        cs->blocks_cached = n;
        cs->blocks_allocated -= n;
        cs->blocks_free += n;
        st->bytes.allocated -= n * cs->size;
        st->bytes.free_blocks += n * cs->size;
    }
}

int pool_stats_get(pool_stats_t *st)
{
    pool_ensure_init();
    flush_own_caches();
    memset(st, 0, sizeof *st);
    fill_geometry(st);
    pthread_mutex_lock(&pool_arena_lock);
    arena_stats_locked(st);
    pthread_mutex_unlock(&pool_arena_lock);
    heap_sum_stats(st);
    uncount_cached(st);
    st->purge_delay_ms = arena_purge_delay();
    return 0;
}

size_t pool_arena_map(pool_arena_info_t *out, size_t max, size_t skip)
{
    pool_ensure_init();
    flush_own_caches();
    pthread_mutex_lock(&pool_arena_lock);
    size_t n = arena_map_locked(out, out ? max : 0, skip);
    pthread_mutex_unlock(&pool_arena_lock);
    return n;
}
