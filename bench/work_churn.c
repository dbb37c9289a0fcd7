/* Workloads 1 and 3: small-object churn, on one thread and on two threads
 * that churn independently (each its own working set). */
#include "balloc.h"
#include "churn.h"

#include <pthread.h>

typedef struct {
    uint32_t live;
    uint64_t steps, seed;
} churn_job_t;

static void *churn_job(void *arg)
{
    churn_job_t *j = arg;
    churn_t c;
    churn_setup(&c, j->live, j->seed, j->seed << 40);
    churn_steps(&c, j->steps);
    churn_teardown(&c);
    checks_flush();
    return NULL;
}

static uint32_t churn_live(void) { return (uint32_t)scaled(CHURN_LIVE, 1000); }

void work_churn(void)
{
    churn_job_t j = { churn_live(), scaled(CHURN_OPS, 10000), 1 };
    uint64_t rss0 = rss_kb(), t0 = now_ns();
    churn_job(&j);
    report("churn", "-", now_ns() - t0, churn_calls(j.live, j.steps), rss0, "");
}

void work_churn2t(void)
{
    churn_job_t j[2] = { { churn_live(), scaled(CHURN_OPS, 10000), 2 },
                         { churn_live(), scaled(CHURN_OPS, 10000), 3 } };
    pthread_t t[2];
    uint64_t rss0 = rss_kb(), t0 = now_ns();
    for (int i = 0; i < 2; i++)
        spawn(&t[i], churn_job, &j[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    report("churn2t", "-", now_ns() - t0, 2 * churn_calls(j[0].live, j[0].steps), rss0, "");
}
