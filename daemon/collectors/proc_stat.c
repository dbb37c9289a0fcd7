/* Reading /proc/PID/stat and the boot time, for poold's own process_*
 * figures and for the processes it exports. Under systemd's ProcSubset=pid
 * /proc/stat (boot time) is hidden, so the boot time falls back to the
 * clocks. */
#define _GNU_SOURCE
#include "collectors/proc_stat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
