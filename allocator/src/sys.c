/* The system allocator, for large and zero-byte requests.
 *
 * In the library this is plain malloc. In the preload shim, malloc is us, so
 * the shim calls glibc's own exported entry points (__libc_malloc & co.):
 * no dlsym, hence no allocation while we resolve anything. */
#define _GNU_SOURCE
#include "internal.h"

#include <malloc.h>
#include <stdlib.h>

#ifdef POOL_SHIM
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void  __libc_free(void *);

void *sys_malloc(size_t n) { return __libc_malloc(n); }
void *sys_calloc(size_t n, size_t m) { return __libc_calloc(n, m); }
void *sys_realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void *sys_memalign(size_t a, size_t n) { return __libc_memalign(a, n); }
void  sys_free(void *p) { __libc_free(p); }

/* glibc's malloc_usable_size() is interposed by our own, and glibc exports
 * no alias for it, so read the chunk header the way glibc does: the size
 * word sits just below the block, its low 3 bits are flags (bit 1: the chunk
 * was mmap'd, and then it carries a 16-byte header; otherwise the next
 * chunk's first word is usable too, so 8 bytes of overhead). */
size_t sys_usable_size(void *p)
{
    if (!p)
        return 0;
    size_t word = ((const size_t *)p)[-1];
    size_t chunk = word & ~(size_t)7;
    return (word & 2) ? chunk - 2 * sizeof(size_t) : chunk - sizeof(size_t);
}
#else
void *sys_malloc(size_t n) { return malloc(n); }
void *sys_calloc(size_t n, size_t m) { return calloc(n, m); }
void *sys_realloc(void *p, size_t n) { return realloc(p, n); }
void *sys_memalign(size_t a, size_t n) { return memalign(a, n); }
void  sys_free(void *p) { free(p); }
size_t sys_usable_size(void *p) { return malloc_usable_size(p); }
#endif
