/*
 * The replay workload (--workload=replay --workload.trace=FILE): a trace
 * recorded with POOLMALLOCTRACE, made again through the pool allocator, in
 * a loop. Every workload thread replays its own copy of the whole trace
 * (--workload.threads=1 for a faithful single copy); a block the traced
 * program freed from another thread than allocated it is handed to another
 * workload thread to free, so remote frees happen too. The pace follows
 * the recorded times divided by --workload.speed (0: no pacing by time),
 * always within --workload.rate; the cap (--workload.max-bytes) refuses
 * what does not fit, as in every profile. At the end of a pass every block
 * still held is freed and the next pass starts.
 */
#include "workload/replay.h"
#include "service/log.h"
#include "workload/engine.h"

#include "trace_reader.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = 64 };                 /* records per step */
#define MIN_PASS_NS 1000000u          /* a pass lasts at least 1 ms: no spinning on tiny traces */
#define MAX_REQUEST ((uint64_t)256 << 20)
#define MAX_ALIGNMENT ((uint64_t)1 << 20)

typedef struct {
    wl_thread      *t;
    trace_reader_t *r;
    trace_model_t  *m;
    uint64_t        pass_start, first_ns;
    bool            started, broken;
    uint64_t        flushed[TM_ANOMALY_KINDS];
} replay_state;

/* Totals over every thread and pass; threads add their batches. */
static struct {
    _Atomic uint64_t loops, records, anomalies[TM_ANOMALY_KINDS];
} totals;

static pthread_mutex_t info_lock = PTHREAD_MUTEX_INITIALIZER;
static replay_stats_t info;           /* the trace running now (guarded) */
static _Atomic int running_threads;

/* ---- the model's callbacks: blocks through the engine ---------------------------- */

static wl_block as_block(const tm_block_t *b)
{
    return (wl_block){ b->block, (uint32_t)b->size, b->seed };
}

static bool rp_alloc(void *ctx, tm_block_t *b, const trace_record_t *rec)
{
    replay_state *s = ctx;
    wl_block wb;
    wl_result r = rec->op == TRACE_OP_ALIGNED
                      ? wl_alloc_aligned(s->t, (size_t)rec->alignment, (size_t)b->size, &wb)
                      : wl_alloc(s->t, (size_t)b->size, &wb);
    if (r != WL_OK)
        return false;
    b->block = wb.p;
    b->seed = wb.seed;
    return true;
}

static bool rp_resize(void *ctx, tm_block_t *b, uint64_t new_size)
{
    replay_state *s = ctx;
    wl_block wb = as_block(b);
    if (wl_realloc(s->t, &wb, (size_t)new_size) != WL_OK)
        return false;
    b->block = wb.p;
    return true;
}

/* Freed where the program freed it: by this thread, or, when another
 * thread of the program did, by another workload thread. */
static void rp_release(void *ctx, tm_block_t *b, const trace_record_t *rec)
{
    replay_state *s = ctx;
    wl_block wb = as_block(b);
    if (rec && rec->tid != b->tid)
        wl_give(s->t, &wb);
    else
        wl_free(s->t, &wb, WL_PACED);
    b->block = NULL;
}

/* ---- the profile ------------------------------------------------------------------ */

static tm_limits_t limits(const wl_thread *t)
{
    const workload_config_t *c = wl_config(t);
    uint64_t live = c->max_bytes / 16 / wl_thread_count(t);
    return (tm_limits_t){
        .max_live = live < 65536 ? 65536 : live > (4u << 20) ? (4u << 20) : live,
        .max_request = c->max_bytes < MAX_REQUEST ? c->max_bytes : MAX_REQUEST,
        .max_alignment = MAX_ALIGNMENT,
    };
}

/* What the metrics show about the trace (the first thread to open it says). */
static void publish_info(const workload_config_t *c, const trace_info_t *ti)
{
    pthread_mutex_lock(&info_lock);
    info.active = true;
    snprintf(info.trace, sizeof info.trace, "%s", c->trace);
    snprintf(info.comm, sizeof info.comm, "%s", ti->comm);
    info.pid = ti->pid;
    info.trace_records = ti->records;
    info.trace_threads = ti->threads;
    info.trace_ns = ti->last_ns - ti->first_ns;
    info.speed = c->speed;
    pthread_mutex_unlock(&info_lock);
}

static void replay_init(wl_thread *t, void *state)
{
    replay_state *s = state;
    const workload_config_t *c = wl_config(t);
    char err[600];
    s->t = t;
    atomic_fetch_add(&running_threads, 1);
    s->r = trace_open(c->trace, err, sizeof err);
    tm_limits_t lim = limits(t);
    tm_ops_t ops = { rp_alloc, rp_resize, rp_release, s };
    s->m = s->r ? tm_new(&lim, &ops) : NULL;
    if (!s->m) {
        log_error("replay: cannot open the trace; this thread replays nothing", "error",
                  s->r ? "out of memory" : err);
        s->broken = true;
        return;
    }
    publish_info(c, trace_info(s->r));
}

/* Adds what this thread did since the last flush to the totals. */
static void flush_counts(replay_state *s, uint64_t records)
{
    atomic_fetch_add_explicit(&totals.records, records, memory_order_relaxed);
    const tm_stats_t *st = tm_stats(s->m);
    for (int k = 0; k < TM_ANOMALY_KINDS; k++) {
        if (st->anomalies[k] != s->flushed[k]) {
            atomic_fetch_add_explicit(&totals.anomalies[k], st->anomalies[k] - s->flushed[k],
                                      memory_order_relaxed);
            s->flushed[k] = st->anomalies[k];
        }
    }
}

/* The pass is over: free what the program still held, start again. */
static void end_pass(replay_state *s)
{
    tm_finish(s->m, NULL, NULL);
    trace_rewind(s->r);
    atomic_fetch_add_explicit(&totals.loops, 1, memory_order_relaxed);
    wl_wait_until(s->t, s->pass_start + MIN_PASS_NS);
    s->started = false;
}

/* --workload.speed: wait for the record's time, scaled. */
static bool on_time(replay_state *s, const trace_record_t *rec)
{
    double speed = wl_config(s->t)->speed;
    if (!s->started) {
        s->started = true;
        s->first_ns = rec->time_ns;
        s->pass_start = mono_ns();
    }
    if (speed <= 0)
        return !wl_stopping(s->t);
    double due = (double)(rec->time_ns - s->first_ns) / speed;
    return wl_wait_until(s->t, s->pass_start + (due < 1e18 ? (uint64_t)due : (uint64_t)1e18));
}

static void replay_step(wl_thread *t, void *state)
{
    replay_state *s = state;
    if (s->broken) {
        wl_wait_until(t, mono_ns() + 100000000u);
        return;
    }
    trace_record_t rec;
    uint64_t done = 0;
    int k = 1;
    while (done < BATCH && (k = trace_next(s->r, &rec)) > 0) {
        if (!on_time(s, &rec))
            break;
        tm_apply(s->m, &rec);
        done++;
    }
    flush_counts(s, done);
    if (k == 0) {
        end_pass(s);
    } else if (k < 0) {
        log_error("replay: the trace cannot be read any more; this thread stops replaying",
                  "trace", wl_config(t)->trace, "error", trace_error(s->r));
        tm_finish(s->m, NULL, NULL);
        s->broken = true;
    }
}

static void replay_fini(wl_thread *t, void *state)
{
    (void)t;
    replay_state *s = state;
    if (s->m)
        tm_finish(s->m, NULL, NULL);
    tm_free(s->m);
    trace_close(s->r);
    if (atomic_fetch_sub(&running_threads, 1) == 1) {
        pthread_mutex_lock(&info_lock);
        info.active = false;
        pthread_mutex_unlock(&info_lock);
    }
}

/* Before starting: the trace must exist and read to its end, with records. */
static int replay_check(const workload_config_t *c, char *err, size_t len)
{
    if (!c->trace || !*c->trace) {
        snprintf(err, len, "--workload=replay needs --workload.trace=FILE (a trace recorded "
                           "with POOLMALLOCTRACE)");
        return -1;
    }
    char why[600];
    trace_reader_t *r = trace_open(c->trace, why, sizeof why);
    if (!r) {
        snprintf(err, len, "--workload.trace: %s", why);
        return -1;
    }
    trace_record_t rec;
    uint64_t n = 0;
    int k;
    while ((k = trace_next(r, &rec)) > 0)
        n++;
    if (k < 0)
        snprintf(err, len, "--workload.trace: %s: %s", c->trace, trace_error(r));
    else if (n == 0)
        snprintf(err, len, "--workload.trace: %s: the trace has no records", c->trace);
    trace_close(r);
    return k < 0 || n == 0 ? -1 : 0;
}

const wl_profile wl_replay_profile = {
    "replay", "a trace recorded with POOLMALLOCTRACE, replayed in a loop (--workload.trace)",
    sizeof(replay_state), replay_init, replay_step, replay_fini, replay_check,
};

void replay_stats_read(replay_stats_t *out)
{
    pthread_mutex_lock(&info_lock);
    *out = info;
    pthread_mutex_unlock(&info_lock);
    out->loops = atomic_load_explicit(&totals.loops, memory_order_relaxed);
    out->records = atomic_load_explicit(&totals.records, memory_order_relaxed);
    for (int k = 0; k < TM_ANOMALY_KINDS; k++)
        out->anomalies[k] = atomic_load_explicit(&totals.anomalies[k], memory_order_relaxed);
}
