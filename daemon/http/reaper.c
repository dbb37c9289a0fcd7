/* The deadline thread; see reaper.h. */
#define _GNU_SOURCE
#include "http/reaper.h"
#include "collectors/http_stats.h"
#include "config/options.h"

#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

/* How often deadlines are checked: the precision of every timeout. */
#define REAP_INTERVAL_MS 100
/* After a flood of connections has gone, glibc keeps the freed buffers
 * (connection pools, answers) in its arenas; they are given back, so
 * poold's resident memory returns to where it was. Rare: only once the
 * number of open connections fell by this much. */
#define TRIM_AFTER_DROP 64

static pthread_t thread;
static bool running, stop;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static conntab_t *watched[MAX_LISTEN];
static size_t n_watched;

static void trim_after_flood(int64_t *peak)
{
    int64_t open = http_stats_conn_open();
    if (open > *peak)
        *peak = open;
    if (*peak - open >= TRIM_AFTER_DROP) {
        malloc_trim(0);
        *peak = open;
    }
}

static void *loop(void *arg)
{
    (void)arg;
    int64_t peak = 0;
    pthread_mutex_lock(&lock);
    while (!stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += REAP_INTERVAL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&wake, &lock, &ts);
        for (size_t i = 0; i < n_watched && !stop; i++)
            conntab_reap(watched[i], conn_now_ms());
        trim_after_flood(&peak);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int reaper_start(conntab_t *const *tables, size_t n)
{
    n_watched = n < MAX_LISTEN ? n : MAX_LISTEN;
    for (size_t i = 0; i < n_watched; i++)
        watched[i] = tables[i];
    stop = false;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wake, &ca);
    pthread_condattr_destroy(&ca);
    running = pthread_create(&thread, NULL, loop, NULL) == 0;
    if (!running)
        pthread_cond_destroy(&wake);
    return running ? 0 : -1;
}

void reaper_stop(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&lock);
    stop = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    pthread_cond_destroy(&wake);
    running = false;
}
