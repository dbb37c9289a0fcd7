/*
 * The preload shim: LD_PRELOAD=build/libpoolmalloc.so program
 *
 * Routes the C allocation functions through the pool allocator. Built from
 * the same sources as the library with -DPOOL_SHIM, so the "system
 * allocator" behind large requests is glibc's own (__libc_malloc & co.),
 * reached without dlsym.
 *
 * POOLMALLOC picks the mode once, at the first call:
 *   unset / pymalloc   the pool allocator's inlined fast paths (direct)
 *   malloc, debug, pymalloc_debug, malloc_debug
 *                      through the mem domain, i.e. glibc and/or the hooks
 * The mode has to be known before the first block is handed out, since a
 * debug-hooked free must never see a plain block. That first call can come
 * before libc has set up `environ`, so the variable is then read from
 * /proc/self/environ with plain system calls.
 */
#define _GNU_SOURCE
#include "alloc_fast.h"
#include "domains.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

enum { MODE_UNKNOWN = 0, MODE_DIRECT = 1, MODE_DOMAIN = 2 };
static _Atomic int shim_mode;

extern char **environ;

/* POOLMALLOC's value, or "" if unset; never allocates. */
static const char *early_env(void)
{
    if (getauxval(AT_SECURE))
        return "";   /* set-id programs ignore it, as glibc ignores MALLOC_* */
    if (environ) {
        const char *s = domains_env_name();
        return s ? s : "";
    }
    static char buf[8192];
    static char value[64];
    int fd = (int)syscall(SYS_open, "/proc/self/environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return "";
    ssize_t n = syscall(SYS_read, fd, buf, sizeof buf - 1);
    syscall(SYS_close, fd);
    for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(buf + i) + 1) {
        buf[n] = 0;
        if (strncmp(buf + i, "POOLMALLOC=", 11) == 0) {
            strncpy(value, buf + i + 11, sizeof value - 1);
            return value;
        }
    }
    return "";
}

static NOINLINE int decide_mode(void)
{
    const char *s = early_env();
    int m = (!*s || !strcmp(s, "pymalloc") || !strcmp(s, "default")) ? MODE_DIRECT : MODE_DOMAIN;
    if (m == MODE_DOMAIN) {
        pool_ensure_init();   /* applies POOLMALLOC to the domains */
        if (!strcmp(pool_allocators_name(), "pymalloc"))
            m = MODE_DIRECT;  /* unknown names were reported and fall back */
    }
    int expected = MODE_UNKNOWN;
    atomic_compare_exchange_strong(&shim_mode, &expected, m);
    return atomic_load(&shim_mode);
}

/* The common case costs one load and a predicted branch; everything else
 * (the first call, which decides, and the domain mode) is out of line so
 * the fast paths need no stack frame. */
static inline bool direct(void)
{
    return likely(atomic_load_explicit(&shim_mode, memory_order_relaxed) == MODE_DIRECT);
}

static bool direct_slow(void)
{
    int m = atomic_load_explicit(&shim_mode, memory_order_relaxed);
    return (m == MODE_UNKNOWN ? decide_mode() : m) == MODE_DIRECT;
}

static const pool_allocator_t *mem_domain(pool_allocator_t *buf)
{
    pool_get_allocator(POOL_DOMAIN_MEM, buf);
    return buf;
}

static NOINLINE void *malloc_other(size_t n)
{
    return direct_slow() ? fast_malloc(n) : pool_mem_malloc(n);
}

static NOINLINE void free_other(void *p)
{
    if (direct_slow())
        fast_free(p);
    else
        pool_mem_free(p);
}

EXPORT void *malloc(size_t n)
{
    if (direct())
        return fast_malloc(n);
    return malloc_other(n);
}

EXPORT void free(void *p)
{
    if (direct())
        fast_free(p);
    else
        free_other(p);
}

EXPORT void *calloc(size_t n, size_t m)
{
    if (direct_slow())
        return pool_calloc(n, m);
    size_t total;
    if (__builtin_mul_overflow(n, m, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return pool_mem_calloc(n, m);
}

EXPORT void *realloc(void *p, size_t n)
{
    if (direct_slow())
        return pool_realloc(p, n);
    if (p && n == 0) {            /* glibc: realloc(p, 0) frees p */
        pool_mem_free(p);
        return NULL;
    }
    return pool_mem_realloc(p, n);
}

EXPORT void *reallocarray(void *p, size_t n, size_t m)
{
    size_t total;
    if (__builtin_mul_overflow(n, m, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

static void *aligned(size_t align, size_t n)
{
    if (direct_slow())
        return pool_aligned_alloc(align, n);
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    pool_allocator_t a;
    if (debug_is_hooks(mem_domain(&a)))
        return debug_memalign(&a, align, n);
    return sys_memalign(align, n);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    int saved = errno;
    void *p = aligned(align, n);
    if (!p) {
        errno = saved;
        return ENOMEM;
    }
    *out = p;
    return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t n) { return aligned(align, n); }

EXPORT void *memalign(size_t align, size_t n)
{
    /* glibc rounds a non-power-of-two alignment up instead of failing */
    if (align & (align - 1))
        align = (size_t)1 << (64 - __builtin_clzll((unsigned long long)align));
    return aligned(align ? align : 1, n);
}

EXPORT void *valloc(size_t n) { return aligned((size_t)sysconf(_SC_PAGESIZE), n); }

EXPORT void *pvalloc(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (n > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned(page, (n + page - 1) & ~(page - 1));
}

EXPORT size_t malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    if (direct_slow())
        return pool_usable_size(p);
    pool_allocator_t a;
    if (debug_is_hooks(mem_domain(&a)))
        return debug_block_size(p);
    return sys_usable_size(p);
}
