/*
 * Which allocators CPython's three domains get (POOLMALLOC), in two steps
 * around Py_PreInitialize, the only window in which PEP 445 allows a domain
 * to be replaced outright (nothing has been allocated from mem or obj yet;
 * pre-initialisation uses only the raw domain).
 *
 *   POOLMALLOC            raw             mem, obj
 *   pymalloc (default)    system malloc   the pool allocator
 *   malloc                system malloc   system malloc (CPython's own)
 *   debug/pymalloc_debug  CPython's debug hooks over the above
 *   malloc_debug          CPython's debug hooks over system malloc
 *
 * The name is parsed by the allocator library (one parser, one error
 * message for a bad value). The debug variants are CPython's own hooks
 * (PyMem_SetupDebugHooks), so Python's reports (and its check that the GIL
 * is held in mem and obj calls) are what python3 -X dev would show. With
 * the pool allocator, Python's own request for the hooks (-X dev,
 * PYTHONDEVMODE, PYTHONMALLOC=..._debug) still adds them, as in python3;
 * PYTHONMALLOC's choice of base allocator is POOLMALLOC's here.
 */
#include "allocators.h"

#include "pool_domain.h"

#include <stdbool.h>
#include <string.h>

/* CPython's name for the allocators in force; exported by libpython 3.11
 * (what sys._debugmallocstats and the test suite use), not in its headers. */
extern const char *_PyMem_GetCurrentAllocatorName(void);

static bool want_pool, want_hooks;

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

void allocators_preconfigure(PyPreConfig *pre)
{
    const char *name = pool_allocators_name();
    want_pool = strcmp(name, "malloc") != 0 && strcmp(name, "malloc_debug") != 0;
    want_hooks = ends_with(name, "debug");
    if (!want_pool)
        pre->allocator = want_hooks ? PYMEM_ALLOCATOR_MALLOC_DEBUG : PYMEM_ALLOCATOR_MALLOC;
}

bool allocators_pool_in_use(void) { return want_pool; }

void allocators_install(void)
{
    if (!want_pool)
        return;
    const char *cpython = _PyMem_GetCurrentAllocatorName();
    if (cpython && ends_with(cpython, "_debug"))
        want_hooks = true;
    /* Raw keeps what pre-initialisation set up (the system allocator, or
     * the hooks over it): blocks it handed out may still be live. */
    pool_allocator_t pool;
    pool_domain_allocator(&pool);
    PyMemAllocatorEx ours;
    memcpy(&ours, &pool, sizeof ours);
    PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &ours);
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &ours);
    if (want_hooks)
        PyMem_SetupDebugHooks();
}
