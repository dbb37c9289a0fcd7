/*
 * pooltrace replay: the trace's allocations, frees and reallocs made again
 * through the pool allocator (pool_malloc & co.), each block filled with a
 * pattern and checked when it is resized or freed. The trace model keeps
 * the program's addresses apart from ours; this file keeps its own tally of
 * what it holds, so its peak is measured, not copied from the model.
 */
#define _GNU_SOURCE
#include "block_pattern.h"
#include "pooltrace.h"

#include <inttypes.h>
#include <poolalloc.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    uint64_t seeds;
    uint64_t held_bytes, held_blocks, peak_bytes;
    uint64_t corrupted, made, released;
    /* pacing */
    double   speed;
    uint64_t first_ns, start_ns;
    bool     started;
} replay_t;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void hold(replay_t *rp, int64_t bytes, int64_t blocks)
{
    rp->held_bytes += (uint64_t)bytes;
    rp->held_blocks += (uint64_t)blocks;
    if (rp->held_bytes > rp->peak_bytes)
        rp->peak_bytes = rp->held_bytes;
}

static void check(replay_t *rp, const tm_block_t *b, size_t size)
{
    if (!bp_intact(b->block, size, b->seed)) {
        if (rp->corrupted++ < 10)
            fprintf(stderr, "pooltrace: replayed block %p (%zu bytes, traced at 0x%" PRIx64
                            ") was corrupted\n", b->block, size, b->addr);
    }
}

static bool r_alloc(void *ctx, tm_block_t *b, const trace_record_t *rec)
{
    replay_t *rp = ctx;
    size_t n = (size_t)b->size;
    void *p;
    if (rec->op == TRACE_OP_CALLOC)
        p = pool_calloc(1, n);
    else if (rec->op == TRACE_OP_ALIGNED)
        p = pool_aligned_alloc((size_t)rec->alignment, n);
    else
        p = pool_malloc(n);
    if (!p)
        return false;
    b->block = p;
    b->seed = (uint32_t)++rp->seeds;
    bp_fill(p, 0, n, b->seed);
    rp->made++;
    hold(rp, (int64_t)n, 1);
    return true;
}

static bool r_resize(void *ctx, tm_block_t *b, uint64_t new_size)
{
    replay_t *rp = ctx;
    size_t old = (size_t)b->size, n = (size_t)new_size;
    check(rp, b, old);
    void *p = pool_realloc(b->block, n ? n : 1);   /* pool_realloc(p, 0) would free */
    if (!p)
        return false;
    b->block = p;
    check(rp, b, old < n ? old : n);                 /* realloc keeps what fits */
    bp_fill(p, old < n ? old : n, n, b->seed);
    hold(rp, (int64_t)n - (int64_t)old, 0);
    return true;
}

static void r_release(void *ctx, tm_block_t *b, const trace_record_t *rec)
{
    (void)rec;
    replay_t *rp = ctx;
    check(rp, b, (size_t)b->size);
    pool_free(b->block);
    b->block = NULL;
    rp->released++;
    hold(rp, -(int64_t)b->size, -1);
}

/* --speed: wait until the record's time, scaled, has come. */
static void pace(void *ctx, const trace_record_t *rec)
{
    replay_t *rp = ctx;
    if (rp->speed <= 0)
        return;
    if (!rp->started) {
        rp->started = true;
        rp->first_ns = rec->time_ns;
        rp->start_ns = now_ns();
    }
    double due = (double)rp->start_ns + (double)(rec->time_ns - rp->first_ns) / rp->speed;
    double wait = due - (double)now_ns();
    if (wait > 0) {
        struct timespec ts = { (time_t)(wait / 1e9), (long)((uint64_t)wait % 1000000000u) };
        nanosleep(&ts, NULL);
    }
}

static void report(const char *path, trace_reader_t *r, trace_model_t *m, replay_t *rp,
                   double seconds)
{
    const tm_stats_t *st = tm_stats(m);
    uint64_t end_bytes, end_blocks;
    uint64_t held_at_end = rp->held_bytes;
    pool_stats_t at_end, ps;
    pool_stats_get(&at_end);           /* the heap as the program left it */
    tm_finish(m, &end_bytes, &end_blocks);
    pool_stats_get(&ps);
    uint64_t left = 0;
    for (unsigned c = 0; c < POOL_NUM_CLASSES; c++)
        left += ps.classes[c].blocks_allocated;
    pt_print_header(stdout, path, trace_info(r));
    printf("replayed: %" PRIu64 " records in %.3f s (%.0f records/s)\n", st->records, seconds,
           seconds > 0 ? (double)st->records / seconds : 0.0);
    pt_print_counts(stdout, st, end_bytes, end_blocks);
    printf("replay held: peak %" PRIu64 " bytes, %" PRIu64 " bytes at the end (then freed)\n",
           rp->peak_bytes, held_at_end);
    printf("replay blocks: %" PRIu64 " made, %" PRIu64 " freed, %" PRIu64 " refused, %" PRIu64
           " corrupted\n", rp->made, rp->released, st->refused, rp->corrupted);
    printf("allocator blocks still allocated after the replay: %" PRIu64 " small, %" PRIu64
           " large\n", left, ps.large_allocations);
    printf("\nThe allocator at the end of the trace (what the program still held), "
           "before the replay freed it:\n");
    size_t need = pool_stats_format(&at_end, NULL, 0);
    char *text = malloc(need + 1);
    if (text) {
        pool_stats_format(&at_end, text, need + 1);
        fputs(text, stdout);
        free(text);
    }
}

int pt_replay(const char *path, const pt_options_t *o)
{
    char err[512];
    trace_reader_t *r = trace_open(path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "pooltrace: %s\n", err);
        return EXIT_INVALID;
    }
    replay_t rp = { .speed = o->speed };
    tm_ops_t ops = { r_alloc, r_resize, r_release, &rp };
    trace_model_t *m = tm_new(&o->limits, &ops);
    int rc = 0;
    uint64_t t0 = now_ns();
    if (!m) {
        fprintf(stderr, "pooltrace: %s: out of memory\n", path);
        rc = EXIT_INVALID;
    } else if (pt_feed(r, path, m, pace, &rp, err, sizeof err) != 0) {
        fprintf(stderr, "pooltrace: %s (replay stopped there)\n", err);
        tm_finish(m, NULL, NULL);
        rc = EXIT_INVALID;
    } else {
        report(path, r, m, &rp, (double)(now_ns() - t0) / 1e9);
        rc = rp.corrupted ? EXIT_INVALID : 0;
    }
    tm_free(m);
    trace_close(r);
    return rc;
}
