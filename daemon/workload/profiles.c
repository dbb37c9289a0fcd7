/* The built-in workload profiles. Each is a table entry in wl_profiles[]
 * with a per-thread state and a step() that does a little work through the
 * engine's helpers (workload_engine.h). */
#include "workload/engine.h"

#include <stdlib.h>
#include <string.h>

#define MIB (1024u * 1024u)

static uint64_t per_thread_bytes(wl_thread *t, double share, uint64_t ceiling)
{
    uint64_t b = (uint64_t)((double)wl_config(t)->max_bytes * share / wl_thread_count(t));
    return b < ceiling ? b : ceiling;
}

/* ---- python: CPython-like object churn ---------------------------------------- */

/* Request sizes weighted like a CPython heap: mostly 16-64 byte objects
 * (ints, tuples, small strings), a tail of dicts and lists up to 512 bytes,
 * and now and then a bigger buffer (the medium tier's; the system
 * allocator's under POOLMALLOC_THRESHOLD=512). Weights per 1000. */
static const struct { uint16_t lo, hi, weight; } py_sizes[] = {
    { 1, 16, 60 },     { 17, 32, 200 },   { 33, 48, 200 },   { 49, 64, 180 },
    { 65, 96, 120 },   { 97, 128, 80 },   { 129, 256, 90 },  { 257, 512, 60 },
    { 513, 4096, 8 },  { 4097, 65535, 2 },
};

enum { PY_YOUNG = 256, PY_OLD = 8192 };

typedef struct {
    wl_block young[PY_YOUNG];   /* a FIFO: most objects die here */
    unsigned head, count;
    wl_set   old;               /* survivors, replaced at random */
} py_state;

static size_t py_size(wl_thread *t)
{
    unsigned r = (unsigned)(wl_rand(t) % 1000);
    size_t i = 0;
    while (r >= py_sizes[i].weight) {
        r -= py_sizes[i].weight;
        i++;
    }
    return wl_rand_range(t, py_sizes[i].lo, py_sizes[i].hi);
}

/* An object leaves the young generation: most die, a few go to another
 * thread, a few become long-lived (pushing out a random old one). */
static void py_retire(wl_thread *t, py_state *s, wl_block *b)
{
    unsigned r = (unsigned)(wl_rand(t) % 100);
    if (r < 88) {
        wl_free(t, b, WL_PACED);
    } else if (r < 94) {
        wl_give(t, b);
    } else {
        if (s->old.n >= PY_OLD) {
            wl_block victim = wl_set_take(&s->old, wl_rand(t) % s->old.n);
            wl_free(t, &victim, WL_PACED);
        }
        if (!wl_set_push(&s->old, b))
            wl_free(t, b, WL_PACED);
    }
}

static void py_step(wl_thread *t, void *state)
{
    py_state *s = state;
    wl_block b;
    if (wl_alloc(t, py_size(t), &b) != WL_OK)
        return;
    if (s->count == PY_YOUNG) {
        wl_block oldest = s->young[s->head];
        s->young[s->head] = b;
        s->head = (s->head + 1) % PY_YOUNG;
        py_retire(t, s, &oldest);
    } else {
        s->young[(s->head + s->count++) % PY_YOUNG] = b;
    }
}

static void py_fini(wl_thread *t, void *state)
{
    py_state *s = state;
    for (unsigned i = 0; i < s->count; i++)
        wl_free(t, &s->young[(s->head + i) % PY_YOUNG], WL_UNPACED);
    s->count = 0;
    wl_set_release(t, &s->old, WL_UNPACED);
}

/* ---- steady: a fixed working set with random replacement ---------------------- */

enum { STEADY_BLOCKS = 4096 };

typedef struct { wl_set set; } steady_state;

static void steady_step(wl_thread *t, void *state)
{
    steady_state *s = state;
    if (s->set.n >= STEADY_BLOCKS) {
        wl_block victim = wl_set_take(&s->set, wl_rand(t) % s->set.n);
        if (wl_rand(t) % 8 == 0)
            wl_give(t, &victim);
        else
            wl_free(t, &victim, WL_PACED);
    }
    wl_block b;
    if (wl_alloc(t, wl_rand_range(t, 1, 512), &b) == WL_OK && !wl_set_push(&s->set, &b))
        wl_free(t, &b, WL_PACED);
}

static void set_fini(wl_thread *t, void *state)
{
    wl_set_release(t, state, WL_UNPACED);
}

/* ---- fragmenter: grow, free a random 90 %, keep the survivors, move on ----------
 * Each round fills a new size range; the survivors it leaves scattered over
 * many pools keep those pools (and their arenas) from being reused or given
 * back: external fragmentation. */

static const struct { uint16_t lo, hi; } frag_ranges[] = {
    { 16, 64 }, { 65, 128 }, { 129, 256 }, { 257, 512 }, { 24, 48 }, { 300, 400 },
};
#define FRAG_RANGES (sizeof frag_ranges / sizeof frag_ranges[0])
enum { FRAG_GROW, FRAG_THIN, FRAG_RESET };

typedef struct {
    int      phase;
    unsigned range, rounds;
    wl_set   fresh;       /* allocated in this round */
    wl_set   survivors;   /* the 10 % kept from earlier rounds */
} frag_state;

static void frag_step(wl_thread *t, void *state)
{
    frag_state *s = state;
    uint64_t target = per_thread_bytes(t, 0.6, 32 * MIB);
    wl_block b;
    switch (s->phase) {
    case FRAG_GROW:
        if (s->fresh.bytes >= target ||
            wl_alloc(t, wl_rand_range(t, frag_ranges[s->range].lo, frag_ranges[s->range].hi),
                     &b) == WL_FAILED) {
            s->phase = FRAG_THIN;
        } else if (!wl_stopping(t) && !wl_set_push(&s->fresh, &b)) {
            wl_free(t, &b, WL_PACED);
        }
        break;
    case FRAG_THIN:   /* one block per step, each kept with probability 1/10 */
        if (s->fresh.n == 0) {
            s->range = (s->range + 1) % FRAG_RANGES;
            s->phase = ++s->rounds % 8 == 0 || s->survivors.bytes > target / 2 ? FRAG_RESET
                                                                               : FRAG_GROW;
            break;
        }
        b = wl_set_take(&s->fresh, wl_rand(t) % s->fresh.n);
        if (wl_rand(t) % 10 == 0 && wl_set_push(&s->survivors, &b))
            break;
        if (wl_rand(t) % 16 == 0)
            wl_give(t, &b);         /* some die in another thread */
        else
            wl_free(t, &b, WL_PACED);
        break;
    case FRAG_RESET:  /* start over: let the pinned arenas go */
        if (s->survivors.n == 0) {
            s->phase = FRAG_GROW;
            break;
        }
        b = wl_set_take(&s->survivors, s->survivors.n - 1);
        wl_free(t, &b, WL_PACED);
        break;
    }
}

static void frag_fini(wl_thread *t, void *state)
{
    frag_state *s = state;
    wl_set_release(t, &s->fresh, WL_UNPACED);
    wl_set_release(t, &s->survivors, WL_UNPACED);
}

/* ---- burst: sawtooth, a steady climb then everything freed at once ------------------ */

typedef struct { wl_set set; } burst_state;

static void burst_step(wl_thread *t, void *state)
{
    burst_state *s = state;
    wl_block b;
    wl_result r = WL_OK;
    if (s->set.bytes < per_thread_bytes(t, 0.5, 16 * MIB)) {
        r = wl_alloc(t, wl_rand_range(t, 1, 512), &b);
        if (r == WL_OK && !wl_set_push(&s->set, &b))
            wl_free(t, &b, WL_PACED);
        if (r != WL_FAILED)
            return;
    }
    /* The drop: free it all now and pay for it later (the token debt keeps
     * the average rate); one block in 16 dies in another thread. */
    while (s->set.n && !wl_stopping(t)) {
        b = wl_set_take(&s->set, s->set.n - 1);
        if (wl_rand(t) % 16 == 0)
            wl_give(t, &b);
        else
            wl_free(t, &b, WL_DEBT);
    }
}

/* ---- the table ------------------------------------------------------------------------ */

/* One line per profile: name, summary, state size, init, step, fini (and
 * check); the replay profile lives in replay.c. */
const wl_profile *const wl_profiles[] = {
    &(const wl_profile){ "python", "CPython-like churn: small objects, most die young, some live long",
                         sizeof(py_state), NULL, py_step, py_fini, NULL },
    &(const wl_profile){ "steady", "a fixed working set of 16-512 byte blocks with random replacement",
                         sizeof(steady_state), NULL, steady_step, set_fini, NULL },
    &(const wl_profile){ "fragmenter", "grow, free a random 90%, keep the survivors, move on",
                         sizeof(frag_state), NULL, frag_step, frag_fini, NULL },
    &(const wl_profile){ "burst", "sawtooth: climb to a peak, then release everything at once",
                         sizeof(burst_state), NULL, burst_step, set_fini, NULL },
    &wl_replay_profile,
    &(const wl_profile){ "idle", "no workload: serve statistics only", 0, NULL, NULL, NULL, NULL },
    NULL,
};
