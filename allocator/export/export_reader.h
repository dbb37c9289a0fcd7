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

/* Reads path, which must be a segment of process `pid` (0: any). Returns 0,
 * or -1 with the reason in why. */
int export_read(const char *path, uint32_t pid, export_snapshot_t *out, char *why, size_t len);

/* The consistency checks alone (also used on our own snapshots in tests). */
bool export_stats_valid(const pool_stats_t *st, char *why, size_t len);

#endif
