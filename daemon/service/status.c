/* Workload progress and reload bookkeeping; see status.h. */
#include "service/status.h"
#include "service/clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_progress;
static int64_t  last_progress_ms;
static bool     reload_ok = true;
static double   reload_success_seconds;

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t status_now_ms(void)
{
    return (int64_t)(mono_ns() / 1000000);
}

void status_init(void)
{
    pthread_mutex_lock(&lock);
    reload_success_seconds = wall_seconds();
    last_progress_ms = status_now_ms();
    pthread_mutex_unlock(&lock);
}

void status_tick(uint64_t p)
{
    pthread_mutex_lock(&lock);
    if (p != last_progress) {
        last_progress = p;
        last_progress_ms = status_now_ms();
    }
    pthread_mutex_unlock(&lock);
}

bool status_workload_healthy(bool idle, char *why, size_t len)
{
    if (idle)
        return true;
    pthread_mutex_lock(&lock);
    int64_t quiet = status_now_ms() - last_progress_ms;
    pthread_mutex_unlock(&lock);
    if (quiet < STATUS_STALL_MS)
        return true;
    snprintf(why, len, "workload made no progress for %lld ms", (long long)quiet);
    return false;
}

void status_reload_result(bool ok)
{
    pthread_mutex_lock(&lock);
    reload_ok = ok;
    if (ok)
        reload_success_seconds = wall_seconds();
    pthread_mutex_unlock(&lock);
}

void status_reload_read(bool *last_ok, double *last_success_seconds)
{
    pthread_mutex_lock(&lock);
    *last_ok = reload_ok;
    *last_success_seconds = reload_success_seconds;
    pthread_mutex_unlock(&lock);
}

