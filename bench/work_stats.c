/* Workload 8: what the statistics cost. One thread churns (as workload 1)
 * in STATS_PAIRS pairs of equal slices; during one slice of each pair
 * another thread takes a full pool_stats_get() snapshot every 100 ms,
 * during the other it takes none. Pairs run off/on and on/off in turn, so
 * a drift in machine speed does not favour either side, and comparing
 * inside one process keeps most of a busy machine's noise out; so does
 * comparing the churning thread's CPU time rather than wall time (time
 * spent preempted by other processes is not the statistics' doing). Two
 * RESULT lines, variant "off" and "on", each the summed wall time of its
 * slices; both carry slowdown_pct, the median over pairs of the CPU-time
 * ratio on/off - 1, and snapshot_us, the mean time of one snapshot. */
#include "balloc.h"
#include "churn.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define STATS_PAIRS       8u
#define STATS_SLICE_STEPS 2500000u   /* replacements per slice (before scaling) */
#define STATS_PERIOD_MS   100

/* The sampler ticks every STATS_PERIOD_MS on a fixed grid whatever the
 * slices do, and takes a snapshot on the ticks that fall in an "on" slice:
 * 10 snapshots a second of "on" time, not one extra per slice. */
static _Atomic int sampler_on, sampler_stop;
static _Atomic uint64_t sampler_snapshots, sampler_ns;   /* count, time inside */

static void *sampler_main(void *arg)
{
    (void)arg;
    static pool_stats_t st;           /* large: keep it off the thread stack */
    struct timespec tick;
    clock_gettime(CLOCK_MONOTONIC, &tick);
    while (!atomic_load(&sampler_stop)) {
        tick.tv_nsec += STATS_PERIOD_MS * 1000000L;
        tick.tv_sec += tick.tv_nsec / 1000000000L;
        tick.tv_nsec %= 1000000000L;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick, NULL) == EINTR)
            ;
        if (atomic_load(&sampler_on)) {
            uint64_t t0 = now_ns();
            pool_stats_get(&st);
            atomic_fetch_add(&sampler_ns, now_ns() - t0);
            atomic_fetch_add(&sampler_snapshots, 1);
        }
    }
    return NULL;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void work_stats(void)
{
    /* even a quick run's slices last long enough for snapshots to happen */
    uint64_t steps = scaled(STATS_SLICE_STEPS, 600000), ns[2] = { 0, 0 };
    double ratio[STATS_PAIRS];
    static size_mix_t mix;            /* harness memory: static, not allocated */
    churn_t c;
    pthread_t t;
    size_mix_python(&mix);
    spawn(&t, sampler_main, NULL);
    uint64_t rss0 = rss_kb();
    churn_setup(&c, (uint32_t)scaled(CHURN_LIVE, 1000), 8, 0, &mix);
    for (unsigned p = 0; p < STATS_PAIRS; p++) {
        uint64_t cpu[2];
        for (int k = 0; k < 2; k++) {
            int on = k ^ (p & 1);
            atomic_store(&sampler_on, on);
            uint64_t t0 = now_ns(), c0 = thread_cpu_ns();
            churn_steps(&c, steps);
            cpu[on] = thread_cpu_ns() - c0;
            ns[on] += now_ns() - t0;
        }
        ratio[p] = (double)cpu[1] / (double)cpu[0];
    }
    atomic_store(&sampler_on, 0);
    atomic_store(&sampler_stop, 1);
    pthread_join(t, NULL);
    churn_teardown(&c);
    qsort(ratio, STATS_PAIRS, sizeof ratio[0], cmp_double);
    double median = (ratio[(STATS_PAIRS - 1) / 2] + ratio[STATS_PAIRS / 2]) / 2;
    uint64_t snaps = sampler_snapshots;
    char extra[128];
    snprintf(extra, sizeof extra,
             "snapshots=%llu snapshot_per_s=%.1f snapshot_us=%.1f slowdown_pct=%.2f",
             (unsigned long long)snaps, (double)snaps * 1e9 / (double)ns[1],
             snaps ? (double)sampler_ns / (double)snaps / 1e3 : 0.0, 100 * (median - 1));
    report("stats", "off", ns[0], 2 * steps * STATS_PAIRS, rss0, extra);
    report("stats", "on", ns[1], 2 * steps * STATS_PAIRS, rss0, extra);
}
