/* fork() under the preload shim: a thread keeps allocating while the main
 * thread forks; parent and children both keep allocating and freeing, and
 * the children also free blocks the parent allocated. Every child must exit
 * 0, and the output (no addresses) is the same with and without the shim. */
#include "pattern.h"

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
    void *slot[128] = { 0 };
    unsigned x = 1;
    while (!atomic_load(&stop)) {
        x = x * 1103515245u + 12345u;
        int k = (int)(x >> 16) % 128;
        size_t n = 1 + (x >> 8) % 2000;
        free(slot[k]);
        slot[k] = malloc(n);
        memset(slot[k], (int)k, n);
    }
    for (int k = 0; k < 128; k++)
        free(slot[k]);
    return NULL;
}

/* Allocates and checks a chain of blocks; returns the number of bad ones. */
static int churn(int rounds, int salt)
{
    int bad = 0;
    enum { N = 500 };
    char *p[N];
    size_t len[N];
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < N; i++) {
            len[i] = 1 + (size_t)((i * 131 + r * 17 + salt) % 1500);
            p[i] = malloc(len[i]);
            pat_fill(p[i], len[i]);
        }
        for (int i = 0; i < N; i++) {
            bad += !pat_check(p[i], len[i]);
            free(p[i]);
        }
    }
    return bad;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, background, NULL);
    enum { KIDS = 6, KEPT = 300 };
    char *kept[KEPT];
    for (int i = 0; i < KEPT; i++) {
        kept[i] = malloc(10 + (size_t)i);
        pat_fill(kept[i], 10 + (size_t)i);
    }
    int ok_kids = 0;
    for (int k = 0; k < KIDS; k++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            int bad = churn(20, k);
            for (int i = 0; i < KEPT; i++) {      /* the parent's blocks */
                bad += !pat_check(kept[i], 10 + (size_t)i);
                free(kept[i]);
            }
            char *s = strdup("child done");
            bad += strcmp(s, "child done") != 0;
            free(s);
            _exit(bad ? 1 : 0);
        }
        int bad = churn(5, 100 + k);
        int status;
        waitpid(pid, &status, 0);
        ok_kids += WIFEXITED(status) && WEXITSTATUS(status) == 0 && bad == 0;
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    int bad = 0;
    for (int i = 0; i < KEPT; i++) {
        bad += !pat_check(kept[i], 10 + (size_t)i);
        free(kept[i]);
    }
    printf("%d of %d children exited 0, parent blocks %s\n", ok_kids, KIDS,
           bad ? "DAMAGED" : "intact");
    return ok_kids != KIDS || bad;
}
