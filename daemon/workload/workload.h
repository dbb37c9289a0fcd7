/* The workload: threads that allocate and free through the pool allocator
 * (the obj domain) in a pattern chosen by a profile, so that there is
 * something to observe. The main thread starts and stops it; any thread may
 * read its counters. */
#ifndef POOLD_WORKLOAD_H
#define POOLD_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct workload_config {
    const char *profile;
    unsigned    threads;
    uint64_t    rate;        /* operations per second, all threads; 0 = unlimited */
    uint64_t    max_bytes;   /* hard cap on live requested bytes */
    const char *trace;       /* replay: the trace file */
    double      speed;       /* replay: pace factor; 0 = as fast as the rate allows */
} workload_config_t;

typedef struct workload_stats {
    char     profile[32];    /* "" before the first start */
    unsigned threads;        /* running threads (0 for idle) */
    uint64_t rate, max_bytes;
    int64_t  live_bytes, live_blocks;
    /* cumulative over the life of the process */
    uint64_t allocs, frees, reallocs, alloc_failures, corruptions, handoffs, starts;
    bool     wedged;
} workload_stats_t;

struct wl_profile;
const struct wl_profile *workload_profile_find(const char *name);
/* "python, steady, ..." */
const char *workload_profile_list(void);

/* Whether cfg can run (its profile exists; a replay's trace reads to the
 * end): 0, or -1 with the reason in err. workload_start does not check. */
int  workload_check(const workload_config_t *cfg, char *err, size_t len);
/* Starts the workload; returns 0, or -1 when a thread cannot be created. */
int  workload_start(const workload_config_t *cfg);
/* Stops the threads and frees every block they held. */
void workload_stop(void);
void workload_read(workload_stats_t *out);

/* A number that moves whenever any workload thread makes progress; health
 * checks compare two readings. */
uint64_t workload_progress(void);
/* True when the running profile has no threads by design (idle). */
bool workload_idle(void);
/* Testing aid: every workload thread stops making progress, for good. */
void workload_wedge(void);

#endif
