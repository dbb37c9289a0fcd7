/* pymalloc's figures as pool_stats_t; see stats_fill.h. */
#include "stats_fill.h"

#include <stdio.h>
#include <string.h>

bool stats_fill(const pymalloc_figures_t *f, pool_stats_t *st, char *why, size_t len)
{
    if (f->num_classes != POOL_NUM_SMALL_CLASSES || f->alignment != POOL_ALIGNMENT ||
        f->arena_size / f->pool_size != POOL_POOLS_PER_ARENA) {
        snprintf(why, len, "pymalloc's geometry (%u classes of %u bytes, %llu pools per arena) "
                 "does not fit the export format (%u, %u, %u)", f->num_classes, f->alignment,
                 (unsigned long long)(f->arena_size / f->pool_size), POOL_NUM_SMALL_CLASSES,
                 POOL_ALIGNMENT, POOL_POOLS_PER_ARENA);
        return false;
    }
    memset(st, 0, sizeof *st);
    st->arena_size = (uint32_t)f->arena_size;
    st->pool_size = (uint32_t)f->pool_size;
    st->pool_header_size = (uint32_t)f->pool_header_size;
    st->small_threshold = f->small_threshold;
    st->num_classes = f->num_classes;
    st->pools_per_arena = POOL_POOLS_PER_ARENA;
    st->arenas_allocated_total = f->arenas_total;
    st->arenas_released_total = f->arenas_reclaimed;
    st->arenas_highwater = f->arenas_highwater;
    st->arenas_current = f->arenas_current;
    st->mapped_bytes = f->arenas_current * f->arena_size;
    st->bytes.allocated = f->allocated;
    st->bytes.free_blocks = f->available;
    st->bytes.empty_pools = f->unused;
    st->bytes.pool_headers = f->headers;
    st->bytes.quantization = f->quantization;
    st->bytes.alignment = f->alignment_lost;
    st->pools_empty = f->unused_pools;
    for (unsigned c = 0; c < POOL_NUM_SMALL_CLASSES; c++) {
        pool_class_stats_t *cs = &st->classes[c];
        cs->size = (c + 1) * POOL_ALIGNMENT;
        cs->blocks_per_pool = (uint32_t)figures_blocks_per_pool(f, c);
        cs->pools = f->pools[c];
        cs->blocks_allocated = f->blocks_used[c];
        cs->blocks_free = f->blocks_avail[c];
        st->pools_used += f->pools[c];
    }
    return true;
}

bool stats_add_map(const pymalloc_figures_t *f, const arena_map_summary_t *m, pool_stats_t *st)
{
    if (f->arena_size != ARENA_MAP_ARENA_SIZE || f->pool_size != ARENA_MAP_POOL_SIZE ||
        f->pool_header_size != ARENA_MAP_HEADER_SIZE || m->arenas_read > f->arenas_current ||
        m->pools_empty + m->pools_untouched > f->unused_pools)
        return false;
    /* a map of every arena must say what the report says */
    bool whole = m->arenas_read == f->arenas_current;
    if (whole && m->pools_empty + m->pools_untouched != f->unused_pools)
        return false;
    for (unsigned c = 0; c < POOL_NUM_SMALL_CLASSES; c++)
        if (m->pools[c] > f->pools[c] || m->blocks_used[c] > f->blocks_used[c] ||
            m->pools_full[c] > m->pools[c] ||
            (whole && (m->pools[c] != f->pools[c] || m->blocks_used[c] != f->blocks_used[c])))
            return false;
    for (unsigned c = 0; c < POOL_NUM_SMALL_CLASSES; c++)
        st->classes[c].pools_full = m->pools_full[c];
    st->pools_untouched = m->pools_untouched;
    st->pools_empty = f->unused_pools - m->pools_untouched;
    st->bytes.untouched = m->pools_untouched * f->pool_size;
    st->bytes.empty_pools = st->pools_empty * f->pool_size;
    return true;
}
