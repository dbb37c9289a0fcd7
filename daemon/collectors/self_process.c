/* process_* figures: /proc/self/stat for CPU, memory, threads and start
 * time; /proc/self/fd for open files; getrlimit for the limits. */
#define _GNU_SOURCE
#include "collectors/self_process.h"
#include "collectors/proc_stat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static bool read_stat(self_process_t *out)
{
    unsigned long long field[PROC_STAT_FIELDS];
    if (!proc_stat_fields("/proc/self/stat", field))
        return false;
    double tick = (double)sysconf(_SC_CLK_TCK);
    out->cpu_seconds = (double)(field[14] + field[15]) / tick;
    out->threads = field[20];
    out->virtual_bytes = field[23];
    out->resident_bytes = field[24] * (uint64_t)sysconf(_SC_PAGESIZE);
    out->start_time_seconds = proc_boot_time_seconds() + (double)field[22] / tick;
    out->have_start = true;
    return true;
}

static bool count_fds(uint64_t *out)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return false;
    uint64_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    *out = n - 1;   /* not the descriptor of the listing itself */
    return true;
}

void self_process_read(self_process_t *out)
{
    memset(out, 0, sizeof *out);
    out->have_stat = read_stat(out);
    out->have_fds = count_fds(&out->open_fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        out->have_max_fds = true;
        out->max_fds = rl.rlim_cur;
    }
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        out->have_max_virtual = true;
        out->max_virtual_bytes = rl.rlim_cur;
    }
}
