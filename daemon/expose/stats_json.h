/* /stats and /stats/arenas: the allocator snapshot as JSON (cJSON). */
#ifndef POOLD_STATS_JSON_H
#define POOLD_STATS_JSON_H

#include <stddef.h>

#define ARENAS_DEFAULT_LIMIT 16
#define ARENAS_MAX_LIMIT     64   /* about 4 KiB of JSON per arena */

/* Both return a malloc'd string, or NULL when out of memory. */
char *stats_json_full(size_t *len);
/* Up to limit arenas (clamped to ARENAS_MAX_LIMIT) starting at offset. */
char *stats_json_arenas(size_t offset, size_t limit, size_t *len);

#endif
