/* What poold tells systemd (sd_notify): readiness, status lines, reloads,
 * shutdown and watchdog pings. Without $NOTIFY_SOCKET these do nothing. */
#ifndef POOLD_SD_H
#define POOLD_SD_H

#include <stdbool.h>
#include <stdint.h>

void sd_tell_ready(const char *status);
void sd_tell_status(const char *status);
/* RELOADING=1 with MONOTONIC_USEC, for Type=notify and notify-reload. */
void sd_tell_reloading(void);
void sd_tell_stopping(void);
/* The watchdog interval in microseconds, or 0 when there is no watchdog. */
uint64_t sd_watchdog_usec(void);
void sd_tell_watchdog(void);

#endif
