/* The public allocation API. The fast paths live in alloc_fast.h. */
#include "alloc_fast.h"

#include <errno.h>
#include <string.h>

void *pool_malloc(size_t size) { return fast_malloc(size); }
void  pool_free(void *ptr) { fast_free(ptr); }

static void *fail_nomem(void)
{
    COUNT(failed, 1);
    errno = ENOMEM;
    return NULL;
}

void *pool_calloc(size_t nmemb, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(nmemb, size, &n))
        return fail_nomem();
    COUNT(calloc_calls, 1);
    if (n - 1 < threshold()) {
        void *p = fast_malloc(n);
        if (p)
            memset(p, 0, pool_of(p)->bsize);
        return p;
    }
    return large_calloc(n);
}

/* A block that grows through realloc tends to keep growing (strings and
 * arrays being appended to), so growth gets headroom: 1/8 of the size in the
 * pools, 1/4 above them (at most 1 MiB). Later small steps then land inside
 * the block and cost nothing; the price is at most that headroom in unused
 * bytes on blocks that were grown. */
static size_t grown(size_t size)
{
    size_t extra = size <= POOL_SMALL_REQUEST_THRESHOLD ? size >> 3 : size >> 2;
    if (extra > ((size_t)1 << 20))
        extra = (size_t)1 << 20;
    return size + extra < size ? size : size + extra;
}

/* The largest request of the class below cls (0 below the first). */
static size_t class_below(unsigned cls)
{
    return cls ? class_size(cls - 1) : 0;
}

/* Moving a block: to a new home of the right size (with headroom when it
 * grows), the contents copied, the old block freed. A tracer's clock is
 * read between taking the new block and releasing the old one: the only
 * moment that sorts after every free that released the new block and
 * before every malloc that reuses the old one. */
static NOINLINE void *realloc_move(void *ptr, size_t old, size_t size, const realloc_clock_t *c)
{
    void *q = fast_malloc(size > old ? grown(size) : size);
    if (!q)
        return NULL;                    /* the old block is untouched */
    if (c)
        *c->when = c->now();
    memcpy(q, ptr, old < size ? old : size);
    fast_free(ptr);
    return q;
}

static NOINLINE void *realloc_large(heap_t *h, void *ptr, size_t size, const realloc_clock_t *c)
{
    size_t old = large_usable_size(ptr);
    if (size <= old && size >= old / 2) {                   /* still fits well */
        heap_count(h, &h->realloc_inplace, 1);
        return ptr;
    }
    /* Traced, a system block moves by malloc, copy and free like a pool
     * block, since the system's realloc gives the clock no moment between
     * taking the new block and releasing the old. */
    if (size > threshold() && !c)
        return large_realloc(ptr, size > old ? grown(size) : size);
    return realloc_move(ptr, old, size, c);                 /* into a pool, or traced */
}

/* A new size that still falls in the block's class keeps the block. */
static inline bool stays_in_class(const pool_t *p, size_t size)
{
    return size <= p->bsize && size > class_below(p->cls);
}

static NOINLINE void *realloc_slow(void *ptr, size_t size, const realloc_clock_t *c)
{
    if (unlikely(!ptr)) {
        void *q = fast_malloc(size);
        if (c)
            *c->when = c->now();        /* a malloc: after the block was taken */
        return q;
    }
    heap_t *h = heap_for_stats();
    heap_count(h, &h->realloc_calls, 1);
    if (unlikely(size == 0)) {
        fast_free(ptr);
        return NULL;
    }
    if (!is_ours(ptr))
        return realloc_large(h, ptr, size, c);
    const pool_t *p = pool_of(ptr);
    if (stays_in_class(p, size)) {      /* a thread that had no heap yet */
        heap_count(h, &h->realloc_inplace, 1);
        return ptr;
    }
    return realloc_move(ptr, p->bsize, size, c);
}

/* Most reallocs of a growing string or array stay in their block: that
 * case is a leaf with no stack frame (two counts on the thread's own heap),
 * everything else is behind one call. */
static inline __attribute__((always_inline)) void *realloc_fast(void *ptr, size_t size,
                                                                const realloc_clock_t *c)
{
    heap_t *h = pool_tls_heap;
    if (likely(is_ours(ptr) && h != &pool_heap_empty && stays_in_class(pool_of(ptr), size))) {
        owner_add64(&h->realloc_calls, 1);      /* the thread's own heap: never shared */
        owner_add64(&h->realloc_inplace, 1);
        return ptr;
    }
    return realloc_slow(ptr, size, c);
}

void *pool_realloc(void *ptr, size_t size) { return realloc_fast(ptr, size, NULL); }

void *pool_realloc_clocked(void *ptr, size_t size, const realloc_clock_t *c)
{
    return realloc_fast(ptr, size, c);
}

void *pool_reallocarray(void *ptr, size_t nmemb, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(nmemb, size, &n))
        return fail_nomem();
    return pool_realloc(ptr, n);
}

size_t pool_usable_size(const void *ptr)
{
    if (is_ours(ptr))
        return pool_of(ptr)->bsize;
    return ptr ? large_usable_size(ptr) : 0;
}

/* Aligned blocks come from the pools too: a pool's (or run's) blocks start
 * at its start, which is 16 KiB-aligned, and follow each other at the
 * block size, so every block of a class whose size is a multiple of the
 * alignment is aligned. The request becomes the smallest such class's
 * size (0: none up to the threshold; alignments above 16 KiB and 0-byte
 * requests go to the system allocator). Page-aligned buffers of a few KiB,
 * common in I/O code, then cost a free-list pop. */
static size_t aligned_request(size_t alignment, size_t size)
{
    if (size == 0 || alignment > POOL_POOL_SIZE || size > threshold())
        return 0;
    for (unsigned c = (unsigned)class_of(size); c < NCLASSES && class_size(c) <= threshold(); c++)
        if (class_size(c) % alignment == 0)
            return class_size(c);
    return 0;
}

void *pool_aligned_alloc(size_t alignment, size_t size)
{
    if (alignment == 0 || (alignment & (alignment - 1))) {
        errno = EINVAL;
        return NULL;
    }
    COUNT(aligned_calls, 1);
    if (alignment <= POOL_ALIGNMENT)
        return fast_malloc(size);
    size_t n = aligned_request(alignment, size);
    return n ? fast_malloc(n) : large_memalign(alignment, size);
}

/* posix_memalign's contract on top of an aligned allocator: errors are
 * returned, not put in errno, and *memptr is left alone on error. */
int posix_memalign_via(void **memptr, size_t alignment, size_t size,
                       void *(*aligned)(size_t, size_t))
{
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)))
        return EINVAL;
    int saved = errno;
    void *p = aligned(alignment, size);
    if (!p) {
        errno = saved;
        return ENOMEM;
    }
    *memptr = p;
    return 0;
}

int pool_posix_memalign(void **memptr, size_t alignment, size_t size)
{
    return posix_memalign_via(memptr, alignment, size, pool_aligned_alloc);
}

int pool_owns(const void *ptr) { return arena_map_contains(ptr); }

size_t pool_trim(void)
{
    heap_t *h = pool_tls_heap;
    if (h != &pool_heap_empty)
        heap_collect_all(h);
    heap_sweep_all();
    pthread_mutex_lock(&pool_arena_lock);
    size_t n = arena_purge_locked(true);
    pthread_mutex_unlock(&pool_arena_lock);
    return n;
}

long pool_set_purge_delay_ms(long ms)
{
    pool_ensure_init();
    return arena_set_purge_delay(ms);
}
