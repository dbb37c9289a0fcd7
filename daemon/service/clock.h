/* The daemon's one clock: CLOCK_MONOTONIC in nanoseconds (pacing, progress,
 * scrape timing, the MONOTONIC_USEC systemd wants on reload). */
#ifndef POOLD_CLOCK_H
#define POOLD_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
