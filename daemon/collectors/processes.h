/* The process collector (--collector.processes): the allocator statistics
 * of other processes running on the preload shim with POOLMALLOC_EXPORT,
 * read from their segments (DIR/poolmalloc.<pid>) at every scrape. */
#ifndef POOLD_PROCESSES_H
#define POOLD_PROCESSES_H

#include "export_reader.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a segment was not exported: the reader's reasons (export_error_t,
 * EXPORT_ERR_OPEN...EXPORT_ERR_INCONSISTENT keep their numbers), then the
 * collector's own. */
enum {
    PROCESSES_SKIP_STALE = EXPORT_ERR_COUNT,   /* not updated for 3 intervals (at least 5 s) */
    PROCESSES_SKIP_EXITED,                     /* the pid is gone, or now another process's */
    PROCESSES_SKIP_OWNER,                      /* not owned by the process's user */
    PROCESSES_SKIP_BAD_NAME,                   /* poolmalloc.<not a pid> */
    PROCESSES_SKIP_OVER_MAX,                   /* over --collector.processes.max */
    PROCESSES_SKIP_SCAN_LIMIT,                 /* past the entries one scan examines */
    PROCESSES_SKIP_REASONS
};

typedef struct {
    bool               enabled;
    size_t             n;          /* processes exported, by pid */
    export_snapshot_t *procs;
    size_t             dropped;    /* over the maximum in this scan */
    uint64_t           skipped[PROCESSES_SKIP_REASONS];   /* since start; [0] unused */
} processes_view_t;

/* Settings (at start and on reload). */
void processes_configure(bool enabled, const char *dir, unsigned max);
/* Scans the directory and fills *v (free it with processes_view_free). Scans
 * are serialised; each reads every candidate segment afresh, so a process
 * that exited is simply gone. Arena maps are always read and checked (a
 * bad map refuses the segment), and kept in the snapshots with `maps`. */
void processes_collect(processes_view_t *v, bool maps);
/* One process's segment, map included, with the scan's checks (nothing is
 * counted): 0 and *out (release with export_snapshot_free), or the reason
 * (PROCESSES_SKIP_EXITED also when the collector is off). */
int processes_find(uint32_t pid, export_snapshot_t *out);
void processes_view_free(processes_view_t *v);
const char *processes_skip_name(int reason);   /* "open", ..., "over_max" */
void processes_shutdown(void);

#endif
