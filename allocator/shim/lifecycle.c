/*
 * Where a process ends without running destructors: exec (a new image) and
 * _exit (used by shells and by children after fork). Records still buffered
 * by the trace writer would be lost, and an exported statistics segment
 * left behind, so write and remove them first. Without tracing or export
 * these are straight pass-throughs. (A crash still loses the unwritten
 * tail; the file stays well-formed.)
 */
#define _GNU_SOURCE
#include "export_writer.h"
#include "trace_writer.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

typedef int (*execv_fn)(const char *, char *const[]);
typedef int (*execvpe_fn)(const char *, char *const[], char *const[]);

/* Before an exec: write the trace, remove the segment. Returns whether
 * tracing was on, for exec_failed. */
static bool exec_prepare(void)
{
    bool on = trace_active();
    if (on)
        trace_suspend();
    export_suspend();
    return on;
}

static void exec_failed(bool tracing)
{
    int saved = errno;
    if (tracing)
        trace_resume();
    export_resume();
    errno = saved;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    bool on = exec_prepare();
    long r = syscall(SYS_execve, path, argv, envp);
    exec_failed(on);
    return (int)r;
}

/* The path-searching variants: glibc's own, found with RTLD_NEXT (we are not
 * inside malloc here, so dlsym may allocate). */
static int call_next(const char *name, const char *file, char *const argv[],
                     char *const envp[])
{
    bool on = exec_prepare();
    void *fn = dlsym(RTLD_NEXT, name);
    int r;
    if (!fn) {
        errno = ENOSYS;
        r = -1;
    } else if (envp) {
        r = ((execvpe_fn)fn)(file, argv, envp);
    } else {
        r = ((execv_fn)fn)(file, argv);
    }
    exec_failed(on);
    return r;
}

EXPORT int execv(const char *path, char *const argv[]) { return call_next("execv", path, argv, NULL); }
EXPORT int execvp(const char *file, char *const argv[]) { return call_next("execvp", file, argv, NULL); }
EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    return call_next("execvpe", file, argv, envp);
}

static __attribute__((noreturn)) void exit_now(int status)
{
    export_stop();
    trace_stop();
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}

EXPORT void _exit(int status) { exit_now(status); }
EXPORT void _Exit(int status) { exit_now(status); }
