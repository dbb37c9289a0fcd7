/*
 * What CPython reports about its allocator, from ours when the pool
 * allocator serves the mem and obj domains: sys._debugmallocstats() (our
 * report is laid out like pymalloc's) and sys.getallocatedblocks(). Without
 * this, both would describe pymalloc, which holds nothing here.
 *
 * The interpreter's own calls (sysmodule.c) are redirected to these with
 * the linker's --wrap (launcher.mk); the __real_ functions are CPython's,
 * used when POOLMALLOC chose the system allocator. Extension modules that
 * call the exported symbols still reach CPython's.
 */
#include "allocators.h"

#include <poolalloc.h>
#include <stdio.h>

int __real__PyObject_DebugMallocStats(FILE *out);
int __wrap__PyObject_DebugMallocStats(FILE *out);
Py_ssize_t __real__Py_GetAllocatedBlocks(void);
Py_ssize_t __wrap__Py_GetAllocatedBlocks(void);

/* Called with the GIL held; returns 1 when it printed something, as
 * CPython's does. */
int __wrap__PyObject_DebugMallocStats(FILE *out)
{
    if (!allocators_pool_in_use())
        return __real__PyObject_DebugMallocStats(out);
    fflush(out);   /* our report is written to the descriptor directly */
    pool_stats_print(fileno(out));
    return 1;
}

/* Blocks handed out and not yet freed: the pool's and the large ones. */
Py_ssize_t __wrap__Py_GetAllocatedBlocks(void)
{
    if (!allocators_pool_in_use())
        return __real__Py_GetAllocatedBlocks();
    pool_stats_t st;
    pool_stats_get(&st);
    uint64_t n = st.large_allocations;
    for (int c = 0; c < POOL_NUM_CLASSES; c++)
        n += st.classes[c].blocks_allocated;
    return (Py_ssize_t)n;
}
