#include "balloc.h"
#include "churn.h"

void churn_setup(churn_t *c, uint32_t live, uint64_t seed, uint64_t index_base,
                 const size_mix_t *mix)
{
    c->live = live;
    c->rng.s = seed;
    c->next_index = index_base;
    c->slots = harness_alloc(live * sizeof *c->slots);
    c->mix = mix;
    for (uint32_t i = 0; i < live; i++)
        slot_alloc(&c->slots[i], c->next_index++, size_pick(c->mix, &c->rng));
}

void churn_steps(churn_t *c, uint64_t n)
{
    for (uint64_t k = 0; k < n; k++) {
        slot_t *s = &c->slots[rng_below(&c->rng, c->live)];
        slot_free(s);
        slot_alloc(s, c->next_index++, size_pick(c->mix, &c->rng));
    }
}

void churn_teardown(churn_t *c)
{
    for (uint32_t i = 0; i < c->live; i++)
        slot_free(&c->slots[i]);
    harness_free(c->slots, c->live * sizeof *c->slots);
}

void churn_run(const char *workload, uint32_t live, uint64_t steps, const size_mix_t *mix)
{
    churn_t c;
    uint64_t rss0 = rss_kb(), t0 = now_ns();
    churn_setup(&c, live, 1, 0, mix);
    churn_steps(&c, steps);
    churn_teardown(&c);
    report(workload, "-", now_ns() - t0, churn_calls(live, steps), rss0, "");
}

void churn_run_log(const char *workload, uint32_t lo, uint32_t hi, uint32_t live, uint64_t steps)
{
    static size_mix_t mix;      /* harness memory: static, not allocated */
    size_mix_log(&mix, lo, hi);
    churn_run(workload, live, steps, &mix);
}
