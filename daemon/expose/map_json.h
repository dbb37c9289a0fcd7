/* The arena map as compact JSON, for the live page: every arena one string
 * of its pools, so 1,000 arenas take a few hundred kilobytes (before gzip)
 * and a millisecond or two to write, where /stats/arenas spends ~4 KiB of
 * objects on each.
 *
 *   {"total":T,"records":R,"offset":O,"limit":L,"order":"address"|"fullest",
 *    "next_offset":N|null,"pools_per_arena":64,
 *    "arenas":[["0x7f0000000000","h3u0300ff59."], ...]}
 *
 * T: the arenas the process has; R: those in the map (fewer when a
 * process's map is capped). Per pool, one letter for its state -- h header,
 * . untouched, e empty, r returned, s further pool of a multi-pool run,
 * a lost to alignment -- and for a used pool "u" then the class index (2
 * hex digits) and the used blocks (4 hex digits); its block size and blocks
 * per pool are the class's in the statistics. A run of equal pools is
 * written once, after its length in decimal ("h62.u000400": a header, 62
 * untouched pools, one used pool of class 0 with 1024 blocks used). "fullest" orders by free
 * pools, fewest first (the order the allocator fills arenas in), then
 * address. */
#ifndef POOLD_MAP_JSON_H
#define POOLD_MAP_JSON_H

#include <poolalloc.h>
#include <stdbool.h>
#include <stddef.h>

#define MAP_DEFAULT_LIMIT 1000
#define MAP_MAX_LIMIT     16384

typedef struct {
    size_t offset, limit;
    bool   fullest;         /* else address order */
} map_query_t;

/* The page of map (n records of total arenas, in address order) that q
 * asks for; map is reordered in place. A malloc'd string, or NULL. */
char *map_json(pool_arena_info_t *map, size_t n, size_t total, const map_query_t *q, size_t *len);
/* poold's own map: malloc'd, *n records of *total arenas (NULL when out of
 * memory). */
pool_arena_info_t *map_own(size_t *n, size_t *total);

#endif
