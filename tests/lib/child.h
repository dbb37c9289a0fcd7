/* Running a piece of a test in a child process, with its stdout and stderr
 * captured: for code that is meant to abort (the debug hooks) or that
 * needs a different environment (re-executing the test binary). */
#ifndef TEST_CHILD_H
#define TEST_CHILD_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    int status;          /* from waitpid */
    size_t len;
    char out[32768];     /* stdout and stderr, NUL-terminated */
} child_t;

static void child_collect(child_t *c, int fd, pid_t pid)
{
    c->len = 0;
    ssize_t n;
    while ((n = read(fd, c->out + c->len, sizeof c->out - 1 - c->len)) > 0)
        c->len += (size_t)n;
    c->out[c->len] = 0;
    close(fd);
    waitpid(pid, &c->status, 0);
}

/* fn(arg) in a forked child whose stdout and stderr go to c->out; waits
 * for it. The child exits 0 if fn returns. */
__attribute__((unused)) static void child_run(child_t *c, void (*fn)(void *), void *arg)
{
    int fds[2];
    fflush(NULL);
    if (pipe(fds) != 0)
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        setvbuf(stdout, NULL, _IONBF, 0);
        fn(arg);
        fflush(NULL);
        _exit(0);
    }
    close(fds[1]);
    child_collect(c, fds[0], pid);
}

typedef struct {
    char *const *argv;
    char *const *envp;
} exec_args_t;

static void exec_self(void *arg)
{
    const exec_args_t *x = arg;
    execve("/proc/self/exe", x->argv, x->envp);
    _exit(127);
}

/* This program again (/proc/self/exe) with argv, and with environ changed
 * by env: "NAME=VALUE" sets, "NAME" removes. */
__attribute__((unused)) static void child_exec(child_t *c, char *const argv[],
                                               const char *const env[])
{
    extern char **environ;
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    const char **e = calloc(n + 16, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        bool drop = false;
        for (size_t j = 0; env && env[j]; j++) {
            size_t l = strcspn(env[j], "=");
            drop |= strncmp(environ[i], env[j], l) == 0 && environ[i][l] == '=';
        }
        if (!drop)
            e[k++] = environ[i];
    }
    for (size_t j = 0; env && env[j] && k < n + 15; j++)
        if (strchr(env[j], '='))
            e[k++] = env[j];
    e[k] = NULL;
    exec_args_t x = { argv, (char *const *)e };
    child_run(c, exec_self, &x);
    free(e);
}

__attribute__((unused)) static bool child_exited(const child_t *c, int code)
{
    return WIFEXITED(c->status) && WEXITSTATUS(c->status) == code;
}

__attribute__((unused)) static bool child_killed(const child_t *c, int sig)
{
    return WIFSIGNALED(c->status) && WTERMSIG(c->status) == sig;
}

/* Shows what the child printed when a check on it failed. */
__attribute__((unused)) static void child_diag(const child_t *c)
{
    printf("#   child status 0x%x, output:\n", c->status);
    for (const char *s = c->out; *s;) {
        size_t l = strcspn(s, "\n");
        printf("#   | %.*s\n", (int)l, s);
        s += l + (s[l] == '\n');
    }
}

#endif
