/* A server, after Larson & Krishnan's benchmark: LARSON_ARRAYS arrays of
 * blocks of 8-1000 bytes, filled at the start by the main thread; two
 * worker threads take an array each, replace random slots of it for one
 * epoch (as many replacements as the array has slots), put it back and take
 * another, preferring one the other worker had last. So about half of all
 * frees are of blocks another thread allocated, while each thread also
 * frees its own recent blocks, as server threads do with requests that
 * another thread accepted. Like the original, workers do not live for the
 * whole run: they exit after each of LARSON_GENERATIONS parts and two new
 * threads carry on with the same arrays, so blocks of threads that have
 * exited are freed too (heaps abandoned and taken over). The main thread
 * frees what is left at the end. */
#include "balloc.h"
#include "bench.h"

#include <pthread.h>

#define LARSON_ARRAYS  4u       /* more than the workers: one is always free */
#define LARSON_SLOTS   5000u    /* blocks per array */
#define LARSON_OPS     400000u  /* replacements per worker (before scaling) */
#define LARSON_WORKERS 2
#define LARSON_GENERATIONS 8   /* worker threads replaced this many times */

typedef struct {
    slot_t  *slots;
    int      last;              /* the worker that had it last, -1: none */
    int      busy;
} larson_array_t;

typedef struct {
    pthread_mutex_t   lock;     /* over the arrays' last/busy: once an epoch */
    larson_array_t    arrays[LARSON_ARRAYS];
    uint32_t          slots;
    uint64_t          epochs;   /* per worker and generation */
    const size_mix_t *mix;
} larson_t;

typedef struct {
    larson_t *l;
    int       id;
    unsigned  generation;
} larson_worker_t;

static larson_array_t *larson_take(larson_t *l, int me)
{
    larson_array_t *pick = NULL;
    pthread_mutex_lock(&l->lock);
    for (unsigned i = 0; i < LARSON_ARRAYS; i++) {
        larson_array_t *a = &l->arrays[i];
        if (!a->busy && (!pick || (pick->last == me && a->last != me)))
            pick = a;
    }
    pick->busy = 1;                 /* there is always one: more arrays than workers */
    pthread_mutex_unlock(&l->lock);
    return pick;
}

static void larson_put(larson_t *l, larson_array_t *a, int me)
{
    pthread_mutex_lock(&l->lock);
    a->last = me;
    a->busy = 0;
    pthread_mutex_unlock(&l->lock);
}

static void *larson_worker(void *arg)
{
    larson_worker_t *w = arg;
    larson_t *l = w->l;
    uint64_t me = (uint64_t)w->generation * LARSON_WORKERS + (uint64_t)w->id;
    rng_t r = { 100 + me };
    uint64_t index = (me + 1) << 40;
    for (uint64_t e = 0; e < l->epochs; e++) {
        larson_array_t *a = larson_take(l, w->id);
        for (uint32_t k = 0; k < l->slots; k++) {
            slot_t *s = &a->slots[rng_below(&r, l->slots)];
            slot_free(s);
            slot_alloc(s, index++, size_pick(l->mix, &r));
        }
        larson_put(l, a, w->id);
    }
    checks_flush();
    return NULL;
}

void work_larson(void)
{
    static size_mix_t mix;      /* harness memory: static, not allocated */
    size_mix_uniform(&mix, 8, 1000);
    larson_t *l = harness_alloc(sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
    l->slots = (uint32_t)scaled(LARSON_SLOTS, 500);
    l->epochs = scaled(LARSON_OPS, 5000) / l->slots / LARSON_GENERATIONS;
    l->epochs += l->epochs == 0;
    l->mix = &mix;
    rng_t r = { 99 };
    uint64_t index = 0;
    for (unsigned i = 0; i < LARSON_ARRAYS; i++)
        l->arrays[i] = (larson_array_t){ harness_alloc(l->slots * sizeof(slot_t)), -1, 0 };
    uint64_t rss0 = rss_kb(), t0 = now_ns();
    for (unsigned i = 0; i < LARSON_ARRAYS; i++)
        for (uint32_t k = 0; k < l->slots; k++)
            slot_alloc(&l->arrays[i].slots[k], index++, size_pick(&mix, &r));
    for (unsigned g = 0; g < LARSON_GENERATIONS; g++) {
        larson_worker_t w[LARSON_WORKERS];
        for (int i = 0; i < LARSON_WORKERS; i++)
            w[i] = (larson_worker_t){ l, i, g };
        run_threads(LARSON_WORKERS, larson_worker, w, sizeof w[0]);
    }
    for (unsigned i = 0; i < LARSON_ARRAYS; i++)
        for (uint32_t k = 0; k < l->slots; k++)
            slot_free(&l->arrays[i].slots[k]);
    uint64_t ns = now_ns() - t0, blocks = (uint64_t)LARSON_ARRAYS * l->slots;
    uint64_t steps = (uint64_t)LARSON_GENERATIONS * LARSON_WORKERS * l->epochs * l->slots;
    report("larson", "-", ns, 2 * blocks + 2 * steps, rss0, "");
    for (unsigned i = 0; i < LARSON_ARRAYS; i++)
        harness_free(l->arrays[i].slots, l->slots * sizeof(slot_t));
    harness_free(l, sizeof *l);
}
