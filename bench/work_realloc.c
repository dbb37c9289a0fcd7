/* Workload 5: realloc growth. REALLOC_CHAINS buffers grow side by side in
 * 8-byte steps from 8 bytes to 4 KiB, as a string or list being appended
 * to would. Each step checks the first word, the last word of the old size
 * and one random word in between (a realloc must preserve them), then fills
 * the new tail; the whole buffer is checked before it is freed. */
#include "balloc.h"
#include "bench.h"

#define REALLOC_CHAINS 16u
#define REALLOC_FROM   8u
#define REALLOC_TO     4096u
#define REALLOC_STEP   8u
#define REALLOC_ROUNDS 2000u    /* groups of chains per run (before scaling) */

static void *grow(void *p, uint64_t index, size_t old, size_t size, rng_t *r)
{
    pattern_check_word(p, index, old, 0);
    pattern_check_word(p, index, old, old - 8);
    pattern_check_word(p, index, old, 8 * (size_t)rng_below(r, (uint32_t)(old / 8)));
    bench_checks++;
    p = b_realloc(p, size);
    if (!p)
        oom(size);
    pattern_fill_range(p, index, old, size);
    return p;
}

void work_realloc(void)
{
    uint64_t rounds = scaled(REALLOC_ROUNDS, 2), calls = 0;
    rng_t r = { 6 };
    void *buf[REALLOC_CHAINS];
    uint64_t rss0 = rss_kb(), t0 = now_ns();
    for (uint64_t g = 0; g < rounds; g++) {
        uint64_t base = g * REALLOC_CHAINS;
        for (unsigned c = 0; c < REALLOC_CHAINS; c++) {
            if (!(buf[c] = b_malloc(REALLOC_FROM)))
                oom(REALLOC_FROM);
            pattern_fill(buf[c], base + c, REALLOC_FROM);
        }
        for (size_t size = REALLOC_FROM; size < REALLOC_TO; size += REALLOC_STEP)
            for (unsigned c = 0; c < REALLOC_CHAINS; c++)
                buf[c] = grow(buf[c], base + c, size, size + REALLOC_STEP, &r);
        for (unsigned c = 0; c < REALLOC_CHAINS; c++) {
            pattern_check(buf[c], base + c, REALLOC_TO);
            b_free(buf[c]);
        }
        calls += REALLOC_CHAINS * (2 + (REALLOC_TO - REALLOC_FROM) / REALLOC_STEP);
    }
    report("realloc", "-", now_ns() - t0, calls, rss0, "");
}
