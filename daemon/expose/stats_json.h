/* /stats and /stats/arenas: the allocator snapshot as JSON (cJSON). */
#ifndef POOLD_STATS_JSON_H
#define POOLD_STATS_JSON_H

#include "collectors/processes.h"

#include <cjson/cJSON.h>
#include <stddef.h>

#define ARENAS_DEFAULT_LIMIT 16
#define ARENAS_MAX_LIMIT     64   /* about 4 KiB of JSON per arena */

/* Both return a malloc'd string, or NULL when out of memory. */
char *stats_json_full(size_t *len);
/* The /stats tree itself, and one exported process's (the object of the
 * "processes" array, plus "process": its resident memory): for the live
 * page, which reads figures from it by their dotted paths. NULL when out
 * of memory; release with cJSON_Delete, or stats_json_finish. */
cJSON *stats_json_tree(void);
cJSON *stats_json_process_tree(const export_snapshot_t *p);
/* Prints root compactly and deletes it. */
char *stats_json_finish(cJSON *root, size_t *len);
/* Up to limit arenas (clamped to ARENAS_MAX_LIMIT) starting at offset. */
char *stats_json_arenas(size_t offset, size_t limit, size_t *len);

#endif
