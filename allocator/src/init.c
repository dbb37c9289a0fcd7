/* One-time set-up, fork safety, and error reporting.
 *
 * Initialisation must not allocate until the allocator works: it can run
 * inside the very first malloc() of a process. Phase one (a pthread key,
 * the environment) allocates nothing; only after the state says "ready"
 * does phase two register fork handlers, which may call malloc. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Atomic int init_state;   /* 0 none, 1 running, 2 ready */

void pool_report_error(const char *fmt, ...)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "poolalloc: ");
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
    (void)w;
}

static void read_purge_delay(void)
{
    const char *s = getenv("POOLMALLOC_PURGE_DELAY");
    if (!s || !*s)
        return;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < -1 || v > 86400000L) {
        pool_report_error("POOLMALLOC_PURGE_DELAY=%s: expected milliseconds from -1 (never) "
                          "to 86400000; keeping %ld", s, arena_purge_delay());
        return;
    }
    arena_set_purge_delay(v);
}

/* POOLMALLOC_THRESHOLD: the largest request the pools serve; 512 is
 * pymalloc's own threshold (the medium tier off). */
static void read_threshold(void)
{
    const char *s = getenv("POOLMALLOC_THRESHOLD");
    size_t v = POOL_DEFAULT_THRESHOLD;
    if (s && *s) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(s, &end, 10);
        if (errno || *end || *s == '-' || n < POOL_SMALL_REQUEST_THRESHOLD || n > POOL_MEDIUM_MAX)
            pool_report_error("POOLMALLOC_THRESHOLD=%s: expected bytes from %u (pymalloc's "
                              "threshold) to %u; keeping %zu", s, POOL_SMALL_REQUEST_THRESHOLD,
                              POOL_MEDIUM_MAX, v);
        else
            v = (size_t)n;
    }
    classes_set_threshold(v);
}

/* Lock order: debug quarantine, heap sweep, arenas, metadata. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&pool_debug_lock);
    heaps_atfork_prepare();
    pthread_mutex_lock(&pool_arena_lock);
    pthread_mutex_lock(&pool_meta_lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&pool_meta_lock);
    pthread_mutex_unlock(&pool_arena_lock);
    heaps_atfork_parent();
    pthread_mutex_unlock(&pool_debug_lock);
}

static void fork_child(void)
{
    pthread_mutex_unlock(&pool_meta_lock);
    pthread_mutex_unlock(&pool_arena_lock);
    heaps_atfork_child();
    pthread_mutex_unlock(&pool_debug_lock);
}

/* POOLMALLOCSTATS: the report at exit. stderr is duplicated at start-up,
 * since programs often close it in their own exit handlers (coreutils'
 * close_stdout does) before library destructors run. This lives here, in
 * an object every program that allocates links, so static linking keeps it. */
static int stats_fd = -1;

static bool stats_wanted(void)
{
    const char *s = getenv("POOLMALLOCSTATS");
    return s && *s && strcmp(s, "0") != 0;
}

__attribute__((destructor)) static void report_at_exit(void)
{
    if (stats_fd >= 0 || stats_wanted())
        pool_stats_print(stats_fd >= 0 ? stats_fd : STDERR_FILENO);
}

void pool_ensure_init(void)
{
    if (likely(atomic_load_explicit(&init_state, memory_order_acquire) == 2))
        return;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&init_state, &expected, 1)) {
        while (atomic_load_explicit(&init_state, memory_order_acquire) != 2)
            sched_yield();
        return;
    }
    os_region_init();
    classes_init();
    heap_setup();
    read_purge_delay();
    read_threshold();
    sys_tune();
    domains_init();
    if (stats_wanted())
        stats_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 10);
    atomic_store_explicit(&init_state, 2, memory_order_release);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}
