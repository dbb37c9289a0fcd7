/*
 * The arena map of CPython's pymalloc: where every arena is, and per pool
 * its state, size class and blocks in use.
 *
 * CPython 3.11 keeps its arena table in static variables, so the map comes
 * from two things it does let us see. Arena addresses: PyObject_SetArenaAllocator
 * takes a wrapper around the arena allocator in force (it forwards every
 * call, so arenas made before it are still freed correctly); the wrapper
 * notes each arena as it is made and forgets it as it is freed. Pools: the
 * pool headers at the start of every pool of a noted arena, laid out as in
 * CPython 3.11's Objects/obmalloc.c (pool_header: ref.count, freeblock,
 * nextpool, prevpool, arenaindex, szidx, nextoffset, maxnextoffset; 48 bytes
 * on 64-bit).
 *
 * Why reading them is safe: only arenas the wrapper saw made and not yet
 * freed are read, so the memory is mapped; the reader and every pymalloc
 * call hold the GIL (3.11 has one GIL for all interpreters and obmalloc
 * needs it), so no header changes while it is read; and a header is
 * believed only if it is one CPython could have written (its class below
 * the class count, maxnextoffset = pool size - block size, count within the
 * blocks a pool holds, nextoffset within the pool, the same arena index as
 * its neighbours). Pools are carved from an arena in address order, so the
 * first pool that is not a believable header ends the carved part: the rest
 * is untouched and is not read (never faulting those pages in).
 *
 * What it cannot see: arenas CPython made before the wrapper went in (the
 * interpreter's own start-up, before site-packages ran): they are in every
 * figure of the report but not in the map; arena_map_read says how many it
 * knows. The arena allocator also serves the frames' data stack chunks
 * (16 KiB and up): only blocks of exactly an arena's size are taken for
 * arenas. A 1 MiB chunk (a frame with some 130 000 locals) would be taken
 * for one; reading it is still safe (it is mapped), its "pools" are not
 * believable headers, and the map is dropped when it then disagrees with
 * the report (more arenas mapped than there are).
 */
#ifndef POOLD_PYMALLOC_ARENA_MAP_H
#define POOLD_PYMALLOC_ARENA_MAP_H

#include "poolalloc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CPython 3.11's geometry on 64-bit (what this file's reader knows). */
#define ARENA_MAP_ARENA_SIZE  (1u << 20)
#define ARENA_MAP_POOL_SIZE   (1u << 14)
#define ARENA_MAP_POOLS       (ARENA_MAP_ARENA_SIZE / ARENA_MAP_POOL_SIZE)
#define ARENA_MAP_HEADER_SIZE 48u
#define ARENA_MAP_ALIGNMENT   16u
#define ARENA_MAP_CLASSES     32u

typedef struct {
    uint64_t pools[ARENA_MAP_CLASSES], blocks_used[ARENA_MAP_CLASSES];
    uint64_t pools_full[ARENA_MAP_CLASSES];
    uint64_t pools_empty, pools_untouched;  /* in the arenas read */
    size_t   arenas_read;
} arena_map_summary_t;

/* Puts the wrapper in (once; with the GIL held). False when the map cannot
 * be had (another pointer size, or the wrapper could not go in). */
bool arena_map_install(void);
/* The wrapper is in. */
bool arena_map_active(void);

/* Arenas known (made since the wrapper went in, not freed yet). */
size_t arena_map_count(void);

/* With the GIL held: records for the first `max` arenas known, in address
 * order, into out. Returns how many were written; *sum covers them. */
size_t arena_map_read(pool_arena_info_t *out, size_t max, arena_map_summary_t *sum);

#endif
