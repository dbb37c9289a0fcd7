/*
 * A C extension whose own threads (not Python's) use the mem, obj and raw
 * domains: each takes the GIL with PyGILState_Ensure as CPython requires,
 * allocates, grows and fills blocks and objects, frees some of what
 * another thread left in a shared exchange (a cross-thread free), gives
 * the GIL back, and uses the raw domain without it.
 *
 *   memthreads.run(threads, rounds) -> (errors, checksum)
 *
 * The checksum depends only on the arguments, so runs under different
 * allocators must agree; errors counts blocks whose contents changed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <string.h>

enum { EXCHANGE = 64, BATCH = 32 };

typedef struct {
    unsigned char *block;
    size_t size;
    unsigned char fill;
} slot_t;

static slot_t exchange[EXCHANGE];   /* guarded by the GIL */

typedef struct {
    int id, rounds;
    long errors;
    unsigned long long checksum;
} worker_t;

static long check_and_free(slot_t *s)
{
    long bad = 0;
    for (size_t i = 0; i < s->size; i++)
        bad += s->block[i] != s->fill;
    PyMem_Free(s->block);
    s->block = NULL;
    return bad;
}

/* One batch with the GIL held: blocks through PyMem (grown by realloc) and
 * PyObject, a list of str and int objects, and the exchange. */
static void batch(worker_t *w, unsigned r)
{
    for (unsigned i = 0; i < BATCH; i++) {
        size_t n = 8 + (w->id * 131u + r * 17u + i * 29u) % 600;
        unsigned char *p = PyMem_Malloc(n);
        unsigned char fill = (unsigned char)(w->id * 7 + i);
        if (!p || !(p = PyMem_Realloc(p, n * 2))) {
            w->errors++;
            continue;
        }
        memset(p, fill, n * 2);
        slot_t *s = &exchange[(w->id * 13 + r * 5 + i) % EXCHANGE];
        if (s->block)   /* most likely another thread's: a cross-thread free */
            w->errors += check_and_free(s);
        *s = (slot_t){ p, n * 2, fill };

        void *o = PyObject_Calloc(1, 24 + i);
        w->errors += o == NULL;
        PyObject_Free(o);
    }
    PyObject *list = PyList_New(0);
    for (unsigned i = 0; list && i < BATCH; i++) {
        PyObject *s = PyUnicode_FromFormat("w%d-r%u-%u", w->id, r, i);
        PyObject *v = PyLong_FromUnsignedLong(r * 1000u + i);
        if (s && v && PyList_Append(list, s) == 0 && PyList_Append(list, v) == 0)
            w->checksum += (unsigned long long)PyUnicode_GetLength(s) + PyLong_AsUnsignedLong(v);
        Py_XDECREF(s);
        Py_XDECREF(v);
    }
    w->checksum += list ? (unsigned long long)PyList_GET_SIZE(list) : 0;
    Py_XDECREF(list);
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    for (int r = 0; r < w->rounds; r++) {
        PyGILState_STATE g = PyGILState_Ensure();
        batch(w, (unsigned)r);
        PyGILState_Release(g);
        /* the raw domain is thread-safe without the GIL */
        char *raw = PyMem_RawMalloc(100 + (size_t)r % 300);
        if (raw) {
            memset(raw, 'r', 100);
            w->errors += raw[99] != 'r';
        }
        PyMem_RawFree(raw);
    }
    return NULL;
}

static PyObject *run(PyObject *self, PyObject *args)
{
    (void)self;
    int n, rounds;
    if (!PyArg_ParseTuple(args, "ii", &n, &rounds))
        return NULL;
    if (n < 1 || n > 64 || rounds < 0) {
        PyErr_SetString(PyExc_ValueError, "threads must be 1..64, rounds >= 0");
        return NULL;
    }
    pthread_t t[64];
    worker_t w[64];
    int started = 0;
    Py_BEGIN_ALLOW_THREADS
    for (; started < n; started++) {
        w[started] = (worker_t){ started, rounds, 0, 0 };
        if (pthread_create(&t[started], NULL, worker, &w[started]) != 0)
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    Py_END_ALLOW_THREADS
    long errors = started == n ? 0 : 1;
    unsigned long long sum = 0;
    for (int i = 0; i < started; i++) {
        errors += w[i].errors;
        sum += w[i].checksum;
    }
    for (int i = 0; i < EXCHANGE; i++)
        if (exchange[i].block)
            errors += check_and_free(&exchange[i]);
    return Py_BuildValue("lK", errors, sum);
}

static PyMethodDef methods[] = {
    { "run", run, METH_VARARGS, "run(threads, rounds) -> (errors, checksum)" },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = { PyModuleDef_HEAD_INIT, "memthreads", NULL, -1, methods,
                                     NULL, NULL, NULL, NULL };

PyMODINIT_FUNC PyInit_memthreads(void);
PyMODINIT_FUNC PyInit_memthreads(void)
{
    return PyModule_Create(&module);
}
