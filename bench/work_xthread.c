/* Workload 4: producer/consumer. One thread allocates and fills blocks and
 * hands them over a bounded single-producer/single-consumer ring; the other
 * checks and frees them, so every block is freed by a thread that did not
 * allocate it. The ring publishes its indices in batches, so it costs a
 * few nanoseconds a block and the time measured is the allocator's. */
#include "balloc.h"
#include "bench.h"

#include <sched.h>
#include <stdatomic.h>

#define XT_BLOCKS 3000000u      /* blocks per run (before scaling) */
#define RING_LEN  4096u         /* power of two */
#define PUBLISH   32u           /* publish the index every this many items */

typedef struct {
    _Alignas(64) _Atomic uint64_t head;   /* written by the producer */
    _Alignas(64) _Atomic uint64_t tail;   /* written by the consumer */
    _Alignas(64) slot_t items[RING_LEN];
    uint64_t total;
} ring_t;

static void ring_wait(unsigned *spins)
{
    if (++*spins < 200)
        __builtin_ia32_pause();
    else
        sched_yield();
}

static void *producer(void *arg)
{
    ring_t *q = arg;
    size_mix_t *mix = harness_alloc(sizeof *mix);
    size_mix_python(mix);
    rng_t r = { 5 };
    uint64_t head = 0, tail_seen = 0;
    for (; head < q->total; head++) {
        for (unsigned spins = 0; head - tail_seen == RING_LEN; ring_wait(&spins)) {
            atomic_store_explicit(&q->head, head, memory_order_release);
            tail_seen = atomic_load_explicit(&q->tail, memory_order_acquire);
        }
        slot_alloc(&q->items[head % RING_LEN], head, size_pick(mix, &r));
        if (head % PUBLISH == PUBLISH - 1)
            atomic_store_explicit(&q->head, head + 1, memory_order_release);
    }
    atomic_store_explicit(&q->head, head, memory_order_release);
    harness_free(mix, sizeof *mix);
    return NULL;
}

static void *consumer(void *arg)
{
    ring_t *q = arg;
    uint64_t tail = 0, head_seen = 0;
    for (; tail < q->total; tail++) {
        for (unsigned spins = 0; tail == head_seen; ring_wait(&spins)) {
            atomic_store_explicit(&q->tail, tail, memory_order_release);
            head_seen = atomic_load_explicit(&q->head, memory_order_acquire);
        }
        slot_free(&q->items[tail % RING_LEN]);
        if (tail % PUBLISH == PUBLISH - 1)
            atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
    }
    checks_flush();
    return NULL;
}

void work_xthread(void)
{
    ring_t *q = harness_alloc(sizeof *q);
    q->total = scaled(XT_BLOCKS, 10000);
    pthread_t tp, tc;
    uint64_t rss0 = rss_kb(), t0 = now_ns();
    spawn(&tc, consumer, q);
    spawn(&tp, producer, q);
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    report("xthread", "-", now_ns() - t0, 2 * q->total, rss0, "");
    harness_free(q, sizeof *q);
}
