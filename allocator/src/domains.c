/*
 * Allocator domains (CPython's PEP 445 design).
 *
 * raw, mem and obj each call through an allocator struct that can be read
 * and replaced at run time, e.g. to wrap the allocator with tracing. The
 * current struct of a domain is published through an atomic pointer to an
 * immutable copy, so a domain call never sees half of an update. Replaced
 * copies are kept (a few dozen bytes per pool_set_allocator call) because
 * another thread may still be calling through them.
 *
 * POOLMALLOC chooses the start-up configuration:
 *   pymalloc        raw = system malloc, mem = obj = pool allocator (default;
 *                   in a debug build, `make debug`, pymalloc_debug is)
 *   malloc          every domain = system malloc
 *   debug           pymalloc + debug hooks (also "pymalloc_debug")
 *   malloc_debug    malloc + debug hooks
 */
#define _GNU_SOURCE
#include "domains.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the two base allocators ------------------------------------------------ */

static void *pm_malloc(void *ctx, size_t n) { (void)ctx; return pool_malloc(n); }
static void *pm_calloc(void *ctx, size_t n, size_t m) { (void)ctx; return pool_calloc(n, m); }
static void *pm_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return pool_realloc(p, n ? n : 1);   /* PEP 445: realloc(p, 0) keeps a block */
}
static void pm_free(void *ctx, void *p) { (void)ctx; pool_free(p); }

static void *sys_m(void *ctx, size_t n) { (void)ctx; return sys_malloc(n ? n : 1); }
static void *sys_c(void *ctx, size_t n, size_t m)
{
    (void)ctx;
    return (n == 0 || m == 0) ? sys_calloc(1, 1) : sys_calloc(n, m);
}
static void *sys_r(void *ctx, void *p, size_t n) { (void)ctx; return sys_realloc(p, n ? n : 1); }
static void sys_f(void *ctx, void *p) { (void)ctx; sys_free(p); }

static const pool_allocator_t alloc_pymalloc = { NULL, pm_malloc, pm_calloc, pm_realloc, pm_free };
static const pool_allocator_t alloc_system = { NULL, sys_m, sys_c, sys_r, sys_f };

/* ---- current configuration ------------------------------------------------------ */

static const pool_allocator_t *_Atomic current[POOL_NUM_DOMAINS] = {
    &alloc_system, &alloc_pymalloc, &alloc_pymalloc,
};
static pthread_mutex_t set_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *_Atomic config_name = "pymalloc";

static const pool_allocator_t *domain(pool_domain_t d)
{
    pool_ensure_init();
    return atomic_load_explicit(&current[d], memory_order_acquire);
}

int pool_get_allocator(pool_domain_t d, pool_allocator_t *out)
{
    if ((unsigned)d >= POOL_NUM_DOMAINS || !out) {
        errno = EINVAL;
        return -1;
    }
    *out = *domain(d);
    return 0;
}

/* Publish a copy of *a as domain d's allocator; caller holds set_lock. */
static int publish(pool_domain_t d, const pool_allocator_t *a)
{
    pool_allocator_t *copy = os_meta_alloc(sizeof *copy);
    if (!copy) {
        errno = ENOMEM;
        return -1;
    }
    *copy = *a;
    atomic_store_explicit(&current[d], copy, memory_order_release);
    return 0;
}

int pool_set_allocator(pool_domain_t d, const pool_allocator_t *a)
{
    if ((unsigned)d >= POOL_NUM_DOMAINS || !a || !a->malloc || !a->calloc || !a->realloc ||
        !a->free) {
        errno = EINVAL;
        return -1;
    }
    pool_ensure_init();
    pthread_mutex_lock(&set_lock);
    int r = publish(d, a);
    if (r == 0)
        atomic_store(&config_name, "custom");
    pthread_mutex_unlock(&set_lock);
    return r;
}

/* Wrap each domain whose allocator is not already the debug hooks. */
void pool_setup_debug_hooks(void)
{
    pool_ensure_init();
    pthread_mutex_lock(&set_lock);
    for (int d = 0; d < POOL_NUM_DOMAINS; d++) {
        const pool_allocator_t *cur = atomic_load(&current[d]);
        pool_allocator_t hooked;
        if (debug_wrap((pool_domain_t)d, cur, &hooked))
            publish((pool_domain_t)d, &hooked);
    }
    pthread_mutex_unlock(&set_lock);
}

static const struct {
    const char *name;
    const pool_allocator_t *mem;   /* raw is always the system allocator */
    bool debug;
} configs[] = {
    { "pymalloc", &alloc_pymalloc, false },
    { "default", &alloc_pymalloc, false },
    { "malloc", &alloc_system, false },
    { "debug", &alloc_pymalloc, true },
    { "pymalloc_debug", &alloc_pymalloc, true },
    { "malloc_debug", &alloc_system, true },
};

/* Install the named configuration with static structs only: this also runs
 * inside the first malloc, where nothing may allocate. */
static int setup_static(const char *name)
{
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        if (strcmp(name, configs[i].name) != 0)
            continue;
        atomic_store(&current[POOL_DOMAIN_RAW], &alloc_system);
        atomic_store(&current[POOL_DOMAIN_MEM], configs[i].mem);
        atomic_store(&current[POOL_DOMAIN_OBJ], configs[i].mem);
        if (configs[i].debug)
            debug_install_static(&current[0]);
        atomic_store(&config_name, configs[i].name);
        return 0;
    }
    errno = EINVAL;
    return -1;
}

int pool_setup_allocators(const char *name)
{
    if (!name) {
        errno = EINVAL;
        return -1;
    }
    pool_ensure_init();
    pthread_mutex_lock(&set_lock);
    int r = setup_static(name);
    pthread_mutex_unlock(&set_lock);
    return r;
}

const char *pool_allocators_name(void)
{
    pool_ensure_init();
    return atomic_load(&config_name);
}

const char *domains_env_name(void)
{
    const char *s = getenv("POOLMALLOC");
    return (s && *s) ? s : NULL;
}

void domains_init(void)
{
    const char *s = domains_env_name();
    if (!s) {
        if (POOL_DEBUG_DEFAULT)
            setup_static("pymalloc_debug");
        return;
    }
    if (setup_static(s) != 0)
        pool_report_error("POOLMALLOC=%s is not one of pymalloc, malloc, debug, "
                          "pymalloc_debug, malloc_debug; using pymalloc", s);
}

/* ---- domain entry points ---------------------------------------------------------- */

#define DOMAIN_API(prefix, d)                                                        \
    void *prefix##_malloc(size_t n)                                                   \
    {                                                                                  \
        if (n > (size_t)PTRDIFF_MAX) { errno = ENOMEM; return NULL; }                  \
        const pool_allocator_t *a = domain(d);                                         \
        return a->malloc(a->ctx, n);                                                   \
    }                                                                                  \
    void *prefix##_calloc(size_t n, size_t m)                                         \
    {                                                                                  \
        if (m && n > (size_t)PTRDIFF_MAX / m) { errno = ENOMEM; return NULL; }         \
        const pool_allocator_t *a = domain(d);                                         \
        return a->calloc(a->ctx, n, m);                                                \
    }                                                                                  \
    void *prefix##_realloc(void *p, size_t n)                                         \
    {                                                                                  \
        if (n > (size_t)PTRDIFF_MAX) { errno = ENOMEM; return NULL; }                  \
        const pool_allocator_t *a = domain(d);                                         \
        return a->realloc(a->ctx, p, n);                                               \
    }                                                                                  \
    void prefix##_free(void *p)                                                       \
    {                                                                                  \
        const pool_allocator_t *a = domain(d);                                         \
        a->free(a->ctx, p);                                                            \
    }

DOMAIN_API(pool_raw, POOL_DOMAIN_RAW)
DOMAIN_API(pool_mem, POOL_DOMAIN_MEM)
DOMAIN_API(pool_obj, POOL_DOMAIN_OBJ)
