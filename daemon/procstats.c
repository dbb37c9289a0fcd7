/* process_* figures: /proc/self/stat for CPU, memory, threads and start
 * time; /proc/self/fd for open files; getrlimit for the limits. Under
 * systemd's ProcSubset=pid /proc/stat (boot time) is hidden, so the start
 * time falls back to the clocks. */
#define _GNU_SOURCE
#include "procstats.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double proc_boot_time_seconds(void)
{
    FILE *f = fopen("/proc/stat", "re");
    char line[256];
    unsigned long long btime = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "btime %llu", &btime) == 1)
            break;
    if (f)
        fclose(f);
    if (btime)
        return (double)btime;
    struct timespec real, boot;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_BOOTTIME, &boot);
    return (double)(real.tv_sec - boot.tv_sec) + (double)(real.tv_nsec - boot.tv_nsec) * 1e-9;
}

bool proc_stat_fields(const char *path, unsigned long long field[PROC_STAT_FIELDS])
{
    char data[1024];
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(data, 1, sizeof data - 1, f);
    fclose(f);
    data[n] = '\0';
    char *p = strrchr(data, ')'), *save = NULL;
    if (!p)
        return false;
    memset(field, 0, PROC_STAT_FIELDS * sizeof *field);
    int i = 3;
    for (char *tok = strtok_r(p + 1, " ", &save); tok && i < PROC_STAT_FIELDS;
         tok = strtok_r(NULL, " ", &save), i++)
        field[i] = strtoull(tok, NULL, 10);
    return i >= 25;
}

static bool read_stat(proc_stats_t *out)
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

void proc_stats_read(proc_stats_t *out)
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
