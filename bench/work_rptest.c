/* Random sizes handed between threads (after rpmalloc's benchmark). Two
 * threads each churn a working set of blocks of 16 B - 16 KiB (every
 * doubling as likely as the next); one replacement in RP_HANDOFF does not
 * free the old block but passes it over a ring (ring.h) to the other
 * thread, which checks and frees it among its own work. A block the ring
 * has no room for is freed at home; either way each is checked once. */
#include "balloc.h"
#include "ring.h"

#define RP_LIVE    4000u        /* working set per thread */
#define RP_OPS     150000u      /* replacements per thread (before scaling) */
#define RP_HANDOFF 4u           /* every 4th old block goes to the other thread */
#define RP_DRAIN   16u          /* take in the other's blocks every 16 steps */

typedef struct rp_thread {
    ring_t            out;      /* to the other thread */
    ring_cursor_t     out_c, in_c;
    struct rp_thread *peer;
    _Atomic int       done;     /* no more pushes to `out` */
    uint64_t          steps, seed;
    const size_mix_t *mix;
} rp_thread_t;

/* Check and free what the other thread sent; false when nothing came. */
static bool rp_drain(rp_thread_t *t)
{
    ring_t *in = &t->peer->out;
    slot_t *s;
    bool any = false;
    while ((s = ring_pop_slot(in, &t->in_c))) {
        slot_free(s);
        ring_pop_done(in, &t->in_c);
        any = true;
    }
    return any;
}

static void rp_step(rp_thread_t *t, slot_t *s, uint64_t k, uint64_t index, rng_t *r)
{
    slot_t *to;
    if (k % RP_HANDOFF == 0 && (to = ring_push_slot(&t->out, &t->out_c))) {
        *to = *s;                       /* the other thread frees it */
        ring_push_done(&t->out, &t->out_c);
    } else {
        slot_free(s);
    }
    slot_alloc(s, index, size_pick(t->mix, r));
}

static void *rp_main(void *arg)
{
    rp_thread_t *t = arg;
    uint32_t live = (uint32_t)scaled(RP_LIVE, 400);
    slot_t *set = harness_alloc(live * sizeof *set);
    rng_t r = { t->seed };
    uint64_t index = t->seed << 40;
    for (uint32_t i = 0; i < live; i++)
        slot_alloc(&set[i], index++, size_pick(t->mix, &r));
    for (uint64_t k = 0; k < t->steps; k++) {
        rp_step(t, &set[rng_below(&r, live)], k, index++, &r);
        if (k % RP_DRAIN == 0)
            rp_drain(t);
    }
    ring_push_flush(&t->out, &t->out_c);
    atomic_store_explicit(&t->done, 1, memory_order_release);
    for (unsigned spins = 0;;) {
        int peer_done = atomic_load_explicit(&t->peer->done, memory_order_acquire);
        if (rp_drain(t))
            spins = 0;
        else if (peer_done)
            break;                      /* it pushed all before `done`: nothing left */
        else
            ring_wait(&spins);
    }
    for (uint32_t i = 0; i < live; i++)
        slot_free(&set[i]);
    harness_free(set, live * sizeof *set);
    checks_flush();
    return NULL;
}

void work_rptest(void)
{
    static size_mix_t mix;      /* harness memory: static, not allocated */
    size_mix_log(&mix, 16, 16u << 10);
    rp_thread_t *t = harness_alloc(2 * sizeof *t);
    uint64_t steps = scaled(RP_OPS, 5000);
    for (int i = 0; i < 2; i++) {
        t[i].peer = &t[1 - i];
        t[i].steps = steps;
        t[i].seed = 11 + (uint64_t)i;
        t[i].mix = &mix;
    }
    uint64_t rss0 = rss_kb(), t0 = now_ns();
    run_threads(2, rp_main, t, sizeof t[0]);
    uint64_t live = scaled(RP_LIVE, 400);
    report("rptest", "-", now_ns() - t0, 2 * 2 * (live + steps), rss0, "");
    harness_free(t, 2 * sizeof *t);
}
