/* The workload engine: threads, pacing, the live-bytes cap, block patterns,
 * hand-overs between threads, and the counters the metrics read.
 *
 * Counters are per thread and written only by their thread (relaxed atomic
 * stores, no read-modify-write), so a scrape reads them without stopping
 * anything. The one shared read-modify-write is the live-bytes total that
 * enforces the cap: a cap on a sum needs one place where the sum lives. */
#define _GNU_SOURCE
#include "workload/engine.h"
#include "block_pattern.h"
#include "service/log.h"

#include <poolalloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { INBOX_CAP = 512, DRAIN_BATCH = 64 };
#define SLEEP_SLICE_NS 20000000L    /* a paced thread looks up at least this often */
#define SLEEP_MIN_NS   2000000L     /* ... and sleeps no shorter: fewer wake-ups */
#define BURST_SECONDS 0.05          /* token bucket depth */

typedef _Atomic uint64_t counter_t;

struct wl_thread {
    struct workload *w;
    unsigned         id;
    pthread_t        tid;
    uint64_t         rng;
    /* pacing: tokens per second, bucket depth */
    double           tokens, rate, burst;
    uint64_t         last_ns;
    /* counters, written by this thread only */
    counter_t        allocs, frees, reallocs, failures, corruptions, handoffs, heartbeat;
    _Atomic int64_t  live_blocks;
    /* blocks other threads handed over, to be freed by this one */
    pthread_mutex_t  inbox_lock;
    _Atomic unsigned inbox_n;
    wl_block         inbox[INBOX_CAP];
    void            *state;
};

struct workload {
    const wl_profile *profile;
    workload_config_t cfg;
    char              name[32];
    unsigned          n;
    wl_thread        *threads;
    _Atomic bool      stop;
};

/* Totals of threads that have finished, so counters never go backwards
 * across a reload. Guarded by wl_lock. */
static struct {
    uint64_t allocs, frees, reallocs, failures, corruptions, handoffs, heartbeat;
    int64_t  live_blocks;
} retired;

static pthread_mutex_t wl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct workload *current;       /* guarded by wl_lock */
static uint64_t starts;
static _Atomic int64_t live_bytes;
static _Atomic bool wedged;
static _Atomic uint64_t corruption_logs;

#define BUMP(c) atomic_store_explicit(&(c), atomic_load_explicit(&(c), memory_order_relaxed) + 1, \
                                      memory_order_relaxed)
#define READ(c) atomic_load_explicit(&(c), memory_order_relaxed)

/* ---- profiles ------------------------------------------------------------------ */

const struct wl_profile *workload_profile_find(const char *name)
{
    for (const wl_profile *const *p = wl_profiles; *p; p++)
        if (strcmp((*p)->name, name) == 0)
            return *p;
    return NULL;
}

int workload_check(const workload_config_t *cfg, char *err, size_t len)
{
    const wl_profile *p = workload_profile_find(cfg->profile);
    if (!p) {
        snprintf(err, len, "unknown workload \"%s\"", cfg->profile);
        return -1;
    }
    return p->check ? p->check(cfg, err, len) : 0;
}

static char profile_list[256];
static void build_profile_list(void)
{
    size_t n = 0;
    for (const wl_profile *const *p = wl_profiles; *p; p++)
        n += (size_t)snprintf(profile_list + n, sizeof profile_list - n, "%s%s",
                              p == wl_profiles ? "" : ", ", (*p)->name);
}

const char *workload_profile_list(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, build_profile_list);
    return profile_list;
}

/* ---- small helpers for profiles ------------------------------------------------ */

uint64_t wl_rand(wl_thread *t)
{
    /* xorshift64*: fast, good enough to pick sizes and victims */
    t->rng ^= t->rng >> 12;
    t->rng ^= t->rng << 25;
    t->rng ^= t->rng >> 27;
    return t->rng * 0x2545F4914F6CDD1DULL;
}

size_t wl_rand_range(wl_thread *t, size_t lo, size_t hi)
{
    return lo + (size_t)(wl_rand(t) % (hi - lo + 1));
}

bool wl_stopping(const wl_thread *t)
{
    return atomic_load_explicit(&t->w->stop, memory_order_relaxed);
}

const workload_config_t *wl_config(const wl_thread *t) { return &t->w->cfg; }
unsigned wl_thread_count(const wl_thread *t) { return t->w->n; }

/* ---- pacing ---------------------------------------------------------------------- */

static void sleep_ns(long ns)
{
    struct timespec ts = { ns / 1000000000L, ns % 1000000000L };
    nanosleep(&ts, NULL);
}

/* A wedged thread stays here, making no progress, until told to stop. */
static void hold_if_wedged(wl_thread *t)
{
    while (atomic_load_explicit(&wedged, memory_order_relaxed) && !wl_stopping(t))
        sleep_ns(SLEEP_SLICE_NS);
}

static void refill(wl_thread *t)
{
    uint64_t now = mono_ns();
    double dt = (double)(now - t->last_ns) * 1e-9;
    t->last_ns = now;
    t->tokens += dt * t->rate;
    if (t->tokens > t->burst)
        t->tokens = t->burst;
}

/* Takes one token, waiting for it in short slices (so a stop is noticed
 * quickly). Returns false when the workload is stopping. */
static bool pace(wl_thread *t, wl_pacing how)
{
    hold_if_wedged(t);
    BUMP(t->heartbeat);
    if (how == WL_UNPACED || t->rate <= 0)
        return !wl_stopping(t) || how == WL_UNPACED;
    if (how == WL_DEBT) {
        t->tokens -= 1;
        return true;
    }
    for (;;) {
        refill(t);
        if (t->tokens >= 1) {
            t->tokens -= 1;
            return true;
        }
        if (wl_stopping(t))
            return false;
        double wait = (1 - t->tokens) / t->rate * 1e9;
        sleep_ns(wait < SLEEP_MIN_NS ? SLEEP_MIN_NS : wait > SLEEP_SLICE_NS ? SLEEP_SLICE_NS : (long)wait);
        hold_if_wedged(t);
        BUMP(t->heartbeat);
    }
}

bool wl_wait_until(wl_thread *t, uint64_t deadline_ns)
{
    for (;;) {
        hold_if_wedged(t);
        BUMP(t->heartbeat);
        if (wl_stopping(t))
            return false;
        uint64_t now = mono_ns();
        if (now + SLEEP_MIN_NS > deadline_ns)
            return true;
        uint64_t wait = deadline_ns - now;
        sleep_ns(wait > SLEEP_SLICE_NS ? SLEEP_SLICE_NS : (long)wait);
    }
}

/* ---- block patterns ----------------------------------------------------------------- */

static void fill(const wl_block *b) { bp_fill(b->p, 0, b->size, b->seed); }
static bool intact(const wl_block *b) { return bp_intact(b->p, b->size, b->seed); }

static void report_corruption(wl_thread *t, const wl_block *b)
{
    BUMP(t->corruptions);
    /* The first few are worth a line each; after that the counter says it. */
    if (atomic_fetch_add(&corruption_logs, 1) < 10) {
        char addr[32], size[16];
        snprintf(addr, sizeof addr, "%p", b->p);
        snprintf(size, sizeof size, "%u", b->size);
        log_error("workload block corrupted", "address", addr, "size", size);
    }
}

/* ---- allocation and free ---------------------------------------------------------- */

/* Reserves size bytes under the cap. A compare-and-swap rather than add
 * and undo, so the total never shows a value above the cap, even briefly. */
static bool charge(wl_thread *t, size_t size)
{
    int64_t cur = atomic_load_explicit(&live_bytes, memory_order_relaxed);
    do {
        if ((uint64_t)cur + size > t->w->cfg.max_bytes)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&live_bytes, &cur, cur + (int64_t)size,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

static void live_blocks_add(wl_thread *t, int64_t d)
{
    atomic_store_explicit(&t->live_blocks, READ(t->live_blocks) + d, memory_order_relaxed);
}

static void uncharge(size_t size)
{
    atomic_fetch_sub_explicit(&live_bytes, (int64_t)size, memory_order_relaxed);
}

/* Paced, charged, filled: an allocation of size bytes (aligned to
 * `alignment` when it is above the allocator's own 16). */
static wl_result alloc_block(wl_thread *t, size_t alignment, size_t size, wl_block *out)
{
    if (!pace(t, WL_PACED))
        return WL_STOPPING;
    void *p = NULL;
    if (size <= UINT32_MAX && charge(t, size)) {
        p = alignment > POOL_ALIGNMENT ? pool_aligned_alloc(alignment, size) : pool_obj_malloc(size);
        if (!p)
            uncharge(size);
    }
    if (!p) {
        BUMP(t->failures);
        return WL_FAILED;
    }
    *out = (wl_block){ p, (uint32_t)size, (uint32_t)wl_rand(t) };
    fill(out);
    BUMP(t->allocs);
    live_blocks_add(t, 1);
    return WL_OK;
}

wl_result wl_alloc(wl_thread *t, size_t size, wl_block *out)
{
    return alloc_block(t, 0, size, out);
}

/* pool_aligned_alloc's blocks may be freed through the obj domain only
 * while it is the plain pool allocator; under the debug hooks or the
 * system allocator an aligned request is served as a plain one. */
wl_result wl_alloc_aligned(wl_thread *t, size_t alignment, size_t size, wl_block *out)
{
    bool plain_pools = strcmp(pool_allocators_name(), "pymalloc") == 0;
    return alloc_block(t, plain_pools ? alignment : 0, size, out);
}

wl_result wl_realloc(wl_thread *t, wl_block *b, size_t size)
{
    if (!pace(t, WL_PACED))
        return WL_STOPPING;
    if (!intact(b))
        report_corruption(t, b);
    size_t old = b->size, kept = old < size ? old : size;
    void *p = NULL;
    if (size <= UINT32_MAX && (size <= old || charge(t, size - old))) {
        p = pool_obj_realloc(b->p, size ? size : 1);   /* realloc(p, 0) would free */
        if (!p && size > old)
            uncharge(size - old);
    }
    if (!p) {
        BUMP(t->failures);
        return WL_FAILED;
    }
    if (size < old)
        uncharge(old - size);
    b->p = p;
    b->size = (uint32_t)size;
    if (!bp_intact(p, kept, b->seed))   /* realloc must keep what fits */
        report_corruption(t, b);
    bp_fill(p, kept, size, b->seed);
    BUMP(t->reallocs);
    return WL_OK;
}

void wl_free(wl_thread *t, wl_block *b, wl_pacing how)
{
    if (!b->p)
        return;
    pace(t, how == WL_PACED && wl_stopping(t) ? WL_UNPACED : how);
    if (!intact(b))
        report_corruption(t, b);
    pool_obj_free(b->p);
    uncharge(b->size);
    BUMP(t->frees);
    live_blocks_add(t, -1);
    b->p = NULL;
}

void wl_give(wl_thread *t, wl_block *b)
{
    struct workload *w = t->w;
    if (w->n > 1 && !wl_stopping(t)) {
        wl_thread *to = &w->threads[(t->id + 1 + wl_rand(t) % (w->n - 1)) % w->n];
        pthread_mutex_lock(&to->inbox_lock);
        unsigned n = READ(to->inbox_n);
        if (n < INBOX_CAP) {
            to->inbox[n] = *b;
            atomic_store_explicit(&to->inbox_n, n + 1, memory_order_relaxed);
        }
        pthread_mutex_unlock(&to->inbox_lock);
        if (n < INBOX_CAP) {
            BUMP(t->handoffs);
            b->p = NULL;
            return;
        }
    }
    wl_free(t, b, WL_PACED);
}

/* Frees what other threads handed to t (by the calling thread, which is t
 * itself while it runs, or the stopping thread afterwards). */
static void drain_inbox(wl_thread *t, wl_pacing how)
{
    while (READ(t->inbox_n)) {
        wl_block batch[DRAIN_BATCH];
        pthread_mutex_lock(&t->inbox_lock);
        unsigned n = READ(t->inbox_n), k = n < DRAIN_BATCH ? n : DRAIN_BATCH;
        memcpy(batch, t->inbox + n - k, k * sizeof *batch);
        atomic_store_explicit(&t->inbox_n, n - k, memory_order_relaxed);
        pthread_mutex_unlock(&t->inbox_lock);
        for (unsigned i = 0; i < k; i++)
            wl_free(t, &batch[i], how);
    }
}

/* ---- block bags ----------------------------------------------------------------------- */

bool wl_set_push(wl_set *s, const wl_block *b)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        wl_block *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return false;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = *b;
    s->bytes += b->size;
    return true;
}

wl_block wl_set_take(wl_set *s, size_t i)
{
    wl_block b = s->v[i];
    s->v[i] = s->v[--s->n];
    s->bytes -= b.size;
    return b;
}

void wl_set_release(wl_thread *t, wl_set *s, wl_pacing how)
{
    while (s->n) {
        wl_block b = wl_set_take(s, s->n - 1);
        wl_free(t, &b, how);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* ---- threads ---------------------------------------------------------------------------- */

static void *thread_main(void *arg)
{
    wl_thread *t = arg;
    const wl_profile *p = t->w->profile;
    char name[16];
    snprintf(name, sizeof name, "wl-%s-%u", p->name, t->id);
    pthread_setname_np(pthread_self(), name);
    t->last_ns = mono_ns();
    if (p->init)
        p->init(t, t->state);
    while (!wl_stopping(t)) {
        p->step(t, t->state);
        drain_inbox(t, WL_PACED);
    }
    p->fini(t, t->state);
    drain_inbox(t, WL_UNPACED);
    return NULL;
}

static void retire_counters(wl_thread *t)
{
    retired.allocs += READ(t->allocs);
    retired.frees += READ(t->frees);
    retired.reallocs += READ(t->reallocs);
    retired.failures += READ(t->failures);
    retired.corruptions += READ(t->corruptions);
    retired.handoffs += READ(t->handoffs);
    retired.heartbeat += READ(t->heartbeat);
    retired.live_blocks += READ(t->live_blocks);
}

/* Joins the threads, frees what is left in their inboxes, and folds their
 * counters into the retired totals. Called with wl_lock held. */
static void destroy(struct workload *w, unsigned started)
{
    atomic_store(&w->stop, true);
    for (unsigned i = 0; i < started; i++)
        pthread_join(w->threads[i].tid, NULL);
    for (unsigned i = 0; i < w->n; i++) {
        drain_inbox(&w->threads[i], WL_UNPACED);
        retire_counters(&w->threads[i]);
        pthread_mutex_destroy(&w->threads[i].inbox_lock);
        free(w->threads[i].state);
    }
    free(w->threads);
    free((char *)w->cfg.trace);
    free(w);
}

static struct workload *create(const workload_config_t *cfg, const wl_profile *p)
{
    struct workload *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->profile = p;
    w->cfg = *cfg;
    snprintf(w->name, sizeof w->name, "%s", p->name);
    w->cfg.profile = w->name;
    w->cfg.trace = cfg->trace ? strdup(cfg->trace) : NULL;   /* the options may go first */
    w->n = p->step ? cfg->threads : 0;
    w->threads = calloc(w->n ? w->n : 1, sizeof *w->threads);
    if (!w->threads || (cfg->trace && !w->cfg.trace)) {
        free(w->threads);
        free((char *)w->cfg.trace);
        free(w);
        return NULL;
    }
    uint64_t seed = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL;
    for (unsigned i = 0; i < w->n; i++) {
        wl_thread *t = &w->threads[i];
        t->w = w;
        t->id = i;
        t->rng = (seed ^ (0x2545F4914F6CDD1DULL * (i + 1))) | 1;
        t->rate = (double)cfg->rate / w->n;
        t->burst = t->rate * BURST_SECONDS < 1 ? 1 : t->rate * BURST_SECONDS;
        pthread_mutex_init(&t->inbox_lock, NULL);
        t->state = calloc(1, p->state_size ? p->state_size : 1);
    }
    return w;
}

int workload_start(const workload_config_t *cfg)
{
    const wl_profile *p = workload_profile_find(cfg->profile);
    if (!p)
        return -1;
    pthread_mutex_lock(&wl_lock);
    struct workload *w = create(cfg, p);
    unsigned started = 0;
    bool ok = w != NULL;
    for (unsigned i = 0; ok && i < w->n; i++, started++)
        ok = w->threads[i].state && pthread_create(&w->threads[i].tid, NULL, thread_main,
                                                    &w->threads[i]) == 0;
    if (ok) {
        current = w;
        starts++;
    } else if (w) {
        destroy(w, started);
    }
    pthread_mutex_unlock(&wl_lock);
    return ok ? 0 : -1;
}

void workload_stop(void)
{
    pthread_mutex_lock(&wl_lock);
    if (current)
        destroy(current, current->n);
    current = NULL;
    pthread_mutex_unlock(&wl_lock);
}

void workload_read(workload_stats_t *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&wl_lock);
    out->allocs = retired.allocs;
    out->frees = retired.frees;
    out->reallocs = retired.reallocs;
    out->alloc_failures = retired.failures;
    out->corruptions = retired.corruptions;
    out->handoffs = retired.handoffs;
    out->live_blocks = retired.live_blocks;
    out->starts = starts;
    struct workload *w = current;
    if (w) {
        snprintf(out->profile, sizeof out->profile, "%s", w->name);
        out->threads = w->n;
        out->rate = w->cfg.rate;
        out->max_bytes = w->cfg.max_bytes;
        for (unsigned i = 0; i < w->n; i++) {
            wl_thread *t = &w->threads[i];
            out->allocs += READ(t->allocs);
            out->frees += READ(t->frees);
            out->reallocs += READ(t->reallocs);
            out->alloc_failures += READ(t->failures);
            out->corruptions += READ(t->corruptions);
            out->handoffs += READ(t->handoffs);
            out->live_blocks += READ(t->live_blocks);
        }
    }
    pthread_mutex_unlock(&wl_lock);
    out->live_bytes = atomic_load(&live_bytes);
    out->wedged = atomic_load(&wedged);
}

uint64_t workload_progress(void)
{
    pthread_mutex_lock(&wl_lock);
    uint64_t sum = retired.heartbeat;
    for (unsigned i = 0; current && i < current->n; i++)
        sum += READ(current->threads[i].heartbeat);
    pthread_mutex_unlock(&wl_lock);
    return sum;
}

bool workload_idle(void)
{
    pthread_mutex_lock(&wl_lock);
    bool idle = !current || current->n == 0;
    pthread_mutex_unlock(&wl_lock);
    return idle;
}

void workload_wedge(void) { atomic_store(&wedged, true); }
