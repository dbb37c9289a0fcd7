/* A deliberately broken allocator for the bench-smoke suite: a bump
 * allocator that, once in a while, hands out the block it returned last
 * time again (to whichever thread asks). Preloaded into bench-malloc, the
 * workloads' content checks must catch it and abort. One lock around
 * everything: the threaded workloads must find the bug, not a race. */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define HEAP_BYTES (1UL << 32)      /* reserved, touched only as used */
#define HDR 16                      /* the block size lives in front */
#define DUPLICATE_EVERY 1000

static char *heap, *top;
static void *last;
static unsigned long calls;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void *malloc(size_t n);
void  free(void *p);
void *calloc(size_t k, size_t n);
void *realloc(void *p, size_t n);

static void *malloc_locked(size_t n, int may_break)
{
    if (!heap) {
        heap = mmap(NULL, HEAP_BYTES, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (heap == MAP_FAILED)
            return NULL;
        top = heap;
    }
    if (may_break && ++calls % DUPLICATE_EVERY == 0 && last && n <= *(size_t *)((char *)last - HDR))
        return last;                                   /* the bug */
    size_t need = HDR + ((n + 15) & ~(size_t)15);
    if ((size_t)(top - heap) + need > HEAP_BYTES)
        return NULL;
    *(size_t *)top = n;
    last = top + HDR;
    top += need;
    return last;
}

static void *alloc(size_t n, int may_break)
{
    pthread_mutex_lock(&lock);
    void *p = malloc_locked(n, may_break);
    pthread_mutex_unlock(&lock);
    return p;
}

/* Only malloc breaks: calloc and realloc serve the C library's own
 * structures too (a thread's TLS), which would crash before any check. */
void *malloc(size_t n) { return alloc(n, 1); }

void free(void *p) { (void)p; }

void *calloc(size_t k, size_t n)
{
    size_t bytes;
    if (__builtin_mul_overflow(k, n, &bytes))
        return NULL;
    void *p = alloc(bytes, 0);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void *realloc(void *p, size_t n)
{
    void *q = alloc(n, 0);
    if (q && p) {
        size_t old = *(size_t *)((char *)p - HDR);
        memcpy(q, p, old < n ? old : n);
    }
    return q;
}
