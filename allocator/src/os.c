/* The allocator's only contact with the kernel: arenas, purging, metadata,
 * and a cheap clock. Nothing here calls malloc. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

/* ---- the arena region ------------------------------------------------------- */

uintptr_t pool_region_tag = UINTPTR_MAX;   /* matches no address until reserved */
static char *region_base;

/* Reserve 16 GiB of address space, aligned to 16 GiB, with no access and no
 * commit charge. Skipped when RLIMIT_AS is set: the reservation would use up
 * the address space the user budgeted. */
void os_region_init(void)
{
    const size_t size = (size_t)1 << REGION_SHIFT;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        return;
    char *p = mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return;
    char *a = (char *)(((uintptr_t)p + size - 1) & ~(uintptr_t)(size - 1));
    if (a > p)
        munmap(p, (size_t)(a - p));
    if (a + size < p + 2 * size)
        munmap(a + size, (size_t)(p + 2 * size - (a + size)));
    if ((uintptr_t)a >> ADDR_BITS) {
        munmap(a, size);
        return;
    }
    region_base = a;
    pool_region_tag = (uintptr_t)a >> REGION_SHIFT;
}

size_t os_region_slots(void)
{
    return region_base ? (size_t)1 << (REGION_SHIFT - ARENA_SHIFT) : 0;
}

void *os_region_arena(size_t slot)
{
    char *p = region_base + slot * POOL_ARENA_SIZE;
    return mprotect(p, POOL_ARENA_SIZE, PROT_READ | PROT_WRITE) == 0 ? p : NULL;
}

/* A fresh inaccessible mapping over the arena drops its pages and its
 * commit charge while the address space stays reserved. */
void os_region_release(void *p)
{
    mmap(p, POOL_ARENA_SIZE, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
         -1, 0);
}

/* ---- arenas outside the region ------------------------------------------------- */

static void *map_anon(void *hint, size_t n)
{
    void *p = mmap(hint, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Where the next arena would most likely land aligned: the kernel maps
 * top-down, so just below the last aligned arena we got. */
static _Atomic uintptr_t next_hint;

void *os_map_arena(void)
{
    const size_t A = POOL_ARENA_SIZE;
    void *hint = (void *)atomic_load_explicit(&next_hint, memory_order_relaxed);
    char *p = map_anon(hint, A);
    if (p && ((uintptr_t)p & (A - 1)) != 0) {
        /* Not aligned: map twice the size and trim both ends. */
        munmap(p, A);
        p = map_anon(NULL, 2 * A);
        if (p) {
            char *aligned = (char *)(((uintptr_t)p + A - 1) & ~(uintptr_t)(A - 1));
            if (aligned > p)
                munmap(p, (size_t)(aligned - p));
            if (aligned + A < p + 2 * A)
                munmap(aligned + A, (size_t)(p + 2 * A - (aligned + A)));
            p = aligned;
        }
    }
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    if ((uintptr_t)p >> ADDR_BITS) {      /* beyond what arena_map covers */
        munmap(p, A);
        errno = ENOMEM;
        return NULL;
    }
    atomic_store_explicit(&next_hint, (uintptr_t)p - A, memory_order_relaxed);
    return p;
}

void os_unmap(void *p, size_t n)
{
    munmap(p, n);
}

int os_purge(void *p, size_t n)
{
    /* MADV_DONTNEED drops the pages at once, so RSS falls immediately and a
     * later touch gets zero pages; MADV_FREE would leave RSS to the kernel. */
    return madvise(p, n, MADV_DONTNEED);
}

/* Metadata comes from its own mappings, bump-allocated, never freed. */
pthread_mutex_t pool_meta_lock = PTHREAD_MUTEX_INITIALIZER;
static char *meta_cur, *meta_end;

void *os_meta_alloc(size_t n)
{
    n = (n + 63) & ~(size_t)63;
    pthread_mutex_lock(&pool_meta_lock);
    if ((size_t)(meta_end - meta_cur) < n) {
        size_t chunk = n > 256 * 1024 ? n : 256 * 1024;
        char *p = map_anon(NULL, chunk);
        if (!p) {
            pthread_mutex_unlock(&pool_meta_lock);
            return NULL;
        }
        meta_cur = p;
        meta_end = p + chunk;
    }
    void *r = meta_cur;
    meta_cur += n;
    pthread_mutex_unlock(&pool_meta_lock);
    return r;
}

uint32_t os_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}
