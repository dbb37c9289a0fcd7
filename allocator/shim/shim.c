/*
 * The preload shim: LD_PRELOAD=build/libpoolmalloc.so program
 *
 * Routes the C allocation functions through the pool allocator. Built from
 * the same sources as the library with -DPOOL_SHIM, so the "system
 * allocator" behind large requests is glibc's own (__libc_malloc & co.),
 * reached without dlsym.
 *
 * The environment picks the mode once, at the first call:
 *   POOLMALLOC unset / pymalloc   the pool allocator's inlined fast paths
 *   POOLMALLOC=malloc, debug, pymalloc_debug, malloc_debug
 *                                 through the mem domain (glibc and/or hooks)
 *   POOLMALLOCTRACE=FILE          record every call (trace_writer.c)
 *   POOLMALLOC_EXPORT=1|DIR       publish statistics (export_writer.c)
 * The mode has to be known before the first block is handed out, since a
 * debug-hooked free must never see a plain block. That first call can come
 * before libc has set up `environ`; the variables are then read from
 * /proc/self/environ with plain system calls.
 */
#define _GNU_SOURCE
#include "alloc_fast.h"
#include "domains.h"
#include "export_writer.h"
#include "trace_format.h"
#include "trace_writer.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

enum { MODE_UNKNOWN = 0, MODE_DIRECT = 1, MODE_SLOW = 2 };
static _Atomic int shim_mode;
static bool use_domain, use_trace;

extern char **environ;

/* The value of `name`, copied into out ("" if unset); never allocates. */
static const char *early_getenv(const char *name, char *out, size_t len)
{
    out[0] = 0;
    if (getauxval(AT_SECURE))
        return out;   /* set-id programs ignore us, as glibc ignores MALLOC_* */
    size_t nlen = strlen(name);
    if (environ) {
        const char *s = getenv(name);
        if (s)
            snprintf(out, len, "%s", s);
        return out;
    }
    static char buf[16384];
    int fd = (int)syscall(SYS_open, "/proc/self/environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return out;
    ssize_t n = syscall(SYS_read, fd, buf, sizeof buf - 1);
    syscall(SYS_close, fd);
    if (n <= 0)
        return out;
    buf[n] = 0;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
        if (strncmp(buf + i, name, nlen) == 0 && buf[i + (ssize_t)nlen] == '=')
            snprintf(out, len, "%s", buf + i + nlen + 1);
    return out;
}

static NOINLINE int decide_mode(void)
{
    static char alloc[64], trace[4096];
    early_getenv("POOLMALLOC", alloc, sizeof alloc);
    early_getenv("POOLMALLOCTRACE", trace, sizeof trace);
    if ((*alloc || POOL_DEBUG_DEFAULT) && strcmp(alloc, "pymalloc") != 0 &&
        strcmp(alloc, "default") != 0) {
        pool_ensure_init();   /* applies POOLMALLOC to the domains */
        use_domain = strcmp(pool_allocators_name(), "pymalloc") != 0;
    }
    int expected = MODE_UNKNOWN;
    if (atomic_load(&shim_mode) == MODE_UNKNOWN) {
        use_trace = *trace && trace_start(trace);
        int m = (use_domain || use_trace) ? MODE_SLOW : MODE_DIRECT;
        if (atomic_compare_exchange_strong(&shim_mode, &expected, m) && use_trace)
            trace_start_late();
    }
    return atomic_load(&shim_mode);
}

/* The common case costs one load and a predicted branch; everything else
 * (the first call, the domain mode, tracing) is out of line, so the fast
 * paths need no stack frame. */
static inline bool direct(void)
{
    return likely(atomic_load_explicit(&shim_mode, memory_order_relaxed) == MODE_DIRECT);
}

static bool direct_slow(void)
{
    int m = atomic_load_explicit(&shim_mode, memory_order_relaxed);
    return (m == MODE_UNKNOWN ? decide_mode() : m) == MODE_DIRECT;
}

/* ---- the allocator behind the shim, whatever the mode ----------------------- */

static void *base_malloc(size_t n) { return use_domain ? pool_mem_malloc(n) : fast_malloc(n); }

static void base_free(void *p)
{
    if (use_domain)
        pool_mem_free(p);
    else
        fast_free(p);
}

static void *base_calloc(size_t n, size_t m)
{
    if (!use_domain)
        return pool_calloc(n, m);
    size_t total;
    if (__builtin_mul_overflow(n, m, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return pool_mem_calloc(n, m);
}

static void *base_realloc(void *p, size_t n)
{
    if (!use_domain)
        return pool_realloc(p, n);
    if (p && n == 0) {            /* glibc: realloc(p, 0) frees p */
        pool_mem_free(p);
        return NULL;
    }
    return pool_mem_realloc(p, n);
}

static void *base_aligned(size_t align, size_t n)
{
    if (!use_domain)
        return pool_aligned_alloc(align, n);
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    pool_allocator_t a;
    pool_get_allocator(POOL_DOMAIN_MEM, &a);
    if (debug_is_hooks(&a))
        return debug_memalign(&a, align, n);
    return sys_memalign(align, n);
}

/* ---- out-of-line paths: first call, domain mode, tracing ------------------------ */

static NOINLINE void *malloc_other(size_t n)
{
    if (direct_slow())
        return fast_malloc(n);
    void *p = base_malloc(n);
    if (use_trace)
        trace_alloc(TRACE_OP_MALLOC, n, p);
    return p;
}

static NOINLINE void free_other(void *p)
{
    if (direct_slow()) {
        fast_free(p);
        return;
    }
    uint64_t t = use_trace && p ? trace_now() : 0;
    base_free(p);
    if (use_trace && p)
        trace_free(p, t);
}

/* ---- the exported functions --------------------------------------------------------- */

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

static NOINLINE void *calloc_other(size_t n, size_t m)
{
    if (direct_slow())
        return pool_calloc(n, m);
    void *p = base_calloc(n, m);
    size_t total;
    if (use_trace)
        trace_alloc(TRACE_OP_CALLOC, __builtin_mul_overflow(n, m, &total) ? SIZE_MAX : total, p);
    return p;
}

EXPORT void *calloc(size_t n, size_t m)
{
    if (direct())
        return pool_calloc(n, m);
    return calloc_other(n, m);
}

static NOINLINE void *realloc_other(void *p, size_t n)
{
    if (direct_slow())
        return pool_realloc(p, n);
    if (!use_trace)
        return base_realloc(p, n);
    /* A moved block's record takes its time inside the allocator, between
     * the new block and the old one's release (see realloc_move). */
    uint64_t t = trace_now();
    realloc_clock_t c = { trace_now_after, &t };
    void *q = use_domain ? base_realloc(p, n) : pool_realloc_clocked(p, n, &c);
    trace_realloc(p, n, q, t);
    return q;
}

EXPORT void *realloc(void *p, size_t n)
{
    if (direct())
        return pool_realloc(p, n);
    return realloc_other(p, n);
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

static NOINLINE void *aligned_other(size_t align, size_t n)
{
    if (direct_slow())
        return pool_aligned_alloc(align, n);
    void *p = base_aligned(align, n);
    if (use_trace)
        trace_aligned(align, n, p);
    return p;
}

static void *aligned(size_t align, size_t n)
{
    if (direct())
        return pool_aligned_alloc(align, n);
    return aligned_other(align, n);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    return posix_memalign_via(out, align, n, aligned);
}

EXPORT void *aligned_alloc(size_t align, size_t n) { return aligned(align, n); }

EXPORT void *memalign(size_t align, size_t n)
{
    /* glibc rounds a non-power-of-two alignment up instead of failing, and
     * fails with EINVAL above the largest power of two */
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
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
    if (direct() || direct_slow() || !use_domain)
        return pool_usable_size(p);
    pool_allocator_t a;
    pool_get_allocator(POOL_DOMAIN_MEM, &a);
    if (debug_is_hooks(&a))
        return debug_block_size(p);
    return sys_usable_size(p);
}

/* malloc_trim: give back what we can (this thread's cached blocks, abandoned
 * heaps, every empty pool's pages), then let glibc trim its own heap, which
 * holds the large blocks. */
EXPORT int malloc_trim(size_t pad)
{
    size_t ours = pool_trim();
    int (*next)(size_t) = (int (*)(size_t))dlsym(RTLD_NEXT, "malloc_trim");
    int theirs = next ? next(pad) : 0;
    return ours > 0 || theirs;
}

/* ---- process start and end ------------------------------------------------------------- */

__attribute__((constructor)) static void shim_init(void)
{
    direct_slow();        /* decide the mode now if nothing allocated yet */
    export_start();       /* POOLMALLOC_EXPORT: needs a thread, so not earlier */
}

__attribute__((destructor)) static void shim_fini(void)
{
    export_stop();
    trace_stop();
}
