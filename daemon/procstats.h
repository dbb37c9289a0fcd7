/* The standard process_* figures, read from /proc and getrlimit. A figure
 * that cannot be read is marked absent and left out of the metrics. */
#ifndef POOLD_PROCSTATS_H
#define POOLD_PROCSTATS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct proc_stats {
    bool     have_stat;           /* /proc/self/stat was read */
    double   cpu_seconds;
    uint64_t virtual_bytes, resident_bytes, threads;
    bool     have_start;
    double   start_time_seconds;  /* since the epoch */
    bool     have_fds;
    uint64_t open_fds;
    bool     have_max_fds, have_max_virtual;
    uint64_t max_fds, max_virtual_bytes;
} proc_stats_t;

void proc_stats_read(proc_stats_t *out);

/* Fields of /proc/PID/stat (path) after the command name, numbered as in
 * proc(5) (field[22] is the start time in clock ticks after boot). */
#define PROC_STAT_FIELDS 53
bool proc_stat_fields(const char *path, unsigned long long field[PROC_STAT_FIELDS]);
/* When the machine booted, in seconds since the epoch. */
double proc_boot_time_seconds(void);

#endif
