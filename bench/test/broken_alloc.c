/* A deliberately broken allocator for the bench-smoke suite: a bump
 * allocator that, once in a while, hands out the block it returned last
 * time again. Preloaded into bench-malloc, the workloads' content checks
 * must catch it and abort. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define HEAP_BYTES (1UL << 32)      /* reserved, touched only as used */
#define HDR 16                      /* the block size lives in front */
#define DUPLICATE_EVERY 5000

static char *heap, *top;
static void *last;
static unsigned long calls;

void *malloc(size_t n);
void  free(void *p);
void *calloc(size_t k, size_t n);
void *realloc(void *p, size_t n);

void *malloc(size_t n)
{
    if (!heap) {
        heap = mmap(NULL, HEAP_BYTES, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (heap == MAP_FAILED)
            return NULL;
        top = heap;
    }
    if (++calls % DUPLICATE_EVERY == 0 && last && n <= *(size_t *)((char *)last - HDR))
        return last;                                   /* the bug */
    size_t need = HDR + ((n + 15) & ~(size_t)15);
    if ((size_t)(top - heap) + need > HEAP_BYTES)
        return NULL;
    *(size_t *)top = n;
    last = top + HDR;
    top += need;
    return last;
}

void free(void *p) { (void)p; }

void *calloc(size_t k, size_t n)
{
    size_t bytes;
    if (__builtin_mul_overflow(k, n, &bytes))
        return NULL;
    void *p = malloc(bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void *realloc(void *p, size_t n)
{
    void *q = malloc(n);
    if (q && p) {
        size_t old = *(size_t *)((char *)p - HDR);
        memcpy(q, p, old < n ? old : n);
    }
    return q;
}
