/*
 * Reading another process's statistics segment (export_format.h) without
 * trusting it: the file is read with pread (never mapped, so a writer that
 * truncates it cannot fault us), copied between two equal even sequence
 * numbers, and every figure is checked for consistency before use.
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
    pool_stats_t stats;
} export_snapshot_t;

/* Why a segment was refused; export_error_name() gives a short label
 * ("open", "not_regular", ...) for metrics. */
typedef enum {
    EXPORT_OK = 0,
    EXPORT_ERR_OPEN,          /* cannot be opened: gone, no permission, a symlink */
    EXPORT_ERR_NOT_REGULAR,   /* a fifo, a directory, a device... */
    EXPORT_ERR_SIZE,          /* not exactly one segment long */
    EXPORT_ERR_UNSTABLE,      /* short read, or kept changing while being read */
    EXPORT_ERR_MAGIC,
    EXPORT_ERR_VERSION,       /* another version or layout */
    EXPORT_ERR_PID,           /* names another process than its file name */
    EXPORT_ERR_NOT_READY,     /* never published */
    EXPORT_ERR_INCONSISTENT,  /* figures that cannot all be true */
    EXPORT_ERR_COUNT
} export_error_t;

const char *export_error_name(export_error_t e);

/* Reads the segment open on fd (which it does not close), which must be a
 * segment of process `pid` (0: any). Returns EXPORT_OK, or the reason with a
 * sentence in why. The caller opens it with O_NOFOLLOW | O_NONBLOCK, so a
 * symlink or a fifo never gets this far. */
export_error_t export_read_fd(int fd, uint32_t pid, export_snapshot_t *out, char *why, size_t len);

/* The consistency checks alone (also used on our own snapshots in tests). */
bool export_stats_valid(const pool_stats_t *st, char *why, size_t len);

#endif
