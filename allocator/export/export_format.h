/*
 * The shared-memory statistics segment a process on the preload shim
 * publishes with POOLMALLOC_EXPORT=1 (or =DIR): the file DIR/poolmalloc.<pid>
 * (DIR defaults to /dev/shm), owner-only by default. A background thread of
 * the shim refreshes it every POOLMALLOC_EXPORT_INTERVAL ms (default 1000).
 * The shim writes version 2 (below); readers also take version 1.
 *
 * Lock-free reading: the writer makes `seq` odd, updates, makes it even. A
 * reader copies the whole segment between two reads of an equal, even
 * `seq`. Both versions share the header up to `updates` (same offsets). Readers must still treat every field as untrusted: the file may be
 * written by anyone who can write it.
 */
#ifndef POOL_EXPORT_FORMAT_H
#define POOL_EXPORT_FORMAT_H

#include "poolalloc.h"

#include <stdint.h>

#define EXPORT_MAGIC        "POOLSHM1"
#define EXPORT_VERSION_1    1u
#define EXPORT_FILE_PREFIX  "poolmalloc."
#define EXPORT_DEFAULT_DIR  "/dev/shm"

/* ---------------------------------------------------------------------------
 * Version 1 (what shims before version 2 write; still read). Its statistics
 * are pool_stats_t as it was then, frozen here field for field: this build's
 * pool_stats_t may grow (more size classes), version 1 does not.
 * ------------------------------------------------------------------------- */
#define EXPORT_V1_NUM_CLASSES   32
#define EXPORT_V1_LARGE_BUCKETS 8

typedef struct {
    uint32_t size, blocks_per_pool;
    uint64_t pools, pools_full, blocks_allocated, blocks_free, mallocs, frees, blocks_cached;
} export_v1_class_t;

typedef struct {
    uint32_t arena_size, pool_size, pool_header_size, small_threshold;
    uint32_t num_classes, pools_per_arena, arena_header_size;
    uint64_t arenas_allocated_total, arenas_released_total, arenas_highwater, arenas_current;
    uint64_t mapped_bytes;
    struct {
        uint64_t allocated, free_blocks, empty_pools, untouched, pool_headers, quantization,
                 alignment, returned;
    } bytes;
    uint64_t pools_used, pools_empty, pools_untouched, pools_returned;
    export_v1_class_t classes[EXPORT_V1_NUM_CLASSES];
    uint64_t large_allocations, large_bytes, large_mallocs, large_bytes_total;
    uint64_t large_hist[EXPORT_V1_LARGE_BUCKETS];
    struct {
        uint64_t malloc, free, calloc, realloc, realloc_inplace, aligned, remote_free, failed;
    } ops;
    uint64_t purges, purged_pools, purged_bytes;
    int64_t  purge_delay_ms;
    uint64_t heaps, heaps_abandoned;
} export_v1_stats_t;

typedef struct {
    char     magic[8];
    uint32_t version;             /* EXPORT_VERSION_1 */
    uint32_t segment_size;        /* sizeof(pool_export_segment_v1_t) */
    uint32_t stats_size;          /* sizeof(export_v1_stats_t) */
    uint32_t pid;
    char     comm[16];            /* NUL-padded */
    uint64_t start_realtime_ns;
    uint64_t interval_ms;
    uint64_t seq;                 /* odd while being written (accessed atomically) */
    uint64_t updated_realtime_ns;
    uint64_t updates;
    export_v1_stats_t stats;
} pool_export_segment_v1_t;

_Static_assert(sizeof(export_v1_stats_t) == 2424 && sizeof(pool_export_segment_v1_t) == 2504,
               "the version 1 layout is frozen");

/* ---------------------------------------------------------------------------
 * Version 2 (EXPORT_VERSION_2): the same header ideas, plus which allocator
 * published the figures and the arena map.
 *
 *   file = pool_export_header_t, then arena_capacity pool_arena_info_t
 *          records (arena_record_size bytes each)
 *
 * Writers: our shim (allocator POOLALLOC) and the CPython extension that
 * reads CPython's own pymalloc (allocator PYMALLOC). The map holds the first
 * arena_records arenas (at most arena_capacity); arenas_in_map_total says how
 * many the process had, so a reader can tell a capped map. When a process
 * outgrows the capacity the writer makes a larger file and renames it over
 * the old one (a reader holding the old file still reads a whole segment).
 *
 * `has` says which groups of pool_stats_t fields the allocator really keeps:
 * CPython's pymalloc has no operation counters, no purging, no thread heaps,
 * no large-block accounting; a reader leaves out what is not there instead of
 * showing zeros. Geometry (arena_size, pool_size, num_classes, ...) is the
 * publisher's own, read from the stats fields: a reader checks it for internal
 * consistency, and equality with this build only for allocator POOLALLOC.
 *
 * What a reader requires (export_reader.c), besides version 1's checks:
 * the file is exactly header_size + arena_capacity * arena_record_size
 * bytes, with this build's header, stats and record sizes; arena_capacity
 * <= EXPORT_MAX_ARENA_MAP; with EXPORT_HAS_MAP, arena_records ==
 * min(arenas_in_map_total, arena_capacity) (for PYMALLOC at most that: its
 * map lacks the arenas CPython made before the publisher was loaded) and
 * arenas_in_map_total == stats.arenas_current (the writer retakes the pair
 * until they agree),
 * without it arena_records == 0; reserved == 0; a group missing from `has`
 * is all zeros. Pools of blocks by state, plus the pools lost to alignment,
 * make arenas * pools_per_arena, and the lost pools' bytes are
 * bytes.alignment. Each record: addresses strictly ascending, every state
 * a POOL_STATE_*, free_pools == its empty + returned + untouched pools, a
 * USED pool of a class the stats have with that class's blocks_per_pool
 * and used <= blocks, a SPAN pool right after a USED or SPAN one. POOLALLOC
 * records: arena-aligned, pool 0 the only HEADER, no ALIGNMENT pool.
 * Pool counts of the map are not compared with the stats: the two are taken
 * one after the other while the program runs.
 * ------------------------------------------------------------------------- */
#define EXPORT_VERSION_2     2u
#define EXPORT_MAX_ARENA_MAP 16384u     /* records; larger maps are capped */

enum {
    EXPORT_ALLOCATOR_POOLALLOC = 1,     /* this project's allocator */
    EXPORT_ALLOCATOR_PYMALLOC  = 2,     /* CPython's obmalloc (pymalloc) */
};

#define EXPORT_HAS_OPS    (1u << 0)     /* ops and per-class mallocs/frees */
#define EXPORT_HAS_PURGE  (1u << 1)     /* purges, purged_*, purge_delay_ms */
#define EXPORT_HAS_HEAPS  (1u << 2)     /* heaps, heaps_abandoned */
#define EXPORT_HAS_LARGE  (1u << 3)     /* large_* */
#define EXPORT_HAS_CACHE  (1u << 4)     /* blocks_cached */
#define EXPORT_HAS_MAP    (1u << 5)     /* the arena map follows */

typedef struct {
    char     magic[8];            /* EXPORT_MAGIC */
    uint32_t version;             /* EXPORT_VERSION_2 */
    uint32_t header_size;         /* sizeof(pool_export_header_t) */
    uint32_t stats_size;          /* sizeof(pool_stats_t) */
    uint32_t pid;
    char     comm[16];            /* NUL-padded; the main thread's name at the last update */
    uint64_t start_realtime_ns;
    uint64_t interval_ms;
    uint64_t seq;                 /* odd while being written (accessed atomically) */
    uint64_t updated_realtime_ns;
    uint64_t updates;
    uint32_t allocator;           /* EXPORT_ALLOCATOR_* */
    uint32_t has;                 /* EXPORT_HAS_* */
    char     allocator_version[32]; /* NUL-padded, e.g. "0.2.0" or "3.11.2" */
    uint64_t metadata_bytes;      /* the allocator's own bookkeeping outside
                                     the arenas (pymalloc: its radix tree) */
    uint32_t arena_record_size;   /* sizeof(pool_arena_info_t) */
    uint32_t arena_capacity;      /* records the file has room for */
    uint32_t arena_records;       /* records valid in this update */
    uint32_t reserved;            /* 0 */
    uint64_t arenas_in_map_total; /* arenas the process had when the map was made */
    pool_stats_t stats;
} pool_export_header_t;

#endif
