/* The /proc readers the process collectors share. */
#ifndef POOLD_PROC_STAT_H
#define POOLD_PROC_STAT_H

#include <stdbool.h>

/* Fields of /proc/PID/stat (path) after the command name, numbered as in
 * proc(5) (field[22] is the start time in clock ticks after boot). */
#define PROC_STAT_FIELDS 53
bool proc_stat_fields(const char *path, unsigned long long field[PROC_STAT_FIELDS]);
/* When the machine booted, in seconds since the epoch. */
double proc_boot_time_seconds(void);

#endif
