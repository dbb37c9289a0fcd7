/*
 * This process's statistics segment, format version 2 (allocator PYMALLOC),
 * in DIR/poolmalloc.<pid>: made at the first publish, updated in place under
 * the sequence counter, made again bigger (and renamed over the old one)
 * when the arena map outgrows it, removed at withdraw.
 */
#ifndef POOLD_PYMALLOC_SEGMENT_H
#define POOLD_PYMALLOC_SEGMENT_H

#include "export_format.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    /* settings */
    char     dir[1024];
    mode_t   mode;
    uint64_t interval_ms;
    char     allocator_version[32];
    /* the file */
    pool_export_header_t *hdr;  /* the mapping, or NULL */
    size_t   size, capacity;    /* bytes; arena records */
    char     path[1200];
    pid_t    owner;             /* the process that made it */
    uint64_t start_ns, updates;
} segment_t;

typedef struct {                /* one update */
    const pool_stats_t      *stats;
    uint32_t                 has;
    uint64_t                 metadata_bytes;
    const pool_arena_info_t *map;
    size_t                   records;
    uint64_t                 arenas_total;
} segment_update_t;

bool segment_publish(segment_t *s, const segment_update_t *u, char *err, size_t len);
/* Removes the file (if this process made it) and the mapping. */
void segment_withdraw(segment_t *s);
/* In a forked child: drops the parent's mapping without touching its file. */
void segment_forget(segment_t *s);

#endif
