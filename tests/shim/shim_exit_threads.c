/* Threads that exit one after another, then four at a time, each having
 * used libc functions that keep thread-local malloc'd buffers (strerror of
 * an unknown error), which glibc frees after the thread's TSD destructors
 * have run. Prints the pool allocator's heap counts (when preloaded) so the
 * suite can check that exited threads' heaps are reused rather than leaked,
 * and whether the statistics are consistent afterwards. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poolalloc.h"
#include "stats_check.h"

static void *body(void *arg)
{
    (void)arg;
    char *volatile s = strdup(strerror(100000 + (int)(uintptr_t)arg));
    void *volatile p = malloc(100);
    free(p);
    free(s);
    return NULL;
}

int main(void)
{
    enum { N = 50 };
    void *volatile p = malloc(16);
    free(p);
    for (int i = 0; i < N; i++) {
        pthread_t t;
        pthread_create(&t, NULL, body, (void *)(uintptr_t)i);
        pthread_join(t, NULL);
    }
    for (int i = 0; i < N; i += 4) {
        pthread_t t[4];
        for (int k = 0; k < 4; k++)
            pthread_create(&t[k], NULL, body, (void *)(uintptr_t)(i + k));
        for (int k = 0; k < 4; k++)
            pthread_join(t[k], NULL);
    }
    int (*get)(pool_stats_t *) = (int (*)(pool_stats_t *))dlsym(RTLD_DEFAULT, "pool_stats_get");
    if (!get) {
        printf("not preloaded\n");
        return 0;
    }
    pool_stats_t st;
    get(&st);
    char why[256] = "consistent";
    stats_quiescent(&st, why, sizeof why);
    printf("threads=%d heaps=%llu abandoned=%llu pools_used=%llu stats=%s\n", 2 * N,
           (unsigned long long)st.heaps, (unsigned long long)st.heaps_abandoned,
           (unsigned long long)st.pools_used, why);
    return 0;
}
