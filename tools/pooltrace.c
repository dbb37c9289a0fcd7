/*
 * pooltrace: look at allocation traces recorded with POOLMALLOCTRACE.
 *
 *   pooltrace summary FILE...        what the program did
 *   pooltrace replay FILE [--speed X] replay through the pool allocator
 *   pooltrace check [--strict] [--explain] FILE...  is it a well-formed trace
 *
 * A bad trace is reported as "FILE: offset N: what" (exit status 1); the
 * reader never trusts the file (see allocator/trace/trace_reader.h).
 */
#define _GNU_SOURCE
#include "pooltrace.h"

#include <errno.h>
#include <inttypes.h>
#include <poolalloc.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: pooltrace summary [options] FILE...\n"
    "       pooltrace replay [options] FILE\n"
    "       pooltrace check [options] FILE...\n"
    "       pooltrace --help | --version\n"
    "\n"
    "Traces are recorded with the preload shim:\n"
    "  POOLMALLOCTRACE=FILE LD_PRELOAD=libpoolmalloc.so program   (%p in FILE: the pid)\n"
    "\n"
    "  summary   operation counts, request sizes, peak live bytes and when, live bytes at\n"
    "            the end, lifetimes of freed blocks, threads, duration, anomalies\n"
    "  replay    replays the trace through the pool allocator (every block filled with a\n"
    "            pattern and checked when freed), then prints the counts as summary does,\n"
    "            the peak the replay itself held, and the allocator's statistics report\n"
    "  check     reads the whole trace; exit status 0 when it is well-formed, 1 when not\n"
    "\n"
    "Options:\n"
    "  --speed=X          replay: X times the recorded pace (default 0: as fast as possible)\n"
    "  --max-request=N    largest request replayed, in bytes (default 268435456); larger\n"
    "                     ones count as too_large anomalies\n"
    "  --max-live=N       most blocks tracked at once (default 4194304)\n"
    "  --strict           check: any anomaly (e.g. a free of an unknown address) fails too\n"
    "  --explain          check: print the first anomaly: its record and, for address_live,\n"
    "                     the allocation that still held the address (thread, time, size)\n"
    "  --help, --version\n"
    "\n"
    "Exit status: 0 fine, 1 a trace is invalid (or a replayed block was corrupted), 2 usage.\n";

/* ---- shared helpers --------------------------------------------------------------- */

int pt_feed(trace_reader_t *r, const char *path, trace_model_t *m, pt_pace_fn pace, void *ctx,
            char *err, size_t errlen)
{
    trace_record_t rec;
    int k;
    while ((k = trace_next(r, &rec)) > 0) {
        if (pace)
            pace(ctx, &rec);
        tm_apply(m, &rec);
    }
    if (k < 0) {
        snprintf(err, errlen, "%s: %s", path, trace_error(r));
        return -1;
    }
    return 0;
}

const char *pt_duration(uint64_t ns, char *buf, size_t len)
{
    if (ns < 1000)
        snprintf(buf, len, "%" PRIu64 " ns", ns);
    else if (ns < 1000000)
        snprintf(buf, len, "%.1f us", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, len, "%.1f ms", (double)ns / 1e6);
    else
        snprintf(buf, len, "%.3f s", (double)ns / 1e9);
    return buf;
}

void pt_print_header(FILE *out, const char *path, const trace_info_t *info)
{
    fprintf(out, "%s: pid %u (%s), %" PRIu64 " threads, %" PRIu64 " records in %" PRIu64
                 " chunks, %" PRIu64 " bytes\n",
            path, info->pid, info->comm[0] ? info->comm : "?", info->threads, info->records,
            info->chunks, info->file_bytes);
}

void pt_print_counts(FILE *out, const tm_stats_t *st, uint64_t end_bytes, uint64_t end_blocks)
{
    fprintf(out, "operations: malloc %" PRIu64 " calloc %" PRIu64 " realloc %" PRIu64
                 " free %" PRIu64 " aligned %" PRIu64 "\n",
            st->ops[TRACE_OP_MALLOC], st->ops[TRACE_OP_CALLOC], st->ops[TRACE_OP_REALLOC],
            st->ops[TRACE_OP_FREE], st->ops[TRACE_OP_ALIGNED]);
    fprintf(out, "failed allocations: %" PRIu64 "\n", st->failed);
    char when[32];
    fprintf(out, "peak live bytes: %" PRIu64 " in %" PRIu64 " blocks, at %s\n", st->peak_bytes,
            st->peak_blocks, pt_duration(st->peak_time_ns, when, sizeof when));
    fprintf(out, "live at the end: %" PRIu64 " bytes in %" PRIu64 " blocks\n", end_bytes,
            end_blocks);
    fprintf(out, "anomalies:");
    for (int k = 0; k < TM_ANOMALY_KINDS; k++)
        fprintf(out, " %s %" PRIu64, tm_anomaly_name(k), st->anomalies[k]);
    fputc('\n', out);
}

/* ---- check ------------------------------------------------------------------------------ */

/* The first anomaly, in the reader's terms: which record, which thread,
 * when (ticks as recorded and ns), and the live block it ran into. */
static void explain_first(FILE *out, const trace_model_t *m)
{
    const tm_anomaly_t *a = tm_first_anomaly(m);
    if (!a)
        return;
    const trace_record_t *r = &a->rec;
    fprintf(out, "first anomaly: %s at record %" PRIu64 ": %s by thread %u at %" PRIu64
            " ticks (%" PRIu64 " ns)", tm_anomaly_name(a->kind), a->records,
            trace_op_name(r->op), r->tid, r->ticks, r->time_ns);
    if (r->ptr)
        fprintf(out, ", block 0x%" PRIx64, r->ptr);
    if (r->op != TRACE_OP_FREE)
        fprintf(out, ", %" PRIu64 " bytes -> 0x%" PRIx64, r->size, r->result);
    fputc('\n', out);
    if (a->has_live)
        fprintf(out, "  0x%" PRIx64 " was still live: %" PRIu64 " bytes allocated by thread %u at %"
                PRIu64 " ns, %" PRIu64 " ns earlier, and not freed since in this trace\n",
                a->live.addr, a->live.size, a->live.tid, a->live.time_ns,
                r->time_ns - a->live.time_ns);
}

static int anomalies(const tm_stats_t *st)
{
    uint64_t n = 0;
    for (int k = 0; k < TM_ANOMALY_KINDS; k++)
        n += st->anomalies[k];
    return n != 0;
}

static int check_one(const char *path, const pt_options_t *o)
{
    char err[512];
    trace_reader_t *r = trace_open(path, err, sizeof err);
    trace_model_t *m = r ? tm_new(&o->limits, NULL) : NULL;
    int bad = 1;
    if (r && !m)
        snprintf(err, sizeof err, "%s: out of memory", path);
    if (m && pt_feed(r, path, m, NULL, NULL, err, sizeof err) == 0) {
        const tm_stats_t *st = tm_stats(m);
        bad = o->strict && anomalies(st);
        printf("%s: %s (%" PRIu64 " records, %" PRIu64 " threads)\n", path,
               bad ? "well-formed, but with anomalies" : "ok", st->records,
               trace_info(r)->threads);
        if (bad)
            pt_print_counts(stdout, st, st->live_bytes, st->live_blocks);
        if (o->explain)
            explain_first(stdout, m);
    } else {
        fprintf(stderr, "pooltrace: %s\n", err);
    }
    if (m)
        tm_finish(m, NULL, NULL);
    tm_free(m);
    trace_close(r);
    return bad;
}

/* ---- options ------------------------------------------------------------------------------ */

static int parse_number(const char *name, const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= 0) || d > 1e18) {
        fprintf(stderr, "pooltrace: --%s: invalid value \"%s\": expected a number >= 0\n",
                name, v);
        return -1;
    }
    *out = d;
    return 0;
}

/* Takes the options out of argv (in place); returns the count left, or -1. */
static int parse_options(int argc, char **argv, pt_options_t *o)
{
    int n = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || strcmp(a, "--") == 0) {
            argv[n++] = argv[i];
            continue;
        }
        if (strcmp(a, "--strict") == 0 || strcmp(a, "--explain") == 0) {
            *(a[2] == 's' ? &o->strict : &o->explain) = true;
            continue;
        }
        static const char *const names[] = { "speed", "max-request", "max-live" };
        const char *eq = strchr(a, '='), *value = NULL;
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        size_t k = 0;
        while (k < 3 && !(strlen(names[k]) == len && strncmp(a + 2, names[k], len) == 0))
            k++;
        if (k == 3) {
            fprintf(stderr, "pooltrace: unknown option %s (see pooltrace --help)\n", a);
            return -1;
        }
        value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        double d;
        if (!value) {
            fprintf(stderr, "pooltrace: --%s: missing value\n", names[k]);
            return -1;
        }
        if (parse_number(names[k], value, &d) != 0)
            return -1;
        if (k == 0)
            o->speed = d;
        else if (k == 1)
            o->limits.max_request = (uint64_t)d;
        else
            o->limits.max_live = d >= 1 ? (uint64_t)d : 1;
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("pooltrace (poolalloc %s), trace format %u\n", POOLALLOC_VERSION, TRACE_VERSION);
            return 0;
        }
    }
    pt_options_t o = { .limits = { .max_live = 4u << 20, .max_request = 256u << 20,
                                   .max_alignment = 1u << 20 } };
    const char *cmd = argv[1];
    int n = parse_options(argc - 2, argv + 2, &o);
    if (n < 0)
        return EXIT_USAGE;
    char **files = argv + 2;
    if (n == 0 || (strcmp(cmd, "replay") == 0 && n != 1)) {
        fprintf(stderr, "pooltrace: %s: %s\n", cmd,
                n == 0 ? "which trace file?" : "replays one trace file");
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "summary") == 0)
        return pt_summary(n, files, &o);
    if (strcmp(cmd, "replay") == 0)
        return pt_replay(files[0], &o);
    if (strcmp(cmd, "check") == 0) {
        int bad = 0;
        for (int i = 0; i < n; i++)
            bad |= check_one(files[i], &o);
        return bad ? EXIT_INVALID : 0;
    }
    fprintf(stderr, "pooltrace: unknown command \"%s\" (summary, replay, check; see --help)\n", cmd);
    return EXIT_USAGE;
}
