/*
 * Thread heaps: creation, adoption, abandonment, and fork.
 *
 * Every thread starts on the sentinel heap, whose class lists all point at
 * one pool with no free block, so its first malloc falls into the slow path
 * without a separate "is there a heap?" test on the fast path.
 *
 * Heaps are never destroyed. When a thread exits, its heap gives back what it
 * can (empty pools) and is marked abandoned; it keeps the pools that still
 * hold live blocks. The next thread that needs a heap adopts it whole, and
 * until then other threads sweep it now and then so blocks freed into it
 * return to their arenas. The registry of heaps only grows, so the
 * statistics can walk it without a lock.
 *
 * A thread can still allocate and free after its heap was abandoned (glibc
 * frees per-thread buffers after the TSD destructors run). Taking a heap
 * then would leak it, since no destructor runs again; such a thread
 * allocates from one shared "exit heap" under a lock, and counts on a
 * shared fallback heap with atomic adds.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <string.h>

pool_t pool_pool_empty;
heap_t pool_heap_empty = { .cls = { [0 ... NCLASSES - 1] = { .cur = &pool_pool_empty } } };
__thread heap_t *pool_tls_heap __attribute__((tls_model("initial-exec"))) = &pool_heap_empty;

/* Counts for threads that cannot or must not take a heap. */
static heap_t heap_orphan = { .cls = { [0 ... NCLASSES - 1] = { .cur = &pool_pool_empty } },
                              .shared = true };
static __thread bool tls_exiting __attribute__((tls_model("initial-exec")));
static heap_t *exit_heap;
static pthread_mutex_t exit_lock = PTHREAD_MUTEX_INITIALIZER;

static heap_t *_Atomic registry;
static _Atomic uint64_t n_heaps;
static _Atomic uint64_t n_abandoned;
static pthread_key_t exit_key;
static pthread_mutex_t sweep_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint32_t last_sweep_ms;
enum { HEAP_DEAD = 3 };   /* owned by a thread lost in fork(): left alone */

static void heap_on_thread_exit(void *arg);

void heap_setup(void)
{
    pthread_key_create(&exit_key, heap_on_thread_exit);
}

static heap_t *heap_adopt(void)
{
    if (RELAXED_LOAD(&n_abandoned) == 0)
        return NULL;
    for (heap_t *h = atomic_load_explicit(&registry, memory_order_acquire); h; h = h->all_next) {
        int expected = HEAP_ABANDONED;
        if (atomic_compare_exchange_strong(&h->state, &expected, HEAP_OWNED)) {
            atomic_fetch_sub(&n_abandoned, 1);
            return h;
        }
    }
    return NULL;
}

/* How many freed blocks a heap keeps per class. Small classes: CACHE_BYTES
 * worth and at least 64 blocks, so a burst of a few thousand blocks spread
 * over the classes goes to the cache rather than to pool headers, whose
 * pools would empty at the burst's end and go back to the arena only to be
 * taken again (at most ~570 KiB a thread). Medium classes: MEDIUM_CACHE_BYTES
 * worth and at least one, so a free/malloc pair of even the largest class
 * stays off the arena (at most ~2 MiB a thread, every cache full). */
static uint32_t cache_blocks(unsigned c)
{
    size_t bytes = c < NSMALL ? CACHE_BYTES : MEDIUM_CACHE_BYTES, least = c < NSMALL ? 64 : 1;
    size_t n = bytes / class_size(c);
    return (uint32_t)(n < least ? least : n);
}

/* thread_heap: counted in `heaps` (the exit heap is not a thread's) */
static heap_t *heap_new(bool thread_heap)
{
    heap_t *h = os_meta_alloc(sizeof *h);
    if (!h)
        return NULL;
    memset(h, 0, sizeof *h);
    for (unsigned c = 0; c < NCLASSES; c++) {
        h->cls[c].cur = &pool_pool_empty;
        h->cls[c].cache_max = cache_blocks(c);
    }
    atomic_store(&h->state, HEAP_OWNED);
    heap_t *top = atomic_load_explicit(&registry, memory_order_relaxed);
    do {
        h->all_next = top;
    } while (!atomic_compare_exchange_weak_explicit(&registry, &top, h, memory_order_release,
                                                    memory_order_relaxed));
    if (thread_heap)
        atomic_fetch_add(&n_heaps, 1);
    return h;
}

heap_t *heap_get(void)
{
    heap_t *h = pool_tls_heap;
    if (h != &pool_heap_empty)
        return h;
    pool_ensure_init();
    if (!(h = heap_adopt()) && !(h = heap_new(true)))
        return NULL;
    /* Set the TLS pointer first: pthread_setspecific may allocate. */
    pool_tls_heap = h;
    pthread_setspecific(exit_key, h);
    return h;
}

heap_t *heap_for_stats_slow(void)
{
    heap_t *h;
    if (tls_exiting || !(h = heap_get()))
        return &heap_orphan;
    return h;
}

bool heap_thread_exiting(void) { return tls_exiting; }

void *heap_exit_malloc(unsigned cls)
{
    pthread_mutex_lock(&exit_lock);
    if (!exit_heap)
        exit_heap = heap_new(false);   /* owned for good: never adopted or swept */
    void *b = exit_heap ? heap_pop(exit_heap, cls) : NULL;
    pthread_mutex_unlock(&exit_lock);
    return b;
}

static void heap_abandon(heap_t *h)
{
    heap_collect_all(h);
    atomic_store(&h->state, HEAP_ABANDONED);
    atomic_fetch_add(&n_abandoned, 1);
}

static void heap_on_thread_exit(void *arg)
{
    heap_t *h = arg;
    tls_exiting = true;
    if (pool_tls_heap == h)
        pool_tls_heap = &pool_heap_empty;
    heap_abandon(h);
}

void pool_thread_release(void)
{
    heap_t *h = pool_tls_heap;
    if (h == &pool_heap_empty)
        return;
    pool_tls_heap = &pool_heap_empty;
    pthread_setspecific(exit_key, NULL);
    heap_abandon(h);
}

/* Return what abandoned heaps have collected in remote frees. */
void heap_sweep_all(void)
{
    pthread_mutex_lock(&sweep_lock);
    for (heap_t *h = atomic_load_explicit(&registry, memory_order_acquire); h; h = h->all_next) {
        int expected = HEAP_ABANDONED;
        if (atomic_compare_exchange_strong(&h->state, &expected, HEAP_BUSY)) {
            heap_collect_all(h);
            atomic_store(&h->state, HEAP_ABANDONED);
        }
    }
    /* The exit heap too; trylock, since we may be inside heap_exit_malloc. */
    if (exit_heap && pthread_mutex_trylock(&exit_lock) == 0) {
        heap_collect_all(exit_heap);
        pthread_mutex_unlock(&exit_lock);
    }
    pthread_mutex_unlock(&sweep_lock);
}

/* The same, at most every 50 ms, from whichever thread is about to take a
 * new pool (so abandoned memory is reused before more is mapped). */
void heap_sweep_abandoned(void)
{
    if (RELAXED_LOAD(&n_abandoned) == 0)
        return;
    uint32_t now = os_now_ms(), last = RELAXED_LOAD(&last_sweep_ms);
    if (now - last < 50 || !atomic_compare_exchange_strong(&last_sweep_ms, &last, now))
        return;
    heap_sweep_all();
}

static void add_heap_stats(pool_stats_t *st, heap_t *h)
{
    for (unsigned c = 0; c < NCLASSES; c++) {
        st->classes[c].mallocs += LOAD_COUNTER(&h->cls[c].nmalloc);
        st->classes[c].frees += LOAD_COUNTER(&h->cls[c].nfree);
        st->classes[c].blocks_cached += LOAD_COUNTER(&h->cls[c].ncache);
    }
    st->large_allocations += LOAD_COUNTER(&h->large_live);
    st->large_bytes += LOAD_COUNTER(&h->large_live_bytes);
    st->large_mallocs += LOAD_COUNTER(&h->large_mallocs);
    st->large_bytes_total += LOAD_COUNTER(&h->large_bytes_total);
    for (unsigned i = 0; i < POOL_LARGE_BUCKETS; i++)
        st->large_hist[i] += LOAD_COUNTER(&h->large_hist[i]);
    st->ops.free += LOAD_COUNTER(&h->large_frees);
    st->ops.calloc += LOAD_COUNTER(&h->calloc_calls);
    st->ops.realloc += LOAD_COUNTER(&h->realloc_calls);
    st->ops.realloc_inplace += LOAD_COUNTER(&h->realloc_inplace);
    st->ops.aligned += LOAD_COUNTER(&h->aligned_calls);
    st->ops.remote_free += LOAD_COUNTER(&h->remote_frees);
    st->ops.failed += LOAD_COUNTER(&h->failed);
}

/* Sum the per-heap counters. Each is read once; the per-heap large counts
 * may be negative (freed by another thread) but their sum is not. */
void heap_sum_stats(pool_stats_t *st)
{
    for (heap_t *h = atomic_load_explicit(&registry, memory_order_acquire); h; h = h->all_next)
        add_heap_stats(st, h);
    add_heap_stats(st, &heap_orphan);
    for (unsigned c = 0; c < NCLASSES; c++) {
        st->ops.malloc += st->classes[c].mallocs;
        st->ops.free += st->classes[c].frees;
    }
    st->ops.malloc += st->large_mallocs;
    st->heaps = RELAXED_LOAD(&n_heaps);
    st->heaps_abandoned = RELAXED_LOAD(&n_abandoned);
}

/* fork(): no sweep may be half done when the child is made; in the child,
 * the heaps of threads that no longer exist may be torn mid-operation, so
 * they are never adopted or swept (their pools still count, and blocks
 * freed into them go on the lock-free remote lists). */
void heaps_atfork_prepare(void)
{
    pthread_mutex_lock(&exit_lock);
    pthread_mutex_lock(&sweep_lock);
}

void heaps_atfork_parent(void)
{
    pthread_mutex_unlock(&sweep_lock);
    pthread_mutex_unlock(&exit_lock);
}

void heaps_atfork_child(void)
{
    pthread_mutex_init(&sweep_lock, NULL);
    pthread_mutex_init(&exit_lock, NULL);
    heap_t *mine = pool_tls_heap;
    for (heap_t *h = atomic_load_explicit(&registry, memory_order_relaxed); h; h = h->all_next) {
        int expected = HEAP_OWNED;
        if (h != mine)
            atomic_compare_exchange_strong(&h->state, &expected, HEAP_DEAD);
    }
}
