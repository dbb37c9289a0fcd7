/* Invariants of a pool_stats_t snapshot, for the allocator's tests.
 *
 * stats_consistent() holds for every snapshot, even one taken while other
 * threads allocate: the byte breakdown sums exactly to the mapped arenas,
 * the pool states sum to the arenas' pools, and the per-class figures sum
 * to the totals. stats_quiescent() adds what holds only when no thread is
 * between operations: live blocks equal mallocs minus frees. */
#ifndef TEST_STATS_CHECK_H
#define TEST_STATS_CHECK_H

#include "poolalloc.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

/* Records the first violated invariant in why (when non-NULL). */
#define STATS_REQUIRE(cond, ...)                          \
    do {                                                  \
        if (!(cond)) {                                    \
            if (why)                                      \
                snprintf(why, whylen, __VA_ARGS__);       \
            return false;                                 \
        }                                                 \
    } while (0)

static inline uint64_t stats_bytes_sum(const pool_bytes_t *b)
{
    return b->allocated + b->free_blocks + b->empty_pools + b->untouched + b->pool_headers +
           b->quantization + b->alignment + b->returned;
}

__attribute__((unused)) static bool stats_consistent(const pool_stats_t *st, char *why,
                                                     size_t whylen)
{
    const pool_bytes_t *b = &st->bytes;
    uint64_t mapped = st->arenas_current * st->arena_size;
    STATS_REQUIRE(stats_bytes_sum(b) == mapped,
                  "byte breakdown sums to %" PRIu64 ", arenas_current * arena_size = %" PRIu64,
                  stats_bytes_sum(b), mapped);
    STATS_REQUIRE(st->mapped_bytes == mapped, "mapped_bytes %" PRIu64 " != %" PRIu64,
                  st->mapped_bytes, mapped);
    STATS_REQUIRE(st->arenas_current == st->arenas_allocated_total - st->arenas_released_total,
                  "arenas current %" PRIu64 " != allocated %" PRIu64 " - released %" PRIu64,
                  st->arenas_current, st->arenas_allocated_total, st->arenas_released_total);
    STATS_REQUIRE(st->arenas_highwater >= st->arenas_current &&
                  st->arenas_highwater <= st->arenas_allocated_total,
                  "highwater %" PRIu64 " outside [current, allocated_total]",
                  st->arenas_highwater);
    uint64_t pools = st->pools_used + st->pools_empty + st->pools_untouched + st->pools_returned +
                     st->pools_span;
    STATS_REQUIRE(pools == st->arenas_current * st->pools_per_arena,
                  "pool states sum to %" PRIu64 ", arenas hold %" PRIu64, pools,
                  st->arenas_current * st->pools_per_arena);
    STATS_REQUIRE(b->empty_pools == st->pools_empty * st->pool_size &&
                  b->untouched == st->pools_untouched * st->pool_size &&
                  b->returned == st->pools_returned * st->pool_size,
                  "empty/untouched/returned bytes disagree with their pool counts");
    STATS_REQUIRE(b->pool_headers == st->arenas_current * st->arena_header_size,
                  "pool_headers %" PRIu64 " != %" PRIu64 " arenas * header pool", b->pool_headers,
                  st->arenas_current);
    STATS_REQUIRE(st->arena_header_size == st->pool_size &&
                  st->arena_header_size >= (st->pools_per_arena + 1) * st->pool_header_size &&
                  (st->pools_per_arena + 1) * st->pool_size == st->arena_size,
                  "geometry: one header pool and %u pools of blocks per arena",
                  st->pools_per_arena);
    STATS_REQUIRE(st->purged_bytes == st->purged_pools * st->pool_size,
                  "purged_bytes %" PRIu64 " != purged_pools * pool_size", st->purged_bytes);

    uint64_t cpools = 0, spans = 0, alloc = 0, freeb = 0, quant = 0;
    STATS_REQUIRE(st->num_classes >= POOL_NUM_SMALL_CLASSES && st->num_classes <= POOL_NUM_CLASSES,
                  "%u classes", st->num_classes);
    for (unsigned c = 0; c < st->num_classes; c++) {
        const pool_class_stats_t *cs = &st->classes[c];
        uint64_t run = (uint64_t)cs->pools_per_run * st->pool_size;
        STATS_REQUIRE(c < POOL_NUM_SMALL_CLASSES ? cs->size == (c + 1) * POOL_ALIGNMENT
                                                 : cs->size > st->classes[c - 1].size &&
                                                   cs->size <= 5 * (st->classes[c - 1].size / 4),
                      "class %u has size %u", c, cs->size);
        STATS_REQUIRE(cs->pools_per_run >= 1 && cs->pools_per_run <= 16 &&
                      (c >= POOL_NUM_SMALL_CLASSES || cs->pools_per_run == 1),
                      "class %u: runs of %u pools", c, cs->pools_per_run);
        STATS_REQUIRE(cs->blocks_per_pool == run / cs->size && cs->blocks_per_pool >= 1,
                      "class %u: %u blocks per pool", c, cs->blocks_per_pool);
        STATS_REQUIRE(cs->blocks_allocated + cs->blocks_free == cs->pools * cs->blocks_per_pool,
                      "class %u: %" PRIu64 " allocated + %" PRIu64 " free != %" PRIu64
                      " pools * %u", c, cs->blocks_allocated, cs->blocks_free, cs->pools,
                      cs->blocks_per_pool);
        STATS_REQUIRE(cs->pools_full <= cs->pools, "class %u: more full pools than pools", c);
        cpools += cs->pools;
        spans += cs->pools * (cs->pools_per_run - 1u);
        alloc += cs->blocks_allocated * cs->size;
        freeb += cs->blocks_free * cs->size;
        quant += cs->pools * (run - (uint64_t)cs->blocks_per_pool * cs->size);
    }
    STATS_REQUIRE(cpools == st->pools_used, "class pools sum to %" PRIu64 ", pools_used %" PRIu64,
                  cpools, st->pools_used);
    STATS_REQUIRE(spans == st->pools_span, "class runs span %" PRIu64 " pools, pools_span %" PRIu64,
                  spans, st->pools_span);
    STATS_REQUIRE(alloc == b->allocated, "class blocks hold %" PRIu64 " bytes, allocated %" PRIu64,
                  alloc, b->allocated);
    STATS_REQUIRE(freeb == b->free_blocks, "class free blocks hold %" PRIu64
                  " bytes, free_blocks %" PRIu64, freeb, b->free_blocks);
    STATS_REQUIRE(quant == b->quantization, "class quantization %" PRIu64 " != %" PRIu64, quant,
                  b->quantization);
    return true;
}

/* Only with every thread between operations (e.g. after joining them). */
__attribute__((unused)) static bool stats_quiescent(const pool_stats_t *st, char *why,
                                                    size_t whylen)
{
    if (!stats_consistent(st, why, whylen))
        return false;
    uint64_t live_small = 0;
    for (unsigned c = 0; c < st->num_classes; c++) {
        const pool_class_stats_t *cs = &st->classes[c];
        STATS_REQUIRE(cs->mallocs - cs->frees == cs->blocks_allocated,
                      "class %u: %" PRIu64 " mallocs - %" PRIu64 " frees != %" PRIu64 " live",
                      c, cs->mallocs, cs->frees, cs->blocks_allocated);
        live_small += cs->blocks_allocated;
    }
    STATS_REQUIRE(st->ops.malloc - st->ops.free == live_small + st->large_allocations,
                  "ops: %" PRIu64 " mallocs - %" PRIu64 " frees != %" PRIu64 " small + %" PRIu64
                  " large live", st->ops.malloc, st->ops.free, live_small, st->large_allocations);
    return true;
}

/* TAP wrappers: one test line, with the violated invariant on failure. */
#define OK_STATS(check, st, ...)                                            \
    do {                                                                    \
        char why_[256] = "";                                                \
        if (!OK(check(st, why_, sizeof why_), __VA_ARGS__))                 \
            DIAG("%s", why_);                                               \
    } while (0)

/* A snapshot now, checked; returns it. */
#define STATS_NOW(var, phase)                                               \
    pool_stats_t var;                                                       \
    pool_stats_get(&var);                                                   \
    OK_STATS(stats_consistent, &var, "stats consistent: %s", phase)

#endif
