/* LIFO bursts. Allocate a burst of N blocks (N random up to a maximum),
 * then check and free them newest first, like the temporaries of a call
 * that returns. Two variants: `lifo`, bursts up to 2,000 blocks of
 * Python-like sizes; `lifo4k`, bursts up to 4,096 blocks of sizes spread
 * evenly over 16-512 bytes, so that every small class sees runs of a
 * hundred blocks and more: longer than what a per-thread cache of freed
 * blocks of the larger classes usually holds. */
#include "balloc.h"
#include "bench.h"

#define LIFO_BLOCKS 4000000u   /* blocks per run (before scaling) */

static size_mix_t mix;          /* harness memory: static, not allocated */

static void lifo_run(const char *workload, uint32_t max_burst)
{
    uint64_t total = scaled(LIFO_BLOCKS, 10000), index = 0;
    slot_t *burst = harness_alloc(max_burst * sizeof *burst);
    rng_t r = { 4 };
    uint64_t rss0 = rss_kb(), t0 = now_ns();
    while (index < total) {
        uint32_t n = 1 + rng_below(&r, max_burst);
        for (uint32_t i = 0; i < n; i++)
            slot_alloc(&burst[i], index++, size_pick(&mix, &r));
        while (n > 0)
            slot_free(&burst[--n]);
    }
    uint64_t ns = now_ns() - t0;
    report(workload, "-", ns, 2 * index, rss0, "");
    harness_free(burst, max_burst * sizeof *burst);
}

void work_lifo(void)
{
    size_mix_python(&mix);
    lifo_run("lifo", 2000);
}

void work_lifo4k(void)
{
    size_mix_uniform(&mix, 16, 512);
    lifo_run("lifo4k", 4096);
}
