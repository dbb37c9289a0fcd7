/*
 * Reading another process's statistics segment (export_format.h) without
 * trusting it: the file is read with pread (never mapped, so a writer that
 * truncates it cannot fault us), copied between two equal even sequence
 * numbers, and every figure is checked for consistency before use.
 * Version 1 and version 2 segments are read; both come out as one
 * export_snapshot_t in this build's pool_stats_t.
 */
#ifndef POOL_EXPORT_READER_H
#define POOL_EXPORT_READER_H

#include "export_format.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    uint32_t pid;
    char     comm[17];            /* printable ASCII only */
    uint64_t start_realtime_ns, updated_realtime_ns, updates, interval_ms;
    uint32_t version;             /* EXPORT_VERSION_1 or _2 */
    uint32_t allocator;           /* EXPORT_ALLOCATOR_* (version 1: POOLALLOC) */
    uint32_t has;                 /* EXPORT_HAS_* (version 1: all but MAP) */
    char     allocator_version[33]; /* printable ASCII; "" when not said */
    uint64_t metadata_bytes;
    /* the arena map (EXPORT_HAS_MAP): map_records records in address order,
     * of map_total arenas; malloc'd, released by export_snapshot_free */
    pool_arena_info_t *map;
    size_t   map_records;
    uint64_t map_total;
    pool_stats_t stats;           /* classes past stats.num_classes are zero */
} export_snapshot_t;

/* Why a segment was refused; export_error_name() gives a short label
 * ("open", "not_regular", ...) for metrics. */
typedef enum {
    EXPORT_OK = 0,
    EXPORT_ERR_OPEN,          /* cannot be opened: gone, no permission, a symlink */
    EXPORT_ERR_NOT_REGULAR,   /* a fifo, a directory, a device... */
    EXPORT_ERR_SIZE,          /* not exactly the size its header implies */
    EXPORT_ERR_UNSTABLE,      /* short read, or kept changing while being read */
    EXPORT_ERR_MAGIC,
    EXPORT_ERR_VERSION,       /* another version or layout */
    EXPORT_ERR_PID,           /* names another process than its file name */
    EXPORT_ERR_NOT_READY,     /* never published */
    EXPORT_ERR_INCONSISTENT,  /* figures that cannot all be true */
    EXPORT_ERR_MAP,           /* an arena map that cannot be true */
    EXPORT_ERR_COUNT
} export_error_t;

const char *export_error_name(export_error_t e);

/* Reads the segment open on fd (which it does not close), which must be a
 * segment of process `pid` (0: any). Returns EXPORT_OK, or the reason with a
 * sentence in why. The caller opens it with O_NOFOLLOW | O_NONBLOCK, so a
 * symlink or a fifo never gets this far. With want_map, the arena map (if
 * the segment has one) is read and checked too; without, it is neither
 * read nor kept. On EXPORT_OK release *out with export_snapshot_free. */
export_error_t export_read_fd(int fd, uint32_t pid, bool want_map, export_snapshot_t *out,
                              char *why, size_t len);
void export_snapshot_free(export_snapshot_t *s);

/* The consistency checks alone, for statistics published by `allocator`
 * keeping the groups in `has` (also used on our own snapshots in tests). */
bool export_stats_valid(const pool_stats_t *st, uint32_t allocator, uint32_t has, char *why,
                        size_t len);
/* The checks of n map records against their (valid) statistics. */
bool export_map_valid(const pool_arena_info_t *map, size_t n, const pool_stats_t *st,
                      uint32_t allocator, char *why, size_t len);
/* "poolalloc", "pymalloc" or "unknown". */
const char *export_allocator_name(uint32_t allocator);

#endif
