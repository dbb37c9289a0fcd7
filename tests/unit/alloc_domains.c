/* Domains (PEP 445): reading and replacing a domain's allocator (a tracer
 * that wraps it and counts calls), EINVAL cases, named configurations, and
 * the domain semantics (malloc(0) and realloc(p, 0) give blocks, sizes
 * above PTRDIFF_MAX fail). */
#include "pattern.h"
#include "poolalloc.h"
#include "san_options.h"
#include "tap.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    pool_allocator_t inner;
    unsigned malloc, calloc, realloc, free;
    size_t last_size;
} tracer_t;

static void *t_malloc(void *ctx, size_t n)
{
    tracer_t *t = ctx;
    t->malloc++;
    t->last_size = n;
    return t->inner.malloc(t->inner.ctx, n);
}
static void *t_calloc(void *ctx, size_t n, size_t m)
{
    tracer_t *t = ctx;
    t->calloc++;
    return t->inner.calloc(t->inner.ctx, n, m);
}
static void *t_realloc(void *ctx, void *p, size_t n)
{
    tracer_t *t = ctx;
    t->realloc++;
    return t->inner.realloc(t->inner.ctx, p, n);
}
static void t_free(void *ctx, void *p)
{
    tracer_t *t = ctx;
    t->free++;
    t->inner.free(t->inner.ctx, p);
}

static int install_tracer(pool_domain_t d, tracer_t *t)
{
    memset(t, 0, sizeof *t);
    pool_get_allocator(d, &t->inner);
    pool_allocator_t a = { t, t_malloc, t_calloc, t_realloc, t_free };
    return pool_set_allocator(d, &a);
}

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void (*free_fn)(void *);
static const struct {
    const char *name;
    pool_domain_t d;
    malloc_fn m;
    calloc_fn c;
    realloc_fn r;
    free_fn f;
} dom[3] = {
    { "raw", POOL_DOMAIN_RAW, pool_raw_malloc, pool_raw_calloc, pool_raw_realloc, pool_raw_free },
    { "mem", POOL_DOMAIN_MEM, pool_mem_malloc, pool_mem_calloc, pool_mem_realloc, pool_mem_free },
    { "obj", POOL_DOMAIN_OBJ, pool_obj_malloc, pool_obj_calloc, pool_obj_realloc, pool_obj_free },
};

static void test_tracer(void)
{
    for (int i = 0; i < 3; i++) {
        pool_allocator_t orig, now;
        pool_get_allocator(dom[i].d, &orig);
        tracer_t t;
        OK(install_tracer(dom[i].d, &t) == 0, "%s: pool_set_allocator(tracer) = 0", dom[i].name);
        pool_get_allocator(dom[i].d, &now);
        OK(now.ctx == &t && now.malloc == t_malloc && now.calloc == t_calloc &&
           now.realloc == t_realloc && now.free == t_free,
           "%s: pool_get_allocator returns the tracer", dom[i].name);
        OK(strcmp(pool_allocators_name(), "custom") == 0, "the configuration is now 'custom'");

        char *p = dom[i].m(100);
        pat_fill(p, 100);
        uint64_t seed = pat_seed(p, 100);
        char *q = dom[i].c(3, 7);
        p = dom[i].r(p, 1000);
        int kept = pat_check_seed(p, 100, seed) && q && all_zero(q, 21);
        dom[i].f(p);
        dom[i].f(q);
        OK(t.malloc == 1 && t.calloc == 1 && t.realloc == 1 && t.free == 2 && t.last_size == 100,
           "%s: the tracer saw 1 malloc(100), 1 calloc, 1 realloc, 2 frees", dom[i].name);
        OK(kept, "%s: the wrapped allocator still works", dom[i].name);

        OK(pool_set_allocator(dom[i].d, &orig) == 0, "%s: the original restored", dom[i].name);
        dom[i].f(dom[i].m(10));
        OK(t.malloc == 1 && t.free == 2, "%s: the tracer no longer sees calls", dom[i].name);
    }
    /* The other domains are left alone. */
    tracer_t t;
    pool_allocator_t orig;
    pool_get_allocator(POOL_DOMAIN_OBJ, &orig);
    install_tracer(POOL_DOMAIN_OBJ, &t);
    pool_mem_free(pool_mem_malloc(10));
    pool_raw_free(pool_raw_malloc(10));
    OK(t.malloc == 0 && t.free == 0, "a tracer on obj sees no mem or raw calls");
    pool_set_allocator(POOL_DOMAIN_OBJ, &orig);
}

/* The debug hooks wrap whatever a domain has, a tracer included: the
 * tracer then sees the request plus the guard bytes. */
static void test_hooks_wrap_tracer(void)
{
    pool_setup_allocators("pymalloc");
    tracer_t t;
    install_tracer(POOL_DOMAIN_MEM, &t);
    pool_setup_debug_hooks();
    pool_allocator_t once, twice;
    pool_get_allocator(POOL_DOMAIN_MEM, &once);
    pool_setup_debug_hooks();
    pool_get_allocator(POOL_DOMAIN_MEM, &twice);
    OK(memcmp(&once, &twice, sizeof once) == 0 && once.ctx != &t,
       "pool_setup_debug_hooks wraps the tracer once (idempotent)");
    unsigned char *p = pool_mem_malloc(40);
    OK(t.malloc == 1 && t.last_size > 40,
       "the tracer under the hooks sees malloc(40 + guards = %zu)",
       t.last_size);
    OK(p[0] == 0xCD && p[39] == 0xCD, "hooked blocks start as 0xCD");
    pool_mem_free(p);
    pool_setup_allocators("pymalloc");
}

static void test_einval(void)
{
    pool_allocator_t a, orig;
    pool_get_allocator(POOL_DOMAIN_MEM, &orig);
    errno = 0;
    OK(pool_get_allocator((pool_domain_t)3, &a) == -1 && errno == EINVAL,
       "pool_get_allocator(domain 3): -1 EINVAL");
    errno = 0;
    OK(pool_get_allocator((pool_domain_t)-1, &a) == -1 && errno == EINVAL,
       "pool_get_allocator(domain -1): -1 EINVAL");
    errno = 0;
    OK(pool_get_allocator(POOL_DOMAIN_MEM, NULL) == -1 && errno == EINVAL,
       "pool_get_allocator(mem, NULL): -1 EINVAL");
    errno = 0;
    OK(pool_set_allocator((pool_domain_t)3, &orig) == -1 && errno == EINVAL,
       "pool_set_allocator(domain 3): -1 EINVAL");
    errno = 0;
    OK(pool_set_allocator(POOL_DOMAIN_MEM, NULL) == -1 && errno == EINVAL,
       "pool_set_allocator(mem, NULL): -1 EINVAL");
    for (int f = 0; f < 4; f++) {
        a = orig;
        if (f == 0) a.malloc = NULL;
        if (f == 1) a.calloc = NULL;
        if (f == 2) a.realloc = NULL;
        if (f == 3) a.free = NULL;
        errno = 0;
        OK(pool_set_allocator(POOL_DOMAIN_OBJ, &a) == -1 && errno == EINVAL,
           "pool_set_allocator with a NULL %s: -1 EINVAL", (const char *[]){ "malloc", "calloc",
           "realloc", "free" }[f]);
    }
    pool_allocator_t now;
    pool_get_allocator(POOL_DOMAIN_OBJ, &now);
    OK(now.malloc != NULL && now.free != NULL, "rejected structs were not installed");
}

static void test_named(void)
{
    static const struct { const char *name; int pooled; } names[] = {
        { "malloc", 0 }, { "pymalloc", 1 }, { "malloc_debug", 0 }, { "debug", 1 },
        { "pymalloc_debug", 1 },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int rc = pool_setup_allocators(names[i].name);
        void *m = pool_mem_malloc(32), *o = pool_obj_malloc(32), *r = pool_raw_malloc(32);
        OK(rc == 0 && strcmp(pool_allocators_name(), names[i].name) == 0,
           "pool_setup_allocators(\"%s\") = 0, the name reads back", names[i].name);
        OK(pool_owns(m) == names[i].pooled && pool_owns(o) == names[i].pooled && !pool_owns(r),
           "%s: mem and obj %s the pools, raw is the system's", names[i].name,
           names[i].pooled ? "use" : "bypass");
        pool_mem_free(m);
        pool_obj_free(o);
        pool_raw_free(r);
    }
    pool_setup_allocators("malloc");
    errno = 0;
    OK(pool_setup_allocators("tcmalloc") == -1 && errno == EINVAL,
       "pool_setup_allocators(\"tcmalloc\"): -1 EINVAL");
    OK(strcmp(pool_allocators_name(), "malloc") == 0, "an unknown name changes nothing");
    errno = 0;
    OK(pool_setup_allocators(NULL) == -1 && errno == EINVAL, "pool_setup_allocators(NULL): EINVAL");
    errno = 0;
    OK(pool_setup_allocators("") == -1 && errno == EINVAL, "pool_setup_allocators(\"\"): EINVAL");
    pool_setup_allocators("pymalloc");
}

/* Domain semantics, under each configuration. */
static void test_semantics(void)
{
    const char *configs[] = { "pymalloc", "malloc", "debug" };
    for (int c = 0; c < 3; c++) {
        pool_setup_allocators(configs[c]);
        for (int i = 0; i < 3; i++) {
            void *z1 = dom[i].m(0), *z2 = dom[i].m(0);
            OK(z1 && z2 && z1 != z2, "%s/%s: malloc(0) gives distinct blocks", configs[c],
               dom[i].name);
            void *c0 = dom[i].c(0, 0);
            OK(c0 != NULL, "%s/%s: calloc(0, 0) gives a block", configs[c], dom[i].name);
            char *p = dom[i].m(50);
            pat_fill(p, 50);
            uint64_t seed = pat_seed(p, 50);
            p = dom[i].r(p, 10);
            int kept = p && pat_check_seed(p, 10, seed);
            void *r0 = dom[i].r(p, 0);
            OK(kept && r0 != NULL, "%s/%s: realloc shrinks with the bytes; realloc(p, 0) gives "
               "a block", configs[c], dom[i].name);
            void *rn = dom[i].r(NULL, 0);
            OK(rn != NULL, "%s/%s: realloc(NULL, 0) gives a block", configs[c], dom[i].name);
            errno = 0;
            void *big = dom[i].m((size_t)PTRDIFF_MAX + 1);
            int e1 = errno;
            errno = 0;
            void *bigc = dom[i].c(2, (size_t)PTRDIFF_MAX / 2 + 1);
            int e2 = errno;
            OK(!big && e1 == ENOMEM && !bigc && e2 == ENOMEM,
               "%s/%s: malloc and calloc above PTRDIFF_MAX fail with ENOMEM", configs[c],
               dom[i].name);
            void *keep = dom[i].m(20);
            pat_fill(keep, 20);
            errno = 0;
            void *bigr = dom[i].r(keep, SIZE_MAX);
            OK(!bigr && errno == ENOMEM && pat_check(keep, 20),
               "%s/%s: realloc(p, SIZE_MAX) fails, p intact", configs[c], dom[i].name);
            dom[i].f(NULL);
            void *all[] = { z1, z2, c0, r0, rn, keep };
            for (int k = 0; k < 6; k++)
                dom[i].f(all[k]);
        }
    }
    pool_setup_allocators("pymalloc");
}

int main(void)
{
    OK(strcmp(pool_allocators_name(), "pymalloc") == 0, "the default configuration is pymalloc");
    pool_allocator_t a;
    pool_get_allocator(POOL_DOMAIN_MEM, &a);
    void *p = a.malloc(a.ctx, 16);
    OK(pool_owns(p), "the default mem allocator is the pool allocator");
    a.free(a.ctx, p);
    pool_get_allocator(POOL_DOMAIN_RAW, &a);
    p = a.malloc(a.ctx, 16);
    OK(p && !pool_owns(p), "the default raw allocator is the system's");
    a.free(a.ctx, p);

    test_tracer();
    test_hooks_wrap_tracer();
    test_einval();
    test_named();
    test_semantics();
    return tap_done();
}
