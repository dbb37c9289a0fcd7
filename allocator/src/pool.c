/*
 * Pools: the slow paths behind pool_malloc() and pool_free().
 *
 * A pool's blocks are carved lazily, one page at a time, from a bump pointer
 * (pymalloc carves one block at a time; a page at a time keeps the fast path
 * a bare free-list pop while still touching memory only as it is used).
 *
 * Cross-thread frees never touch the owner's free list: they are pushed on
 * the pool's `xfree` word (head offset, FULL flag, count) with one CAS, and
 * the owner takes the whole list with one exchange. Because the count rides
 * in the same word, the owner learns how many blocks came back without
 * walking them, and the statistics walk can read it too.
 *
 * Full pools. A pool with no free block leaves its heap's list. The owner
 * sets FULL in xfree once (one CAS) so that the first remote free into it
 * clears the flag and puts the pool on the heap's delayed list. Local frees
 * put it back on the list, with no atomic, once 1/16 of its blocks are free
 * (relink_at): relinked after a single free, it would serve one malloc and
 * run dry again, and steady churn would live in the slow paths. FULL may
 * stay set, and then the pool needs no new CAS the next time it fills.
 * The cost of that laziness is that a listed pool can also sit on the
 * delayed list; `full_marked` tells the owner when that may be so, and such
 * a pool is never returned to its arena until the delayed list is drained.
 */
#include "internal.h"

void pool_init(pool_t *p, heap_t *h, unsigned cls)
{
    size_t bs = class_size(cls);
    unsigned nb = class_blocks(cls);
    p->free = NULL;
    p->cls = (uint8_t)cls;
    p->span = 0;
    p->listed = 0;
    p->full_marked = 0;
    p->heap = h;
    p->bsize = (uint32_t)bs;
    p->nblocks = (uint16_t)nb;
    p->relink_at = 0;
    p->bump = pool_base(p);
    p->end = p->bump + (size_t)nb * bs;
    p->next = p->prev = NULL;
    atomic_store_explicit(&pool_remote(p)->delayed_next, NULL, memory_order_relaxed);
    atomic_store_explicit(&pool_remote(p)->xfree, 0, memory_order_relaxed);
    __atomic_store_n(&p->used, 0, __ATOMIC_RELAXED);
}

/* A block in the remote-free word: its offset in the pool / 16, plus 1 so
 * that 0 can mean "none" (the first block sits at offset 0). */
static uint64_t xfree_ref(const pool_t *p, const block_t *b)
{
    return (uint64_t)(((uintptr_t)b - (uintptr_t)pool_base(p)) >> ALIGN_SHIFT) + 1;
}

static block_t *xfree_block(const pool_t *p, uint32_t ref)
{
    return ref ? (block_t *)(pool_base(p) + ((size_t)(ref - 1) << ALIGN_SHIFT)) : NULL;
}

/* Link the never-used blocks up to the end of the bump pointer's page. */
static block_t *pool_carve(pool_t *p)
{
    char *q = p->bump;
    if (q >= p->end)
        return NULL;
    size_t bs = p->bsize;
    char *limit = (char *)(((uintptr_t)q + PAGE_SIZE_) & ~(uintptr_t)(PAGE_SIZE_ - 1));
    if (limit > p->end)
        limit = p->end;
    block_t *head = (block_t *)q;
    for (; q + bs < limit; q += bs)
        ((block_t *)q)->next = (block_t *)(q + bs);
    ((block_t *)q)->next = NULL;
    p->bump = q + bs;
    return head;
}

/* Take the remote-free list into the owner's free list. */
static bool pool_collect(pool_t *p)
{
    _Atomic uint64_t *xfree = &pool_remote(p)->xfree;
    if (XFREE_COUNT(RELAXED_LOAD(xfree)) == 0)
        return false;
    uint64_t x = atomic_exchange_explicit(xfree, 0, memory_order_acquire);
    uint32_t n = XFREE_COUNT(x);
    block_t *head = xfree_block(p, (uint32_t)(x & 0xffff));
    if (p->free) {
        block_t *t = head;
        while (t->next)
            t = t->next;
        t->next = p->free;
    }
    p->free = head;
    owner_add32(&p->used, -n);
    return true;
}

/* The heap's class lists (cur ... tail, doubly linked; an empty list's cur
 * is the sentinel pool_pool_empty): only the owning thread touches them. */
static void list_push_front(heap_t *h, pool_t *p)
{
    heap_class_t *hc = &h->cls[p->cls];
    p->relink_at = 0;
    pool_t *head = hc->cur == &pool_pool_empty ? NULL : hc->cur;
    p->prev = NULL;
    p->next = head;
    if (head) head->prev = p; else hc->tail = p;
    hc->cur = p;
    p->listed = 1;
}

static void list_append(heap_t *h, pool_t *p)
{
    heap_class_t *hc = &h->cls[p->cls];
    p->relink_at = 0;
    pool_t *t = hc->tail;
    p->next = NULL;
    p->prev = t;
    if (t) t->next = p; else hc->cur = p;
    hc->tail = p;
    p->listed = 1;
}

static void list_unlink(heap_t *h, pool_t *p)
{
    heap_class_t *hc = &h->cls[p->cls];
    if (p->prev) p->prev->next = p->next; else hc->cur = p->next ? p->next : &pool_pool_empty;
    if (p->next) p->next->prev = p->prev; else hc->tail = p->prev;
    p->next = p->prev = NULL;
    p->listed = 0;
    p->relink_at = 0;
}

/* May p go back to its arena? Not while it may sit on the delayed list.
 * p is empty, so no remote free can race with the stores here. */
static bool pool_releasable(pool_t *p)
{
    if (!p->full_marked)
        return true;
    if (RELAXED_LOAD(&pool_remote(p)->xfree) != XFREE_FULL)
        return false;           /* a remote free consumed FULL: p is delayed */
    atomic_store_explicit(&pool_remote(p)->xfree, 0, memory_order_relaxed);
    p->full_marked = 0;
    return true;
}

/* Give an empty pool back, unless it is the one its class allocates from
 * (kept, so alloc/free ping-pong does not go through the arena lock). */
static void pool_maybe_release(heap_t *h, pool_t *p)
{
    if (LOAD_COUNTER(&p->used) != 0 || h->cls[p->cls].cur == p || !pool_releasable(p))
        return;
    if (p->listed)
        list_unlink(h, p);
    arena_pool_release(p);
}

static void heap_drain_delayed(heap_t *h)
{
    if (!RELAXED_LOAD(&h->delayed))
        return;
    pool_t *p = atomic_exchange_explicit(&h->delayed, NULL, memory_order_acquire);
    while (p) {
        pool_t *next = atomic_load_explicit(&pool_remote(p)->delayed_next, memory_order_relaxed);
        p->full_marked = 0;     /* the remote free that delayed p cleared FULL */
        pool_collect(p);
        if (!p->listed && LOAD_COUNTER(&p->used) != 0)
            list_append(h, p);  /* at the tail: it gathers frees before reuse */
        pool_maybe_release(h, p);
        p = next;
    }
}

/* Take a dry pool off duty. Returns false when remote frees arrived and
 * the pool can go on serving (after pool_collect). */
static bool pool_mark_full(pool_t *p)
{
    _Atomic uint64_t *xfree = &pool_remote(p)->xfree;
    uint64_t x = RELAXED_LOAD(xfree);
    if (x == XFREE_FULL)
        return true;                        /* still marked from last time */
    if (p->full_marked)                     /* on the delayed list already */
        return XFREE_COUNT(x) == 0;
    uint64_t expected = 0;
    if (!atomic_compare_exchange_strong_explicit(xfree, &expected, XFREE_FULL,
                                                 memory_order_acq_rel, memory_order_relaxed))
        return false;
    p->full_marked = 1;
    return true;
}

/* Make h->cls[cls].cur a pool with a non-empty free list; NULL when out of memory. */
static pool_t *heap_find_pool(heap_t *h, unsigned cls)
{
    heap_drain_delayed(h);
    for (pool_t *p; (p = h->cls[cls].cur) != &pool_pool_empty;) {
        if (p->free || (p->free = pool_carve(p)) || pool_collect(p))
            return p;
        list_unlink(h, p);
        if (!pool_mark_full(p)) {
            list_push_front(h, p);
            pool_collect(p);
            return p;
        }
        p->relink_at = (uint16_t)(p->nblocks - 1u - p->nblocks / 16u);
    }
    heap_sweep_abandoned();
    pool_t *p = arena_pool_acquire(h, cls);
    if (!p)
        return NULL;
    list_push_front(h, p);
    p->free = pool_carve(p);
    return p;
}

void *heap_pop(heap_t *h, unsigned cls)
{
    pool_t *p = heap_find_pool(h, cls);
    if (!p) {
        owner_add64(&h->failed, 1);
        return NULL;
    }
    block_t *b = p->free;
    p->free = b->next;
    owner_add32(&p->used, 1);
    owner_add64(&h->cls[cls].nmalloc, 1);
    return b;
}

void *pool_malloc_slow(heap_t *h, unsigned cls)
{
    if (h == &pool_heap_empty) {
        if (unlikely(heap_thread_exiting()))
            return heap_exit_malloc(cls);
        if (!(h = heap_get()))
            return NULL;
    }
    return heap_pop(h, cls);
}

/* Hand a class's cached blocks back to their pools (a thread giving up its
 * heap, or a statistics call). Each pool's used count drops only now. */
void heap_cache_flush(heap_t *h, heap_class_t *hc)
{
    block_t *rest = hc->cache;
    hc->cache = NULL;
    __atomic_store_n(&hc->ncache, 0, __ATOMIC_RELAXED);
    while (rest) {
        block_t *b = rest;
        rest = b->next;
        pool_t *p = pool_of(b);
        b->next = p->free;
        p->free = b;
        if (owner_dec32(&p->used) <= p->relink_at)
            pool_free_slow(h, p);
    }
}

/* A local free left p empty, or freed enough of a full (unlisted) pool. */
void pool_free_slow(heap_t *h, pool_t *p)
{
    if (!p->listed)
        list_append(h, p);
    pool_maybe_release(h, p);
}

void pool_free_remote(pool_t *p, block_t *b)
{
    p -= p->span;               /* the run's header, if p is a run's further pool */
    /* Read what we need before the push: once the block is in, the owner
     * may empty and recycle the pool at any moment. */
    heap_t *owner = p->heap;
    unsigned cls = p->cls;
    pool_remote_t *r = pool_remote(p);
    uint64_t ref = xfree_ref(p, b);
    uint64_t old = RELAXED_LOAD(&r->xfree), nw;
    do {
        b->next = xfree_block(p, (uint32_t)(old & 0xffff));
        nw = ((uint64_t)(XFREE_COUNT(old) + 1) << 32) | ref;
    } while (!atomic_compare_exchange_weak_explicit(&r->xfree, &old, nw, memory_order_release,
                                                    memory_order_relaxed));
    if (old & XFREE_FULL) {
        /* We cleared FULL, so we alone tell the owner the pool has space. */
        pool_t *top = atomic_load_explicit(&owner->delayed, memory_order_relaxed);
        do {
            atomic_store_explicit(&r->delayed_next, top, memory_order_relaxed);
        } while (!atomic_compare_exchange_weak_explicit(&owner->delayed, &top, p,
                                                        memory_order_release,
                                                        memory_order_relaxed));
    }
    heap_t *me = heap_for_stats();
    heap_count(me, &me->cls[cls].nfree, 1);
    heap_count(me, &me->remote_frees, 1);
}

/* Bring everything back: remote frees, delayed pools, and every empty pool
 * to its arena. Used when a heap is abandoned or swept. */
void heap_collect_all(heap_t *h)
{
    for (unsigned c = 0; c < NCLASSES; c++)
        heap_cache_flush(h, &h->cls[c]);
    heap_drain_delayed(h);
    for (unsigned c = 0; c < NCLASSES; c++) {
        pool_t *next;
        for (pool_t *p = h->cls[c].cur; p && p != &pool_pool_empty; p = next) {
            next = p->next;
            pool_collect(p);
            if (LOAD_COUNTER(&p->used) == 0 && pool_releasable(p)) {
                list_unlink(h, p);
                arena_pool_release(p);
            }
        }
    }
}
