/* Workload 2: LIFO bursts. Allocate a burst of N blocks (N random up to
 * LIFO_MAX_BURST, Python-like sizes), then check and free them newest
 * first, like the temporaries of a call that returns. */
#include "balloc.h"
#include "bench.h"

#define LIFO_BLOCKS    4000000u   /* blocks per run (before scaling) */
#define LIFO_MAX_BURST 2000u

void work_lifo(void)
{
    uint64_t total = scaled(LIFO_BLOCKS, 10000), index = 0;
    slot_t *burst = harness_alloc(LIFO_MAX_BURST * sizeof *burst);
    size_mix_t *mix = harness_alloc(sizeof *mix);
    size_mix_python(mix);
    rng_t r = { 4 };
    uint64_t rss0 = rss_kb(), t0 = now_ns();
    while (index < total) {
        uint32_t n = 1 + rng_below(&r, LIFO_MAX_BURST);
        for (uint32_t i = 0; i < n; i++)
            slot_alloc(&burst[i], index++, size_pick(mix, &r));
        while (n > 0)
            slot_free(&burst[--n]);
    }
    uint64_t ns = now_ns() - t0;
    report("lifo", "-", ns, 2 * index, rss0, "");
    harness_free(burst, LIFO_MAX_BURST * sizeof *burst);
    harness_free(mix, sizeof *mix);
}
