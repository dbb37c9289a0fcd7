/* A bounded single-producer/single-consumer ring of blocks in flight
 * between two threads (harness memory). Each side keeps its own cursor and
 * publishes it only every RING_PUBLISH items (or on ring_*_flush), and
 * re-reads the other side's only when it looks full or empty: a few
 * nanoseconds a block, so what a workload measures is the allocator. */
#ifndef BENCH_RING_H
#define BENCH_RING_H

#include "bench.h"

#include <stdatomic.h>
#include <stdbool.h>

#define RING_LEN     4096u      /* power of two */
#define RING_PUBLISH 32u

typedef struct {
    _Alignas(64) _Atomic uint64_t head;   /* written by the producer */
    _Alignas(64) _Atomic uint64_t tail;   /* written by the consumer */
    _Alignas(64) slot_t items[RING_LEN];
} ring_t;

/* One side's private view: its own position, the other's last seen. */
typedef struct { uint64_t mine, seen; } ring_cursor_t;

/* The slot to fill next, or NULL when the ring is full. */
static inline slot_t *ring_push_slot(ring_t *q, ring_cursor_t *c)
{
    if (c->mine - c->seen == RING_LEN) {
        atomic_store_explicit(&q->head, c->mine, memory_order_release);
        c->seen = atomic_load_explicit(&q->tail, memory_order_acquire);
        if (c->mine - c->seen == RING_LEN)
            return NULL;
    }
    return &q->items[c->mine % RING_LEN];
}

/* The slot from ring_push_slot is filled: hand it over. */
static inline void ring_push_done(ring_t *q, ring_cursor_t *c)
{
    if (++c->mine % RING_PUBLISH == 0)
        atomic_store_explicit(&q->head, c->mine, memory_order_release);
}

static inline void ring_push_flush(ring_t *q, ring_cursor_t *c)
{
    atomic_store_explicit(&q->head, c->mine, memory_order_release);
}

/* The oldest slot in flight, or NULL when the ring is empty. */
static inline slot_t *ring_pop_slot(ring_t *q, ring_cursor_t *c)
{
    if (c->mine == c->seen) {
        atomic_store_explicit(&q->tail, c->mine, memory_order_release);
        c->seen = atomic_load_explicit(&q->head, memory_order_acquire);
        if (c->mine == c->seen)
            return NULL;
    }
    return &q->items[c->mine % RING_LEN];
}

/* The slot from ring_pop_slot is used up: give its place back. */
static inline void ring_pop_done(ring_t *q, ring_cursor_t *c)
{
    if (++c->mine % RING_PUBLISH == 0)
        atomic_store_explicit(&q->tail, c->mine, memory_order_release);
}

/* Waiting for the other side: spin briefly, then yield the CPU (two cores
 * shared with other work). */
void ring_wait(unsigned *spins);

#endif /* BENCH_RING_H */
