/*
 * The pool allocator as one of CPython's allocator structs (PEP 445's
 * PyMemAllocatorEx, which has the layout of our pool_allocator_t).
 *
 * The launcher installs it for the mem and obj domains, so every object
 * CPython allocates goes straight to the allocator's inlined fast paths:
 * one indirect call from PyObject_Malloc, no domain table, no PLT. This
 * file includes the allocator's internals for those fast paths, and no
 * Python header (the two sets of names are kept apart).
 *
 * PEP 445 asks a domain's malloc(0) and realloc(p, 0) for a distinct
 * non-NULL block: pool_malloc(0) already gives one (from the system
 * allocator); realloc is asked for at least one byte.
 */
#include "pool_domain.h"

#include "alloc_fast.h"

static void *pd_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return fast_malloc(n);
}

static void *pd_calloc(void *ctx, size_t n, size_t m)
{
    (void)ctx;
    return pool_calloc(n, m);
}

static void *pd_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return pool_realloc(p, n ? n : 1);
}

static void pd_free(void *ctx, void *p)
{
    (void)ctx;
    fast_free(p);
}

void pool_domain_allocator(pool_allocator_t *out)
{
    *out = (pool_allocator_t){ NULL, pd_malloc, pd_calloc, pd_realloc, pd_free };
}
