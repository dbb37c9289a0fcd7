/* Large requests (above the threshold) and 0-byte requests: served by the
 * system allocator, counted here so the statistics can show them. Counts go
 * to the calling thread's heap; a block freed by another thread makes one
 * heap's count negative and the sum stays right. */
#include "internal.h"

#include <errno.h>

const uint64_t pool_large_bucket_bounds[POOL_LARGE_BUCKETS - 1] = {
    1024, 4096, 16384, 65536, 262144, 1048576, 16777216,
};

static unsigned large_bucket(size_t n)
{
    unsigned i = 0;
    while (i < POOL_LARGE_BUCKETS - 1 && n > pool_large_bucket_bounds[i])
        i++;
    return i;
}

static void *account_new(heap_t *h, void *p, size_t n)
{
    if (!p) {
        heap_count(h, &h->failed, 1);
        errno = ENOMEM;
        return NULL;
    }
    heap_count(h, &h->large_live, 1);
    heap_count(h, &h->large_live_bytes, sys_usable_size(p));
    heap_count(h, &h->large_mallocs, 1);
    heap_count(h, &h->large_bytes_total, n);
    heap_count(h, &h->large_hist[large_bucket(n)], 1);
    return p;
}

/* The heap is found first: in a program's first request that starts the
 * allocator, which tunes the system allocator before it is called. */
void *large_malloc(size_t n)
{
    heap_t *h = heap_for_stats();
    return account_new(h, sys_malloc(n ? n : 1), n);
}

void *large_calloc(size_t n)
{
    heap_t *h = heap_for_stats();
    return account_new(h, sys_calloc(1, n ? n : 1), n);
}

void *large_memalign(size_t align, size_t n)
{
    heap_t *h = heap_for_stats();
    return account_new(h, sys_memalign(align, n ? n : 1), n);
}

void large_free(void *p)
{
    heap_t *h = heap_for_stats();
    heap_count(h, &h->large_live, (uint64_t)-1);
    heap_count(h, &h->large_live_bytes, -(uint64_t)sys_usable_size(p));
    heap_count(h, &h->large_frees, 1);
    sys_free(p);
}

void *large_realloc(void *p, size_t n)
{
    size_t before = sys_usable_size(p);
    void *q = sys_realloc(p, n ? n : 1);
    heap_t *h = heap_for_stats();
    if (!q) {
        heap_count(h, &h->failed, 1);
        errno = ENOMEM;
        return NULL;
    }
    heap_count(h, &h->large_live_bytes, sys_usable_size(q) - before);
    return q;
}

size_t large_usable_size(const void *p) { return sys_usable_size((void *)p); }
