/* The allocator under test, chosen at compile time. The same workload
 * sources are built three times:
 *
 *   (default)        malloc/free/realloc: glibc, or whatever LD_PRELOAD
 *                    puts in front of it (jemalloc, mimalloc, tcmalloc,
 *                    build/libpoolmalloc.so)
 *   BENCH_POOL       pool_malloc/pool_free/pool_realloc, linked statically
 *   BENCH_PYMALLOC   PyObject_Malloc/Free/Realloc of an embedded CPython,
 *                    with the GIL held (single-threaded workloads only)
 *
 * This header comes first in every bench source: Python.h insists on
 * being included before the system headers. */
#ifndef BENCH_BALLOC_H
#define BENCH_BALLOC_H

#if defined(BENCH_PYMALLOC)
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define BALLOC_KIND "pymalloc"
#define BALLOC_THREADS 0
#define b_malloc(n)     PyObject_Malloc(n)
#define b_free(p)       PyObject_Free(p)
#define b_realloc(p, n) PyObject_Realloc(p, n)
/* Py_InitializeEx leaves the calling thread holding the GIL, which is all
 * PyObject_Malloc asks for. */
static inline void balloc_init(void) { Py_InitializeEx(0); }

#elif defined(BENCH_POOL)
#include "poolalloc.h"
#define BALLOC_KIND "pool"
#define BALLOC_THREADS 1
#define b_malloc(n)     pool_malloc(n)
#define b_free(p)       pool_free(p)
#define b_realloc(p, n) pool_realloc(p, n)
static inline void balloc_init(void) { }

#else
#include <stdlib.h>
#define BALLOC_KIND "malloc"
#define BALLOC_THREADS 1
#define b_malloc(n)     malloc(n)
#define b_free(p)       free(p)
#define b_realloc(p, n) realloc(p, n)
static inline void balloc_init(void) { }
#endif

#endif /* BENCH_BALLOC_H */
