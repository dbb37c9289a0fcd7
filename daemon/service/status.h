/* The daemon's own state that metrics, /healthz and systemd report: whether
 * the workload is making progress, and how the last config reload went. */
#ifndef POOLD_STATUS_H
#define POOLD_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The workload counts as stalled after this long without progress. */
#define STATUS_STALL_MS 5000

void status_init(void);
/* Samples the workload's progress counter (workload_progress()); call a
 * few times a second. */
void status_tick(uint64_t progress);
/* True when the workload progressed within STATUS_STALL_MS, or is idle by
 * design (workload_idle(): no threads); otherwise why says what is wrong. */
bool status_workload_healthy(bool idle, char *why, size_t len);

void status_reload_result(bool ok);
void status_reload_read(bool *last_ok, double *last_success_seconds);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t status_now_ms(void);

#endif
