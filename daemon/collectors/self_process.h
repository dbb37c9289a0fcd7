/* The standard process_* figures, read from /proc and getrlimit. A figure
 * that cannot be read is marked absent and left out of the metrics. */
#ifndef POOLD_SELF_PROCESS_H
#define POOLD_SELF_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct self_process {
    bool     have_stat;           /* /proc/self/stat was read */
    double   cpu_seconds;
    uint64_t virtual_bytes, resident_bytes, threads;
    bool     have_start;
    double   start_time_seconds;  /* since the epoch */
    bool     have_fds;
    uint64_t open_fds;
    bool     have_max_fds, have_max_virtual;
    uint64_t max_fds, max_virtual_bytes;
} self_process_t;

void self_process_read(self_process_t *out);

#endif
