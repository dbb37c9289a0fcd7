/*
 * poolpython: the system's CPython on the pool allocator.
 *
 * What Py_BytesMain does (the whole of /usr/bin/python3's main), split
 * where PEP 587 lets an embedder step in: pre-initialise from the command
 * line (-E, -I, -X utf8/dev, PYTHONMALLOC and the locale are read there),
 * give the mem and obj domains our allocator, then initialise from the
 * same command line and run it (Py_RunMain: script, -m, -c, stdin, the
 * prompt; SystemExit's status; a KeyboardInterrupt ends the process by
 * SIGINT, as python3 does).
 *
 * Paths. sys.executable is this program (found from argv[0] or PATH, as
 * python3 finds itself), so subprocesses, multiprocessing's spawn and
 * forkserver children and venvs made from it run on the pool allocator
 * too, and a venv holding a link to it (venv/bin/poolpython) is found
 * through its pyvenv.cfg, as for python3. The prefix, which python3 finds by
 * looking for its standard library above /usr/bin, is libpython's own
 * installation prefix: from a build tree the search would stop at the
 * first lib/python3.X above it (e.g. "/" on a merged-/usr system) and
 * sys.path and site-packages would differ from python3's. PYTHONHOME
 * still overrides it.
 */
#include "allocators.h"
#include "export_writer.h"

#include <poolalloc.h>

#include <stdlib.h>

#ifndef POOLPYTHON_PREFIX
#error "POOLPYTHON_PREFIX: libpython's installation prefix (python3-config --prefix)"
#endif

static void exit_if_failed(PyStatus st, PyConfig *config)
{
    if (!PyStatus_Exception(st))
        return;
    if (config)
        PyConfig_Clear(config);
    Py_ExitStatusException(st);   /* prints the error, or exits with -h/-V's status */
}

static void preinitialize(int argc, char **argv)
{
    PyPreConfig pre;
    PyPreConfig_InitPythonConfig(&pre);
    allocators_preconfigure(&pre);
    exit_if_failed(Py_PreInitializeFromBytesArgs(&pre, argc, argv), NULL);
}

static void initialize(int argc, char **argv)
{
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    exit_if_failed(PyConfig_SetBytesArgv(&config, argc, argv), &config);
    exit_if_failed(PyConfig_SetBytesString(&config, &config.prefix, POOLPYTHON_PREFIX), &config);
    exit_if_failed(PyConfig_SetBytesString(&config, &config.exec_prefix, POOLPYTHON_EXEC_PREFIX),
                   &config);
    exit_if_failed(Py_InitializeFromConfig(&config), &config);
    PyConfig_Clear(&config);
}

/* Empty pools go back to the kernel after 10 ms instead of the library's
 * 100 ms: an interpreter often frees a structure and then runs a while
 * without allocating enough to reach the purge on the slow path, and
 * pymalloc gives its empty arenas back at once (POOLMALLOC_PURGE_DELAY
 * still decides when set). */
enum { PURGE_DELAY_MS = 10 };

int main(int argc, char **argv)
{
    const char *delay = getenv("POOLMALLOC_PURGE_DELAY");
    if (!delay || !*delay)
        pool_set_purge_delay_ms(PURGE_DELAY_MS);
    preinitialize(argc, argv);
    allocators_install();
    initialize(argc, argv);
    /* POOLMALLOC_EXPORT: publish our statistics for poold, as the preload
     * shim does; atexit also covers exit() called from inside Python. */
    export_start();
    atexit(export_stop);
    return Py_RunMain();
}
