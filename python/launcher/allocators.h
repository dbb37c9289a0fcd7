/* POOLMALLOC for CPython's domains (allocators.c). */
#ifndef POOLPYTHON_ALLOCATORS_H
#define POOLPYTHON_ALLOCATORS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>

/* Before Py_PreInitialize: reads POOLMALLOC; the system-allocator variants
 * are CPython's own (set in *pre). */
void allocators_preconfigure(PyPreConfig *pre);
/* After Py_PreInitialize, before the interpreter is initialised: the pool
 * allocator for mem and obj, then the debug hooks if asked for. */
void allocators_install(void);
/* Whether the pool allocator serves mem and obj (under the hooks or not). */
bool allocators_pool_in_use(void);

#endif
