/* Random-replacement churn over a working set of live blocks: the core of
 * the churn, two-thread churn, medium, large and statistics-cost
 * workloads. */
#ifndef BENCH_CHURN_H
#define BENCH_CHURN_H

#include "bench.h"

#define CHURN_LIVE 100000u      /* working set, objects */
#define CHURN_OPS  2000000u     /* replacements per run (before scaling) */

typedef struct {
    slot_t           *slots;
    uint32_t          live;
    rng_t             rng;
    uint64_t          next_index;
    const size_mix_t *mix;      /* the caller's; outlives the churn */
} churn_t;

/* Fills the working set with sizes from mix. Blocks are numbered from
 * index_base. */
void churn_setup(churn_t *c, uint32_t live, uint64_t seed, uint64_t index_base,
                 const size_mix_t *mix);
/* n replacements: free a random live block (after checking it), allocate
 * one of a random size in its place. */
void churn_steps(churn_t *c, uint64_t n);
/* Checks and frees every live block. */
void churn_teardown(churn_t *c);

/* malloc + free calls of one whole churn run. */
static inline uint64_t churn_calls(uint32_t live, uint64_t steps)
{
    return 2 * (uint64_t)live + 2 * steps;
}

/* A whole single-thread churn run, timed from setup to teardown, reported
 * as `workload`. */
void churn_run(const char *workload, uint32_t live, uint64_t steps, const size_mix_t *mix);
/* The same over sizes in [lo, hi], every doubling as likely as the next
 * (size_mix_log). */
void churn_run_log(const char *workload, uint32_t lo, uint32_t hi, uint32_t live, uint64_t steps);

#endif /* BENCH_CHURN_H */
