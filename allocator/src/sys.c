/* The system allocator, for large and zero-byte requests.
 *
 * In the library this is plain malloc. In the preload shim, malloc is us, so
 * the shim calls glibc's own exported entry points (__libc_malloc & co.):
 * no dlsym, hence no allocation while we resolve anything. */
#define _GNU_SOURCE
#include "internal.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

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

/* Blocks above the pools' threshold come from glibc, which by default maps
 * every request above 128 KiB with its own mmap and, once such a block is
 * freed, raises that threshold to the block's size and its heap's trim
 * threshold to twice that. Under a churn of 256 KiB - 1 MiB blocks the
 * heap's top is then trimmed and re-faulted over and over: measured here,
 * 65,000 page faults for 4,000 replacements (mimalloc: 42,000). Fixed
 * thresholds of 4 MiB (mapped above) and 8 MiB (kept at the heap's top)
 * halve the faults and the system time, and bound what the heap keeps
 * below glibc's own worst case (32 and 64 MiB). A user who tunes glibc's
 * malloc (GLIBC_TUNABLES, MALLOC_*_ variables) keeps their setting. */
#define SYS_MMAP_THRESHOLD (4u << 20)
#define SYS_TRIM_THRESHOLD (8u << 20)

static bool glibc_tuned_by_user(void)
{
    const char *t = getenv("GLIBC_TUNABLES");
    return (t && strstr(t, "glibc.malloc.")) || getenv("MALLOC_MMAP_THRESHOLD_") ||
           getenv("MALLOC_TRIM_THRESHOLD_") || getenv("MALLOC_TOP_PAD_") ||
           getenv("MALLOC_MMAP_MAX_");
}

void sys_tune(void)
{
    if (glibc_tuned_by_user())
        return;
    mallopt(M_MMAP_THRESHOLD, SYS_MMAP_THRESHOLD);
    mallopt(M_TRIM_THRESHOLD, SYS_TRIM_THRESHOLD);
}
