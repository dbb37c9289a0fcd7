/* Workload 6: fragmentation, measured in memory rather than time.
 *
 *   1. allocate FRAG_BLOCKS blocks of 16..256 bytes          -> rss_alloc
 *   2. free a random 90% of them                             -> rss_free90
 *   3. refill with FRAG_BLOCKS/10 blocks of 257..512 bytes    -> rss_refill
 *      (another size range: only memory given back or re-purposed helps)
 *   4. free everything                                        -> rss_freeall
 *   5. stay idle for IDLE_MS                                  -> rss_idle
 *
 * The harness's own arrays are touched before the starting RSS is taken,
 * so every figure above it is the allocator's. */
#include "balloc.h"
#include "bench.h"

#include <inttypes.h>
#include <string.h>

#define FRAG_BLOCKS 2000000u

typedef struct {
    void    **p;
    uint16_t *size;
    uint64_t  n;
} blocks_t;

static void blocks_fill(blocks_t *b, uint64_t from, uint64_t to, const size_mix_t *mix, rng_t *r)
{
    for (uint64_t i = from; i < to; i++) {
        uint32_t size = size_pick(mix, r);
        if (!(b->p[i] = b_malloc(size)))
            oom(size);
        pattern_fill(b->p[i], i, size);
        b->size[i] = (uint16_t)size;
    }
}

static void blocks_free(blocks_t *b, uint64_t i)
{
    pattern_check(b->p[i], i, b->size[i]);
    b_free(b->p[i]);
    b->p[i] = NULL;
}

void work_frag(void)
{
    uint64_t n = scaled(FRAG_BLOCKS, 10000), total = n + n / 10;
    blocks_t b = { harness_alloc(total * sizeof *b.p), harness_alloc(total * sizeof *b.size), total };
    memset(b.p, 0, total * sizeof *b.p);
    memset(b.size, 0, total * sizeof *b.size);
    size_mix_t *small = harness_alloc(sizeof *small), *big = harness_alloc(sizeof *big);
    size_mix_uniform(small, 16, 256);
    size_mix_uniform(big, 257, 512);
    rng_t r = { 7 };
    uint64_t rss0 = rss_kb(), t0 = now_ns(), live = 0;

    blocks_fill(&b, 0, n, small, &r);
    uint64_t rss_alloc = rss_kb();
    for (uint64_t i = 0; i < n; i++) {
        if (rng_below(&r, 10) != 0)
            blocks_free(&b, i);
        else
            live += b.size[i];
    }
    uint64_t rss_free90 = rss_kb();
    blocks_fill(&b, n, total, big, &r);
    uint64_t rss_refill = rss_kb();
    for (uint64_t i = 0; i < total; i++)
        if (b.p[i])
            blocks_free(&b, i);
    uint64_t rss_freeall = rss_kb(), ns = now_ns() - t0;
    sleep_ms(bench_opts.idle_ms);
    uint64_t rss_idle = rss_kb();

    char extra[256];
    snprintf(extra, sizeof extra,
             "rss_alloc_kb=%" PRIu64 " rss_free90_kb=%" PRIu64 " rss_refill_kb=%" PRIu64
             " rss_freeall_kb=%" PRIu64 " rss_idle_kb=%" PRIu64 " live90_kb=%" PRIu64
             " idle_ms=%ld",
             rss_alloc, rss_free90, rss_refill, rss_freeall, rss_idle, live / 1024,
             bench_opts.idle_ms);
    report("frag", "-", ns, 2 * total, rss0, extra);
    harness_free(b.p, total * sizeof *b.p);
    harness_free(b.size, total * sizeof *b.size);
    harness_free(small, sizeof *small);
    harness_free(big, sizeof *big);
}
