/* The fast paths, inlined into pool_malloc()/pool_free() and into the
 * preload shim's malloc()/free(). Kept deliberately tiny:
 *
 *   malloc: class index (a shift for the small classes; for the medium
 *           ones, out of the small path's way, the highest bit and two
 *           below it); pop this thread's cache of freed blocks for the
 *           class, or else the free list of its current pool or run.
 *   free:   one compare says "ours", arithmetic finds the pool's header (a
 *           further pool of a medium run has one too, with the run's owner
 *           and class), and if this thread owns the pool, push on the
 *           class's cache; otherwise one CAS onto the pool's remote list.
 *           Only a block that goes past the cache to its pool needs the
 *           run's own header: one byte says how many pools back it is.
 *
 * Everything else (carving, changing pools, arenas, counting large blocks)
 * is behind a call. The per-class counters are plain stores to this
 * thread's heap (no lock prefix, no shared line). */
#ifndef POOL_ALLOC_FAST_H
#define POOL_ALLOC_FAST_H

#include "internal.h"

static inline __attribute__((always_inline)) void *fast_malloc(size_t n)
{
    size_t c = class_of(n);                 /* n == 0 wraps: a large request */
    if (likely(c < NCLASSES)) {
        heap_t *h = pool_tls_heap;
        heap_class_t *hc = &h->cls[c];
        block_t *b = hc->cache;
        if (likely(b != NULL)) {
            hc->cache = b->next;
            owner_add32(&hc->ncache, (uint32_t)-1);
            owner_add64(&hc->nmalloc, 1);
            return b;
        }
        pool_t *p = hc->cur;
        if (likely((b = p->free) != NULL)) {
            p->free = b->next;
            owner_add32(&p->used, 1);
            owner_add64(&hc->nmalloc, 1);
            return b;
        }
        return pool_malloc_slow(h, (unsigned)c);
    }
    return large_malloc(n);
}

static inline __attribute__((always_inline)) void fast_free(void *ptr)
{
    if (likely(is_ours(ptr))) {
        pool_t *p = pool_line_of(ptr);  /* a run's further pool mirrors heap and cls */
        heap_t *h = pool_tls_heap;
        if (likely(p->heap == h)) {
            heap_class_t *hc = &h->cls[p->cls];
            block_t *b = ptr;
            owner_add64(&hc->nfree, 1);
            if (likely(hc->ncache < hc->cache_max)) {
                b->next = hc->cache;
                hc->cache = b;
                owner_add32(&hc->ncache, 1);
                return;
            }
            p -= p->span;               /* cache full: straight to the pool (or run) */
            b->next = p->free;
            p->free = b;
            if (unlikely(owner_dec32(&p->used) <= p->relink_at))
                pool_free_slow(h, p);
            return;
        }
        pool_free_remote(p, ptr);
        return;
    }
    if (ptr)
        large_free(ptr);
}

#endif /* POOL_ALLOC_FAST_H */
