/* Small-object churn, on one thread and on two threads that churn
 * independently (each its own working set). */
#include "balloc.h"
#include "churn.h"

#include <pthread.h>

static size_mix_t python_mix;       /* harness memory: static, not allocated */

static uint32_t churn_live(void) { return (uint32_t)scaled(CHURN_LIVE, 1000); }

void work_churn(void)
{
    size_mix_python(&python_mix);
    churn_run("churn", churn_live(), scaled(CHURN_OPS, 10000), &python_mix);
}

typedef struct {
    uint32_t live;
    uint64_t steps, seed;
} churn_job_t;

static void *churn_job(void *arg)
{
    churn_job_t *j = arg;
    churn_t c;
    churn_setup(&c, j->live, j->seed, j->seed << 40, &python_mix);
    churn_steps(&c, j->steps);
    churn_teardown(&c);
    checks_flush();
    return NULL;
}

void work_churn2t(void)
{
    size_mix_python(&python_mix);
    churn_job_t j[2] = { { churn_live(), scaled(CHURN_OPS, 10000), 2 },
                         { churn_live(), scaled(CHURN_OPS, 10000), 3 } };
    uint64_t rss0 = rss_kb(), t0 = now_ns();
    run_threads(2, churn_job, j, sizeof j[0]);
    report("churn2t", "-", now_ns() - t0, 2 * churn_calls(j[0].live, j[0].steps), rss0, "");
}
