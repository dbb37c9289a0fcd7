/*
 * The shared-memory statistics segment a process on the preload shim
 * publishes with POOLMALLOC_EXPORT=1 (or =DIR): the file DIR/poolmalloc.<pid>
 * (DIR defaults to /dev/shm), owner-only by default, holding one
 * pool_export_segment_t. A background thread of the shim refreshes it every
 * POOLMALLOC_EXPORT_INTERVAL ms (default 1000).
 *
 * Lock-free reading: the writer makes `seq` odd, updates, makes it even. A
 * reader copies the whole segment between two reads of an equal, even
 * `seq`. Readers must still treat every field as untrusted: the file may be
 * written by anyone who can write it.
 */
#ifndef POOL_EXPORT_FORMAT_H
#define POOL_EXPORT_FORMAT_H

#include "poolalloc.h"

#include <stdint.h>

#define EXPORT_MAGIC        "POOLSHM1"
#define EXPORT_VERSION      1u
#define EXPORT_FILE_PREFIX  "poolmalloc."
#define EXPORT_DEFAULT_DIR  "/dev/shm"

typedef struct {
    char     magic[8];
    uint32_t version;
    uint32_t segment_size;        /* sizeof(pool_export_segment_t) */
    uint32_t stats_size;          /* sizeof(pool_stats_t) */
    uint32_t pid;
    char     comm[16];            /* NUL-padded */
    uint64_t start_realtime_ns;
    uint64_t interval_ms;
    uint64_t seq;                 /* odd while being written (accessed atomically) */
    uint64_t updated_realtime_ns;
    uint64_t updates;
    pool_stats_t stats;
} pool_export_segment_t;

#endif
