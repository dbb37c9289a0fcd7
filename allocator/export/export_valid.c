/* Checking a segment's figures and arena map; the rules are in
 * export_format.h, the entry points in export_reader.h. */
#include "export_valid.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_ARENAS ((uint64_t)1 << 27)   /* 128 TiB of arenas: more is a lie */

export_error_t export_why(export_error_t e, char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return e;
}

/* ---- the statistics ------------------------------------------------------------------- */

/* This build's classes (what a POOLALLOC publisher must have): the sizes
 * of pool_class_size(), a small class in one pool, a medium one in a run of
 * 1..16 pools holding blocks_per_pool blocks; num_classes covers the
 * publisher's threshold (512 .. 256 KiB). */
static bool geometry_is_build(const pool_stats_t *st)
{
    if (st->arena_size != POOL_ARENA_SIZE || st->pool_size != POOL_POOL_SIZE ||
        st->num_classes < POOL_NUM_SMALL_CLASSES || st->num_classes > POOL_NUM_CLASSES ||
        st->pools_per_arena != POOL_POOLS_PER_ARENA - 1 ||
        st->small_threshold < POOL_SMALL_REQUEST_THRESHOLD ||
        st->small_threshold > POOL_MEDIUM_MAX ||
        pool_class_size(st->num_classes - 1) < st->small_threshold ||
        (st->num_classes > POOL_NUM_SMALL_CLASSES &&
         pool_class_size(st->num_classes - 2) >= st->small_threshold))
        return false;
    for (unsigned c = 0; c < st->num_classes; c++) {
        const pool_class_stats_t *cs = &st->classes[c];
        uint32_t size = pool_class_size(c), run = cs->pools_per_run;
        if (cs->size != size || run < 1 || run > 16 || (c < POOL_NUM_SMALL_CLASSES && run != 1) ||
            cs->blocks_per_pool != run * POOL_POOL_SIZE / size)
            return false;
    }
    return true;
}

static bool pow2_between(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

/* Another allocator's own geometry: sizes that can be true together. */
static bool geometry_plausible(const pool_stats_t *st)
{
    if (!pow2_between(st->pool_size, 1024, 1u << 20) ||
        !pow2_between(st->arena_size, st->pool_size, 64u << 20) ||
        st->pools_per_arena == 0 || st->pools_per_arena > st->arena_size / st->pool_size ||
        st->num_classes == 0 || st->num_classes > POOL_NUM_CLASSES ||
        st->pool_header_size >= st->pool_size || st->small_threshold > st->pool_size)
        return false;
    uint32_t prev = 0;
    for (unsigned c = 0; c < st->num_classes; c++) {
        const pool_class_stats_t *cs = &st->classes[c];
        uint64_t room = (uint64_t)cs->blocks_per_pool * cs->size;
        if (cs->size <= prev || cs->size % 8 || cs->size > st->small_threshold ||
            cs->blocks_per_pool == 0 || room > st->pool_size)
            return false;
        prev = cs->size;
    }
    return prev == st->small_threshold;
}

static bool bytes_add_up(const pool_stats_t *st)
{
    const pool_bytes_t *b = &st->bytes;
    uint64_t parts[] = { b->allocated, b->free_blocks, b->empty_pools, b->untouched,
                         b->pool_headers, b->quantization, b->alignment, b->returned };
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i] > st->mapped_bytes)
            return false;
        sum += parts[i];
    }
    return sum == st->mapped_bytes;
}

/* Every class: its pools within the pools in use, its blocks filling its
 * pools; together they make the allocated and free bytes. Each bound is
 * checked before it is used in a product, so nothing wraps. */
static bool classes_fit(const pool_stats_t *st, uint32_t has)
{
    uint64_t pools = 0, spans = 0, allocated = 0, free_bytes = 0;
    for (unsigned c = 0; c < POOL_NUM_CLASSES; c++) {
        const pool_class_stats_t *cs = &st->classes[c];
        if (c >= st->num_classes) {
            static const pool_class_stats_t zero;
            if (memcmp(cs, &zero, sizeof zero) != 0)
                return false;
            continue;
        }
        /* a run of pools_per_run pools (0: an allocator without runs) */
        uint32_t run = cs->pools_per_run ? cs->pools_per_run : 1;
        if (cs->pools > st->pools_used || cs->pools_full > cs->pools || run > 16)
            return false;
        uint64_t blocks = cs->pools * cs->blocks_per_pool;
        if (cs->blocks_allocated > blocks || cs->blocks_free > blocks ||
            cs->blocks_allocated + cs->blocks_free != blocks || cs->blocks_cached > cs->blocks_free)
            return false;
        if ((!(has & EXPORT_HAS_OPS) && (cs->mallocs || cs->frees)) ||
            (!(has & EXPORT_HAS_CACHE) && cs->blocks_cached))
            return false;
        pools += cs->pools;
        spans += cs->pools * (run - 1);
        allocated += cs->blocks_allocated * cs->size;
        free_bytes += cs->blocks_free * cs->size;
    }
    return pools == st->pools_used && spans == st->pools_span && allocated == st->bytes.allocated &&
           free_bytes == st->bytes.free_blocks;
}

/* The pools of blocks by state (a medium run's further pools included),
 * and those lost to alignment (whose bytes are bytes.alignment), make every
 * arena's pools. */
static bool pools_fit(const pool_stats_t *st)
{
    uint64_t all = st->arenas_current * st->pools_per_arena;
    if (st->pools_used > all || st->pools_empty > all || st->pools_untouched > all ||
        st->pools_returned > all || st->pools_span > all)
        return false;
    uint64_t states = st->pools_used + st->pools_empty + st->pools_untouched + st->pools_returned +
                      st->pools_span;
    return states <= all && (all - states) * st->pool_size == st->bytes.alignment;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* A group the allocator does not keep must be all zeros. */
static bool missing_groups_zero(const pool_stats_t *st, uint32_t has)
{
    if (!(has & EXPORT_HAS_OPS) && !all_zero(&st->ops, sizeof st->ops))
        return false;
    if (!(has & EXPORT_HAS_PURGE) &&
        (st->purges || st->purged_pools || st->purged_bytes || st->purge_delay_ms))
        return false;
    if (!(has & EXPORT_HAS_HEAPS) && (st->heaps || st->heaps_abandoned))
        return false;
    if (!(has & EXPORT_HAS_LARGE) &&
        (st->large_allocations || st->large_bytes || st->large_mallocs || st->large_bytes_total ||
         !all_zero(st->large_hist, sizeof st->large_hist)))
        return false;
    return true;
}

/* Everything but the geometry, which export_stats_valid and version 1 check
 * each their way. */
bool export_stats_consistent(const pool_stats_t *st, uint32_t has, char *why, size_t len)
{
    const char *bad = NULL;
    if (st->arenas_current > MAX_ARENAS || st->arenas_allocated_total > ((uint64_t)1 << 62) ||
        st->arenas_released_total > st->arenas_allocated_total ||
        st->arenas_current != st->arenas_allocated_total - st->arenas_released_total ||
        st->arenas_highwater < st->arenas_current ||
        st->mapped_bytes != st->arenas_current * st->arena_size)
        bad = "arena counts are inconsistent";
    else if (!pools_fit(st))
        bad = "pool counts do not add up";
    else if (!bytes_add_up(st))
        bad = "byte breakdown does not add up";
    else if (!classes_fit(st, has))
        bad = "size-class figures are inconsistent";
    else if (st->large_allocations > st->large_mallocs || st->heaps_abandoned > st->heaps)
        bad = "large-block or heap counts are inconsistent";
    else if (!missing_groups_zero(st, has))
        bad = "figures of a group the allocator does not keep";
    if (bad)
        export_why(EXPORT_ERR_INCONSISTENT, why, len, "%s", bad);
    return bad == NULL;
}

bool export_stats_valid(const pool_stats_t *st, uint32_t allocator, uint32_t has, char *why,
                        size_t len)
{
    bool ours = allocator == EXPORT_ALLOCATOR_POOLALLOC;
    if (ours ? !geometry_is_build(st) : !geometry_plausible(st)) {
        export_why(EXPORT_ERR_INCONSISTENT, why, len, "%s",
                 ours ? "geometry differs from this build" : "geometry is implausible");
        return false;
    }
    return export_stats_consistent(st, has, why, len);
}

/* ---- the arena map ----------------------------------------------------------------------- */

static const char *record_problem(const pool_arena_info_t *a, const pool_stats_t *st,
                                  uint32_t allocator)
{
    bool ours = allocator == EXPORT_ALLOCATOR_POOLALLOC;
    if (ours && a->address % POOL_ARENA_SIZE)
        return "an arena address is not aligned";
    unsigned free_pools = 0;
    uint8_t prev = POOL_STATE_HEADER;
    for (unsigned i = 0; i < POOL_POOLS_PER_ARENA; prev = a->pools[i++].state) {
        const pool_pool_info_t *p = &a->pools[i];
        switch (p->state) {
        case POOL_STATE_UNTOUCHED: case POOL_STATE_EMPTY: case POOL_STATE_RETURNED:
            free_pools++;
            break;
        case POOL_STATE_USED:
            if (p->size_class >= st->num_classes ||
                p->blocks != st->classes[p->size_class].blocks_per_pool || p->used > p->blocks)
                return "a used pool disagrees with its size class";
            break;
        case POOL_STATE_HEADER:
            if (ours && i != 0)
                return "a header pool out of place";
            break;
        case POOL_STATE_SPAN:
            if (prev != POOL_STATE_USED && prev != POOL_STATE_SPAN)
                return "a run's further pool without its first";
            break;
        case POOL_STATE_ALIGNMENT:
            if (ours)
                return "an alignment pool in an aligned arena";
            break;
        default:
            return "a pool state out of range";
        }
        if (ours && i == 0 && p->state != POOL_STATE_HEADER)
            return "pool 0 is not the header pool";
    }
    return free_pools == a->free_pools ? NULL : "free_pools disagrees with the pools";
}

bool export_map_valid(const pool_arena_info_t *map, size_t n, const pool_stats_t *st,
                      uint32_t allocator, char *why, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        const char *bad = i && map[i].address <= map[i - 1].address
                              ? "arena addresses are not ascending"
                              : record_problem(&map[i], st, allocator);
        if (bad) {
            export_why(EXPORT_ERR_MAP, why, len, "arena record %zu: %s", i, bad);
            return false;
        }
    }
    return true;
}

