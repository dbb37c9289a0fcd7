/* pooltrace summary: what a traced program did with its heap. */
#include "pooltrace.h"

#include <inttypes.h>
#include <stdlib.h>

/* "  [16 B, 32 B)   1234  ####" for every non-empty bucket. */
static void histogram(const char *title, const uint64_t *counts, unsigned n, bool times)
{
    uint64_t total = 0, most = 0;
    for (unsigned i = 0; i < n; i++) {
        total += counts[i];
        if (counts[i] > most)
            most = counts[i];
    }
    printf("%s:%s\n", title, total ? "" : " none");
    for (unsigned i = 0; i < n; i++) {
        if (!counts[i])
            continue;
        char lo[32], hi[32];
        if (times) {
            pt_duration(tm_bucket_floor(i), lo, sizeof lo);
            pt_duration(tm_bucket_floor(i + 1), hi, sizeof hi);
        } else {
            snprintf(lo, sizeof lo, "%" PRIu64, tm_bucket_floor(i));
            snprintf(hi, sizeof hi, "%" PRIu64, tm_bucket_floor(i + 1));
        }
        int bar = (int)(counts[i] * 40 / most);
        printf("  %s%12s .. %-12s %12" PRIu64 " %5.1f%% %.*s\n", i + 1 == n ? ">=" : "  ", lo,
               i + 1 == n ? "" : hi, counts[i], 100.0 * (double)counts[i] / (double)total,
               bar ? bar : 1, "########################################");
    }
}

static int summarise(const char *path, const pt_options_t *o)
{
    char err[512];
    trace_reader_t *r = trace_open(path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "pooltrace: %s\n", err);
        return EXIT_INVALID;
    }
    trace_model_t *m = tm_new(&o->limits, NULL);
    int rc = 0;
    if (!m) {
        fprintf(stderr, "pooltrace: %s: out of memory\n", path);
        rc = EXIT_INVALID;
    } else if (pt_feed(r, path, m, NULL, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "pooltrace: %s\n", err);
        rc = EXIT_INVALID;
    } else {
        const tm_stats_t *st = tm_stats(m);
        uint64_t end_bytes, end_blocks;
        tm_finish(m, &end_bytes, &end_blocks);
        char d[32];
        pt_print_header(stdout, path, trace_info(r));
        printf("duration: %s (first to last record)\n",
               pt_duration(st->last_ns - st->first_ns, d, sizeof d));
        double tick = trace_info(r)->ns_per_tick;
        if (tick == 1)
            printf("clock: nanoseconds (CLOCK_MONOTONIC)\n");
        else
            printf("clock: TSC ticks of %.4f ns (fitted to CLOCK_MONOTONIC)\n", tick);
        printf("records: %" PRIu64 "\n", st->records);
        pt_print_counts(stdout, st, end_bytes, end_blocks);
        printf("realloc(p, 0) frees: %" PRIu64 "\n", st->realloc_frees);
        printf("cross-thread frees: %" PRIu64 "\n", st->cross_thread_frees);
        histogram("request sizes (bytes)", st->sizes, TM_SIZE_BUCKETS, false);
        histogram("lifetimes of freed blocks", st->lifetimes, TM_LIFE_BUCKETS, true);
    }
    tm_free(m);
    trace_close(r);
    return rc;
}

int pt_summary(int argc, char **argv, const pt_options_t *o)
{
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        if (i)
            putchar('\n');
        int k = summarise(argv[i], o);
        if (k)
            rc = k;
    }
    return rc;
}
