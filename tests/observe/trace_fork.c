/* A forking program to trace: while a thread of the parent keeps
 * allocating, the parent forks children that each make a known number of
 * aligned allocations and end in different ways (exit, _exit, exec of
 * another program, a grandchild of their own), and the parent makes its
 * own. Every process on the shim writes its own trace file; each must be
 * well-formed and hold exactly its own aligned allocations.
 *   trace_fork EXEC-PROGRAM   (run by the child that execs, with "child")
 * Prints "pid ROLE ALIGNED" for every process.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int stop;

static void *background(void *arg)
{
    (void)arg;
    void *slot[64] = { 0 };
    unsigned x = 7;
    while (!atomic_load(&stop)) {
        x = x * 1103515245u + 12345u;
        int k = (int)(x >> 16) % 64;
        free(slot[k]);
        slot[k] = malloc(1 + (x >> 8) % 3000);
        *(volatile char *)slot[k] = 1;
    }
    for (int k = 0; k < 64; k++)
        free(slot[k]);
    return NULL;
}

static volatile unsigned char sink;

/* n aligned allocations (and as many mallocs), all freed again. The bytes
 * are used, so the compiler cannot leave the calls out. */
static void work(int n)
{
    for (int i = 0; i < n; i++) {
        unsigned char *a = aligned_alloc(64, 64 + (size_t)(i % 7) * 64);
        unsigned char *b = malloc(16 + (size_t)i % 500);
        memset(a, i, 64);
        memset(b, i, 16);
        sink = (unsigned char)(a[i % 64] + b[i % 16]);
        free(a);
        free(b);
    }
}

static void say(const char *role, int aligned)
{
    char line[64];
    int len = snprintf(line, sizeof line, "%d %s %d\n", (int)getpid(), role, aligned);
    if (write(1, line, (size_t)len) != len)
        _exit(3);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0) {   /* the exec'd image */
        work(5);
        say("exec", 5);
        return 0;
    }
    pthread_t t;
    pthread_create(&t, NULL, background, NULL);
    work(10);
    for (int c = 0; c < 4; c++) {
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid > 0)
            continue;
        work(20 + c);
        say(c == 0 ? "exit" : c == 1 ? "_exit" : c == 2 ? "before-exec" : "forker", 20 + c);
        if (c == 0)
            exit(0);
        if (c == 1)
            _exit(0);
        if (c == 2) {
            execl("/proc/self/exe", argv[0], "child", (char *)NULL);
            _exit(4);
        }
        pid_t g = fork();
        if (g == 0) {
            work(7);
            say("grandchild", 7);
            exit(0);
        }
        int st;
        waitpid(g, &st, 0);
        exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 5);
    }
    int bad = 0, st;
    for (int c = 0; c < 4; c++)
        if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad++;
    work(10);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    say("parent", 20);
    return bad;
}
