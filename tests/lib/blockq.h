/* A small locked queue of blocks (pointer + size) for handing memory from
 * one thread to another in the allocator's thread tests, and a per-thread
 * random number generator. */
#ifndef TEST_BLOCKQ_H
#define TEST_BLOCKQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    void *p;
    size_t n;
} block_ref_t;

enum { BLOCKQ_CAP = 512 };

typedef struct {
    pthread_mutex_t lock;
    size_t head, count;
    block_ref_t item[BLOCKQ_CAP];
} blockq_t;

__attribute__((unused)) static void blockq_init(blockq_t *q)
{
    pthread_mutex_init(&q->lock, NULL);
    q->head = q->count = 0;
}

/* false when the queue is full (the caller keeps the block). */
__attribute__((unused)) static bool blockq_push(blockq_t *q, block_ref_t b)
{
    pthread_mutex_lock(&q->lock);
    bool ok = q->count < BLOCKQ_CAP;
    if (ok)
        q->item[(q->head + q->count++) % BLOCKQ_CAP] = b;
    pthread_mutex_unlock(&q->lock);
    return ok;
}

/* Takes up to max blocks; returns how many. The caller holds the lock (or
 * is the only thread, e.g. a child forked while the parent held it). */
static size_t blockq_take_locked(blockq_t *q, block_ref_t *out, size_t max)
{
    size_t n = 0;
    for (; n < max && q->count; n++, q->count--) {
        out[n] = q->item[q->head];
        q->head = (q->head + 1) % BLOCKQ_CAP;
    }
    return n;
}

__attribute__((unused)) static size_t blockq_take(blockq_t *q, block_ref_t *out, size_t max)
{
    pthread_mutex_lock(&q->lock);
    size_t n = blockq_take_locked(q, out, max);
    pthread_mutex_unlock(&q->lock);
    return n;
}

typedef struct { uint64_t s; } rng_t;

static inline uint64_t rng_next(rng_t *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static inline size_t rng_below(rng_t *r, size_t n) { return (size_t)(rng_next(r) % n); }

/* Request sizes weighted like real programs: mostly small, some up to
 * pymalloc's 512 bytes, some medium, a few on both sides of the pools' top
 * (256 KiB), and now and then 0. */
__attribute__((unused)) static size_t rng_size(rng_t *r)
{
    size_t k = rng_below(r, 100);
    if (k < 65) return 1 + rng_below(r, 128);
    if (k < 90) return 1 + rng_below(r, 512);
    if (k < 96) return 513 + rng_below(r, 8000);
    if (k < 98) return 8192 + rng_below(r, 120000);
    if (k < 99) return (128 << 10) + rng_below(r, 160 << 10);
    return 0;
}

#endif
