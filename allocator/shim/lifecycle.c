/*
 * Where a process ends without running destructors: exec (a new image:
 * execve and every libc variant, since glibc's call its internal execve)
 * and _exit (used by shells and by children after fork). Records still buffered
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
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

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

/* execl, execlp and execle take their arguments inline, and glibc's own
 * call execve internally, past the wrapper above: wrapped here too. */
enum { MAX_INLINE_ARGS = 4096 };

/* argv[0] = arg0, then the arguments up to the NULL; *envp (if asked) is
 * the pointer after it. Returns -1 (E2BIG) when they do not fit. */
static int inline_args(const char *arg0, va_list ap, char **argv, char ***envp)
{
    size_t n = 0;
    argv[n++] = (char *)arg0;
    while (arg0 && (argv[n] = va_arg(ap, char *)) != NULL)
        if (++n == MAX_INLINE_ARGS) {
            errno = E2BIG;
            return -1;
        }
    argv[n] = NULL;
    if (envp)
        *envp = va_arg(ap, char **);
    return 0;
}

/* Collects the inline arguments after `arg` (and envp after them, when
 * asked), then returns `call`. */
#define WITH_INLINE_ARGS(arg, envp, call)                 \
    char *argv[MAX_INLINE_ARGS + 1];                      \
    va_list ap;                                           \
    va_start(ap, arg);                                    \
    int r_ = inline_args(arg, ap, argv, envp);            \
    va_end(ap);                                           \
    return r_ ? r_ : (call)

EXPORT int execl(const char *path, const char *arg, ...)
{
    WITH_INLINE_ARGS(arg, NULL, execve(path, argv, environ));
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
    WITH_INLINE_ARGS(arg, NULL, execvp(file, argv));
}

EXPORT int execle(const char *path, const char *arg, ...)
{
    char **envp;
    WITH_INLINE_ARGS(arg, &envp, execve(path, argv, envp));
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    bool on = exec_prepare();
    long r = syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
    if (r < 0 && errno == ENOSYS) {   /* kernels before 3.19 */
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        r = syscall(SYS_execve, path, argv, envp);
    }
    exec_failed(on);
    return (int)r;
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
