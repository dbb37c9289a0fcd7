/* The harness's helpers: size mixes, content-check failures, harness memory,
 * clocks, RSS and the result line. */
#include "balloc.h"
#include "bench.h"
#include "ring.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

bench_opts_t bench_opts = { .scale = 1.0, .idle_ms = 1000 };
_Thread_local uint64_t bench_checks;
static _Atomic uint64_t checks_total;

uint64_t scaled(uint64_t n, uint64_t floor)
{
    uint64_t v = (uint64_t)((double)n * bench_opts.scale);
    return v < floor ? floor : v;
}

void checks_flush(void)
{
    atomic_fetch_add(&checks_total, bench_checks);
    bench_checks = 0;
}

/* Weights in percent of each size band; sizes are uniform inside a band. */
static const struct { uint32_t lo, hi, pct; } python_bands[] = {
    { 16, 32, 35 }, { 33, 48, 25 }, { 49, 64, 20 },
    { 65, 128, 12 }, { 129, 256, 6 }, { 257, 512, 2 },
};

void size_mix_python(size_mix_t *m)
{
    rng_t r = { 0x5eed };
    size_t at = 0;
    for (size_t b = 0; b < sizeof python_bands / sizeof python_bands[0]; b++) {
        size_t n = SIZE_TABLE_LEN * python_bands[b].pct / 100;
        uint32_t span = python_bands[b].hi - python_bands[b].lo + 1;
        for (size_t i = 0; i < n && at < SIZE_TABLE_LEN; i++)
            m->size[at++] = python_bands[b].lo + rng_below(&r, span);
    }
    while (at < SIZE_TABLE_LEN)     /* rounding leftovers: the commonest band */
        m->size[at++] = 16 + rng_below(&r, 17);
    for (size_t i = SIZE_TABLE_LEN - 1; i > 0; i--) {   /* shuffle */
        size_t j = rng_below(&r, (uint32_t)i + 1);
        uint32_t t = m->size[i]; m->size[i] = m->size[j]; m->size[j] = t;
    }
}

void size_mix_uniform(size_mix_t *m, uint32_t lo, uint32_t hi)
{
    rng_t r = { 0xf00d + lo };
    for (size_t i = 0; i < SIZE_TABLE_LEN; i++)
        m->size[i] = lo + rng_below(&r, hi - lo + 1);
}

void size_mix_log(size_mix_t *m, uint32_t lo, uint32_t hi)
{
    unsigned bands = 0;
    while (bands < 31 && ((uint64_t)lo << bands) <= hi)
        bands++;
    rng_t r = { 0x10c + lo };
    for (size_t i = 0; i < SIZE_TABLE_LEN; i++) {
        uint64_t from = (uint64_t)lo << rng_below(&r, bands), to = 2 * from - 1;
        if (to > hi)
            to = hi;
        m->size[i] = (uint32_t)(from + rng_below(&r, (uint32_t)(to - from + 1)));
    }
}

void pattern_mismatch(const void *p, uint64_t index, size_t size, size_t off)
{
    fprintf(stderr, "\nbench: CONTENT MISMATCH (%s): block #%" PRIu64 " at %p, %zu bytes,"
            " near offset %zu: the allocator handed out overlapping or corrupted memory\n",
            BALLOC_KIND, index, p, size, off);
    abort();
}

void oom(size_t size)
{
    fprintf(stderr, "bench: allocation of %zu bytes failed\n", size);
    abort();
}

void spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
    int e = pthread_create(t, NULL, fn, arg);
    if (e) {
        fprintf(stderr, "bench: pthread_create: %s\n", strerror(e));
        abort();
    }
}

void run_threads(unsigned n, void *(*fn)(void *), void *args, size_t arg_size)
{
    pthread_t t[n];
    for (unsigned i = 0; i < n; i++)
        spawn(&t[i], fn, (char *)args + i * arg_size);
    for (unsigned i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

void ring_wait(unsigned *spins)
{
    if (++*spins < 200)
        __builtin_ia32_pause();
    else
        sched_yield();
}

void *harness_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        oom(bytes);
    return p;
}

void harness_free(void *p, size_t bytes) { munmap(p, bytes); }

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* A "Key:   123 kB" line of /proc/self/status, read with open/read so that
 * measuring does not allocate through the allocator under test. */
static uint64_t status_kb(const char *key)
{
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    size_t klen = strlen(key);
    for (char *line = buf; line; line = strchr(line, '\n')) {
        line += *line == '\n';
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            return strtoull(line + klen + 1, NULL, 10);
    }
    return 0;
}

uint64_t rss_kb(void) { return status_kb("VmRSS"); }
uint64_t rss_peak_kb(void) { return status_kb("VmHWM"); }

void report(const char *workload, const char *variant, uint64_t ns, uint64_t ops,
            uint64_t rss_start, const char *extra)
{
    checks_flush();
    printf("RESULT workload=%s kind=%s variant=%s ns=%" PRIu64 " ops=%" PRIu64
           " checks=%" PRIu64 " rss_start_kb=%" PRIu64 " rss_peak_kb=%" PRIu64
           " rss_final_kb=%" PRIu64 "%s%s\n",
           workload, BALLOC_KIND, variant, ns, ops, atomic_load(&checks_total), rss_start,
           rss_peak_kb(), rss_kb(), *extra ? " " : "", extra);
    fflush(stdout);
}
