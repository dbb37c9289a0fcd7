/* Producer/consumer. One thread allocates and fills blocks and hands them
 * over a ring (ring.h); the other checks and frees them, so every block is
 * freed by a thread that did not allocate it. */
#include "balloc.h"
#include "ring.h"

#define XT_BLOCKS 3000000u      /* blocks per run (before scaling) */

typedef struct {
    ring_t   ring;
    uint64_t total;
} xthread_t;

static void *producer(void *arg)
{
    xthread_t *x = arg;
    static size_mix_t mix;      /* harness memory: static, not allocated */
    size_mix_python(&mix);
    rng_t r = { 5 };
    ring_cursor_t c = { 0, 0 };
    while (c.mine < x->total) {
        slot_t *s;
        for (unsigned spins = 0; !(s = ring_push_slot(&x->ring, &c)); ring_wait(&spins))
            ;
        slot_alloc(s, c.mine, size_pick(&mix, &r));
        ring_push_done(&x->ring, &c);
    }
    ring_push_flush(&x->ring, &c);
    return NULL;
}

static void *consumer(void *arg)
{
    xthread_t *x = arg;
    ring_cursor_t c = { 0, 0 };
    while (c.mine < x->total) {
        slot_t *s;
        for (unsigned spins = 0; !(s = ring_pop_slot(&x->ring, &c)); ring_wait(&spins))
            ;
        slot_free(s);
        ring_pop_done(&x->ring, &c);
    }
    checks_flush();
    return NULL;
}

void work_xthread(void)
{
    xthread_t *x = harness_alloc(sizeof *x);
    x->total = scaled(XT_BLOCKS, 10000);
    pthread_t tp, tc;
    uint64_t rss0 = rss_kb(), t0 = now_ns();
    spawn(&tc, consumer, x);
    spawn(&tp, producer, x);
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    report("xthread", "-", now_ns() - t0, 2 * x->total, rss0, "");
    harness_free(x, sizeof *x);
}
