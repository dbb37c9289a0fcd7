/*
 * poold_pymalloc._native: CPython's own pymalloc, read from inside the
 * interpreter and published as a statistics segment poold reads
 * (allocator/export/export_format.h, version 2, allocator PYMALLOC).
 *
 * How it reads. CPython 3.11 keeps obmalloc's state (arenas, usedpools,
 * the radix tree) in static variables no extension can reach, and has no
 * structured API for it. What it does export is _PyObject_DebugMallocStats
 * (the pymalloc part of sys._debugmallocstats()): it walks every arena and
 * pool and prints the class table, the arena counts, a byte accounting that
 * sums to arenas x arena size, and the radix tree's bytes. We hand it a
 * memory stream (open_memstream: glibc's malloc, never pymalloc, so the walk
 * does not disturb what it counts), then parse and validate the text
 * (figures_parse.c) with the GIL released. The arena map comes from a
 * wrapper around the arena allocator plus the pool headers (arena_map.h
 * says why that is safe and what it cannot see).
 *
 * The GIL. Everything that touches the interpreter's memory runs with the
 * GIL held, and nothing else does: a read holds it for the dump and the pool
 * headers of the mapped arenas only (timed: timing()); parsing, checking and
 * writing the segment run without it, under a mutex of our own. That mutex
 * is never waited for while holding the GIL and never held while waiting
 * for the GIL, so the two cannot deadlock, and a thread that dies holding
 * the GIL (interpreter shutdown) cannot leave it locked.
 *
 * Who calls it: the package (poold_pymalloc/__init__.py) runs a Python
 * daemon thread that calls publish() every interval. A Python thread rather
 * than a C thread with PyGILState: it sleeps with the GIL released like any
 * other thread, is stopped and joined by an atexit handler before the
 * interpreter finalises (a C thread calling PyGILState_Ensure during or after
 * finalisation hangs or is killed at an arbitrary point), does not exist in
 * a forked child (os.register_at_fork starts a new one there, for the
 * child's own pid), and is visible to the program like any thread it has.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>

#include "arena_map.h"
#include "figures.h"
#include "segment.h"
#include "stats_fill.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Exported by libpython 3.11 but declared only in its internal headers
 * (Include/internal/pycore_pymem.h). The report: 0 when the object
 * allocator is not pymalloc (with or without the debug hooks). */
PyAPI_FUNC(int) _PyObject_DebugMallocStats(FILE *out);
/* The name of the allocator configuration in force ("pymalloc",
 * "pymalloc_debug", "malloc", ...; NULL when a hook such as tracemalloc
 * wraps it). */
PyAPI_FUNC(const char *) _PyMem_GetCurrentAllocatorName(void);

PyMODINIT_FUNC PyInit__native(void);

static PyObject *Unavailable;           /* poold_pymalloc.Unavailable */
static pthread_mutex_t seg_lock = PTHREAD_MUTEX_INITIALIZER;
static segment_t seg = { .mode = 0600, .interval_ms = 1000 };
static struct {                         /* GIL hold per read (GIL-protected) */
    uint64_t last_ns, max_ns, total_ns, reads;
    uint64_t last_cpu_ns;               /* CPU time of the last read: a hold much
                                           longer than it was the OS preempting us */
} timing;

typedef struct {                        /* one read */
    char              *text;            /* the report (malloc'd by the stream) */
    size_t             len;
    pool_arena_info_t *map;             /* malloc'd */
    size_t             records;
    arena_map_summary_t sum;
    pymalloc_figures_t f;
    pool_stats_t       st;
    bool               map_ok;
    char               why[256];
} reading_t;

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *no_pymalloc_reason(void)
{
    const char *name = _PyMem_GetCurrentAllocatorName();
    if (name && strncmp(name, "malloc", 6) == 0)
        return "this interpreter's objects come from the C library's malloc "
               "(PYTHONMALLOC=malloc or malloc_debug): there is no pymalloc to export";
    return "this interpreter's object allocator is not pymalloc (a hook such as tracemalloc "
           "wraps it, or a custom allocator replaced it): no pymalloc figures to export";
}

static void reading_free(reading_t *r)
{
    free(r->text);
    free(r->map);
}

/* With the GIL held: the report and (with_map) the pool headers. */
static bool read_held(reading_t *r, bool with_map)
{
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    FILE *mf = open_memstream(&r->text, &r->len);
    if (!mf) {
        snprintf(r->why, sizeof r->why, "cannot open a memory stream");
        return false;
    }
    int kept = _PyObject_DebugMallocStats(mf);
    bool ok = fclose(mf) == 0;
    if (ok && kept && with_map && arena_map_active()) {
        size_t n = arena_map_count();
        if (n > EXPORT_MAX_ARENA_MAP)
            n = EXPORT_MAX_ARENA_MAP;
        r->map = malloc((n ? n : 1) * sizeof *r->map);
        if (r->map)
            r->records = arena_map_read(r->map, n, &r->sum);
        r->map_ok = r->map != NULL;
    }
    uint64_t held = clock_ns(CLOCK_MONOTONIC) - t0;
    timing.last_cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    timing.last_ns = held;
    timing.max_ns = held > timing.max_ns ? held : timing.max_ns;
    timing.total_ns += held;
    timing.reads++;
    if (!ok)
        snprintf(r->why, sizeof r->why, "out of memory writing the malloc statistics");
    else if (!kept)
        snprintf(r->why, sizeof r->why, "%s", no_pymalloc_reason());
    return ok && kept;
}

/* Without the GIL: parse, check, fill the export figures. */
static bool make_sense(reading_t *r)
{
    if (!figures_parse(r->text, r->len, &r->f, r->why, sizeof r->why) ||
        !stats_fill(&r->f, &r->st, r->why, sizeof r->why))
        return false;
    if (r->map_ok && !stats_add_map(&r->f, &r->sum, &r->st))
        r->map_ok = false;              /* never publish a map the report contradicts */
    return true;
}

/* A full read: with the GIL for as long as read_held needs, then without. */
static bool take_reading(reading_t *r, bool with_map)
{
    memset(r, 0, sizeof *r);
    if (!read_held(r, with_map))
        return false;
    bool ok;
    Py_BEGIN_ALLOW_THREADS
    ok = make_sense(r);
    Py_END_ALLOW_THREADS
    return ok;
}

static PyObject *raise_unavailable(const reading_t *r)
{
    PyErr_SetString(Unavailable, r->why);
    return NULL;
}

/* A full read, or false with Unavailable raised and nothing left to free. */
static bool read_or_raise(reading_t *r)
{
    if (take_reading(r, true))
        return true;
    reading_free(r);
    raise_unavailable(r);
    return false;
}

/* ---- Python functions ------------------------------------------------------------ */

static PyObject *py_publish(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    reading_t r;
    if (!read_or_raise(&r))
        return NULL;
    segment_update_t u = {
        .stats = &r.st, .has = r.map_ok ? EXPORT_HAS_MAP : 0,
        .metadata_bytes = r.f.radix_bytes, .map = r.map, .records = r.map_ok ? r.records : 0,
        .arenas_total = r.map_ok ? r.f.arenas_current : 0,
    };
    bool ok;
    char err[256];
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&seg_lock);
    ok = segment_publish(&seg, &u, err, sizeof err);
    pthread_mutex_unlock(&seg_lock);
    Py_END_ALLOW_THREADS
    reading_free(&r);
    if (!ok) {
        PyErr_SetString(PyExc_OSError, err);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *py_withdraw(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&seg_lock);
    segment_withdraw(&seg);
    pthread_mutex_unlock(&seg_lock);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* In a forked child, where no other thread exists yet: the lock may have
 * been held by the parent's publisher at the fork. */
static PyObject *py_forget(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    pthread_mutex_init(&seg_lock, NULL);
    segment_forget(&seg);
    Py_RETURN_NONE;
}

static PyObject *py_configure(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *names[] = { "directory", "mode", "interval_ms", NULL };
    const char *dir;
    unsigned int mode;
    unsigned long long interval;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sIK", names, &dir, &mode, &interval))
        return NULL;
    if (dir[0] != '/' || strlen(dir) >= sizeof seg.dir) {
        PyErr_Format(PyExc_ValueError, "directory must be an absolute path: %s", dir);
        return NULL;
    }
    if ((mode & ~0644u) || (mode & 0600u) != 0600u) {
        PyErr_Format(PyExc_ValueError, "mode %#o: expected a mode within 0644, readable and "
                     "writable by the owner", mode);
        return NULL;
    }
    if (interval < 10 || interval > 3600000) {
        PyErr_Format(PyExc_ValueError, "interval %llu ms: expected 10..3600000", interval);
        return NULL;
    }
    char version[32];
    const char *name = _PyMem_GetCurrentAllocatorName();
    snprintf(version, sizeof version, "%d.%d.%d%s", (int)(Py_Version >> 24),
             (int)((Py_Version >> 16) & 0xff), (int)((Py_Version >> 8) & 0xff),
             name && strcmp(name, "pymalloc_debug") == 0 ? " debug" : "");
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&seg_lock);
    segment_withdraw(&seg);             /* settings change: a new file */
    snprintf(seg.dir, sizeof seg.dir, "%s", dir);
    seg.mode = (mode_t)mode;
    seg.interval_ms = interval;
    memcpy(seg.allocator_version, version, sizeof version);
    pthread_mutex_unlock(&seg_lock);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *class_table(const pymalloc_figures_t *f)
{
    PyObject *list = PyList_New(0);
    for (unsigned c = 0; list && c < f->num_classes; c++) {
        if (!f->pools[c])
            continue;
        PyObject *row = Py_BuildValue("(IIKKK)", c, (c + 1) * f->alignment,
                                      (unsigned long long)f->pools[c],
                                      (unsigned long long)f->blocks_used[c],
                                      (unsigned long long)f->blocks_avail[c]);
        if (!row || PyList_Append(list, row) != 0)
            Py_CLEAR(list);
        Py_XDECREF(row);
    }
    return list;
}

/* A reading's figures as a dict (the same figures publish() exports). */
static PyObject *figures_dict(const reading_t *r)
{
    const pymalloc_figures_t *f = &r->f;
    PyObject *classes = class_table(f);
    if (!classes)
        return NULL;
    return Py_BuildValue(
        "{sIsIsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsNsKsKsO}",
        "small_threshold", f->small_threshold, "num_classes", f->num_classes,
        "arena_size", (unsigned long long)f->arena_size,
        "pool_size", (unsigned long long)f->pool_size,
        "pool_header_size", (unsigned long long)f->pool_header_size,
        "arenas_allocated_total", (unsigned long long)f->arenas_total,
        "arenas_reclaimed", (unsigned long long)f->arenas_reclaimed,
        "arenas_highwater", (unsigned long long)f->arenas_highwater,
        "arenas_current", (unsigned long long)f->arenas_current,
        "unused_pools", (unsigned long long)f->unused_pools,
        "allocated_bytes", (unsigned long long)f->allocated,
        "available_bytes", (unsigned long long)f->available,
        "unused_pool_bytes", (unsigned long long)f->unused,
        "pool_header_bytes", (unsigned long long)f->headers,
        "quantization_bytes", (unsigned long long)f->quantization,
        "alignment_bytes", (unsigned long long)f->alignment_lost,
        "radix_tree_bytes", (unsigned long long)f->radix_bytes,
        "untouched_pools", (unsigned long long)r->st.pools_untouched,
        "empty_pools", (unsigned long long)r->st.pools_empty,
        "classes", classes,
        "map_arenas", (unsigned long long)(r->map_ok ? r->records : 0),
        "gil_hold_ns", (unsigned long long)timing.last_ns,
        "map", r->map_ok ? Py_True : Py_False);
}

static PyObject *py_snapshot(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    reading_t r;
    if (!read_or_raise(&r))
        return NULL;
    PyObject *d = figures_dict(&r);
    reading_free(&r);
    return d;
}

/* The checks on a report given as text (what the publisher would refuse). */
static PyObject *py_parse(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_ssize_t len;
    const char *text = PyUnicode_AsUTF8AndSize(arg, &len);
    if (!text)
        return NULL;
    static reading_t r;                 /* big; the GIL serialises this */
    memset(&r, 0, sizeof r);
    if (!figures_parse(text, (size_t)len, &r.f, r.why, sizeof r.why) ||
        !stats_fill(&r.f, &r.st, r.why, sizeof r.why))
        return raise_unavailable(&r);
    return figures_dict(&r);
}

static PyObject *py_allocator(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    const char *name = _PyMem_GetCurrentAllocatorName();
    if (!name)
        Py_RETURN_NONE;
    return PyUnicode_FromString(name);
}

static PyObject *py_track_arenas(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    return PyBool_FromLong(arena_map_install());
}

static PyObject *py_timing(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    return Py_BuildValue("{sKsKsKsKsK}", "last_ns", (unsigned long long)timing.last_ns,
                         "last_cpu_ns", (unsigned long long)timing.last_cpu_ns,
                         "max_ns", (unsigned long long)timing.max_ns,
                         "total_ns", (unsigned long long)timing.total_ns,
                         "reads", (unsigned long long)timing.reads);
}

static PyObject *py_segment_path(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    char path[sizeof seg.path] = "";
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&seg_lock);
    if (seg.hdr)
        memcpy(path, seg.path, sizeof path);
    pthread_mutex_unlock(&seg_lock);
    Py_END_ALLOW_THREADS
    if (!path[0])
        Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefault(path);
}

static PyMethodDef methods[] = {
    { "publish", py_publish, METH_NOARGS,
      "Read pymalloc now and update this process's segment (made at the first call)." },
    { "snapshot", py_snapshot, METH_NOARGS, "Read pymalloc now; the figures as a dict." },
    { "parse", py_parse, METH_O,
      "parse(report): the figures of a _PyObject_DebugMallocStats report, checked." },
    { "withdraw", py_withdraw, METH_NOARGS, "Remove this process's segment." },
    { "forget", py_forget, METH_NOARGS,
      "In a forked child: drop the parent's segment without removing its file." },
    { "configure", (PyCFunction)(void (*)(void))py_configure, METH_VARARGS | METH_KEYWORDS,
      "configure(directory, mode, interval_ms): where and how the segment is written." },
    { "allocator", py_allocator, METH_NOARGS,
      "The allocator configuration in force (None when a hook wraps it)." },
    { "track_arenas", py_track_arenas, METH_NOARGS,
      "Wrap the arena allocator to learn arena addresses (for the arena map)." },
    { "timing", py_timing, METH_NOARGS, "How long reads held the GIL." },
    { "segment_path", py_segment_path, METH_NOARGS, "The segment's file, or None." },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "poold_pymalloc._native",
    "CPython's pymalloc figures, published for poold (see the package).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
    /* Same ABI tag is not enough: the layouts read here are 3.11's. */
    if ((Py_Version >> 16) != (PY_VERSION_HEX >> 16)) {
        PyErr_Format(PyExc_ImportError,
                     "poold_pymalloc was built for CPython %d.%d, this is %d.%d",
                     PY_MAJOR_VERSION, PY_MINOR_VERSION, (int)(Py_Version >> 24),
                     (int)((Py_Version >> 16) & 0xff));
        return NULL;
    }
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return NULL;
    Unavailable = PyErr_NewExceptionWithDoc(
        "poold_pymalloc.Unavailable",
        "There are no pymalloc figures to export (no pymalloc, or a report not understood).",
        PyExc_RuntimeError, NULL);
    if (!Unavailable || PyModule_AddObjectRef(m, "Unavailable", Unavailable) != 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
