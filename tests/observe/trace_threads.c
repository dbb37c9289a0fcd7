/* A multi-threaded program to trace: worker threads allocate (malloc,
 * calloc, realloc, aligned), hand a share of their blocks to the next
 * worker to free (cross-thread frees), and are replaced by new threads
 * several times (thread churn, with glibc freeing thread-local buffers
 * after the thread's own exit handlers). Prints how many aligned
 * allocations it made (the trace must hold exactly that many) and its
 * virtual size at the end (a tracer leaking per thread would show).
 *   trace_threads [threads] [rounds] [generations]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLOTS = 256, QCAP = 1024 };

typedef struct {
    pthread_mutex_t lock;
    void *q[QCAP];
    int n;
} inbox_t;

static inbox_t *inbox;
static int nthreads, rounds;
static atomic_long aligned_made;

static void give(int to, void *p)
{
    inbox_t *b = &inbox[to];
    pthread_mutex_lock(&b->lock);
    if (b->n < QCAP) {
        b->q[b->n++] = p;
        p = NULL;
    }
    pthread_mutex_unlock(&b->lock);
    free(p);   /* inbox full: free it here */
}

static void drain(int me)
{
    inbox_t *b = &inbox[me];
    pthread_mutex_lock(&b->lock);
    while (b->n)
        free(b->q[--b->n]);
    pthread_mutex_unlock(&b->lock);
}

static void *worker(void *arg)
{
    int me = (int)(long)arg;
    unsigned x = 2654435761u * (unsigned)(me + 1);
    void *slot[SLOTS] = { 0 };
    for (int r = 0; r < rounds; r++) {
        x = x * 1103515245u + 12345u;
        int k = (int)(x >> 16) % SLOTS;
        size_t n = (x >> 8) % 16 == 0 ? 600 + (x >> 4) % 70000 : 1 + (x >> 8) % 400;
        if (slot[k] && (x & 7) == 0) {
            void *q = realloc(slot[k], n);
            if (q)
                slot[k] = q;
            continue;
        }
        if (slot[k])
            (x & 3) == 0 ? give((me + 1) % nthreads, slot[k]) : free(slot[k]);
        switch ((x >> 3) % 8) {
        case 0: slot[k] = calloc(1, n); break;
        case 1: {
            void *p = NULL;
            if (posix_memalign(&p, 64, n) == 0)
                atomic_fetch_add(&aligned_made, 1);
            slot[k] = p;
            break;
        }
        case 2:
            slot[k] = aligned_alloc(32, (n + 31) & ~(size_t)31);
            atomic_fetch_add(&aligned_made, slot[k] != NULL);
            break;
        default: slot[k] = malloc(n); break;
        }
        if (slot[k])
            memset(slot[k], me, n < 64 ? n : 64);
        if ((r & 255) == 0)
            drain(me);
    }
    for (int k = 0; k < SLOTS; k++)
        free(slot[k]);
    drain(me);
    (void)strsignal(40 + me % 8);   /* a thread-local buffer glibc frees at thread exit */
    return NULL;
}

int main(int argc, char **argv)
{
    nthreads = argc > 1 ? atoi(argv[1]) : 4;
    rounds = argc > 2 ? atoi(argv[2]) : 20000;
    int generations = argc > 3 ? atoi(argv[3]) : 5;
    if (nthreads < 2)
        nthreads = 2;
    inbox = calloc((size_t)nthreads, sizeof *inbox);
    for (int i = 0; i < nthreads; i++)
        pthread_mutex_init(&inbox[i].lock, NULL);
    for (int g = 0; g < generations; g++) {
        pthread_t *t = malloc((size_t)nthreads * sizeof *t);
        for (int i = 0; i < nthreads; i++)
            pthread_create(&t[i], NULL, worker, (void *)(long)i);
        for (int i = 0; i < nthreads; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < nthreads; i++)
            drain(i);
        free(t);
    }
    free(inbox);
    long vm_kb = -1;
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %ld", &vm_kb) == 1)
            break;
    if (f)
        fclose(f);
    printf("aligned %ld vm_kb %ld\n", atomic_load(&aligned_made), vm_kb);
    return 0;
}
