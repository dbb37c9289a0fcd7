/* One benchmark binary: runs one workload once and prints its RESULT line.
 *
 *   bench-KIND WORKLOAD [SCALE [IDLE_MS]]
 *
 * KIND is fixed when the binary is built (see balloc.h). The driver
 * (bench/bench.py) starts one process per measurement, so every run starts
 * from a fresh heap and its peak RSS is its own. */
#include "balloc.h"
#include "bench.h"

#include <stdlib.h>
#include <string.h>

static const workload_t workloads[] = {
    { "churn",   0, work_churn },
    { "lifo",    0, work_lifo },
    { "lifo4k",  0, work_lifo4k },
    { "churn2t", 1, work_churn2t },
    { "xthread", 1, work_xthread },
    { "larson",  1, work_larson },
    { "rptest",  1, work_rptest },
    { "medium",  0, work_medium },
    { "large",   0, work_large },
    { "realloc", 0, work_realloc },
    { "frag",    0, work_frag },
#ifdef BENCH_POOL
    { "stats",   1, work_stats },
#else
    { "stats",   1, NULL },
#endif
};
#define NWORKLOADS (sizeof workloads / sizeof workloads[0])

/* A preloaded allocator that failed to load is only a warning from ld.so;
 * the run would silently measure glibc. Refuse instead. */
static void check_preload(void)
{
    const char *pre = getenv("LD_PRELOAD");
    if (!pre || !*pre)
        return;
    static char maps[1 << 20];
    FILE *f = fopen("/proc/self/maps", "r");
    size_t n = f ? fread(maps, 1, sizeof maps - 1, f) : 0;
    if (f)
        fclose(f);
    maps[n] = 0;
    char lib[4096];
    snprintf(lib, sizeof lib, "%s", pre);
    for (char *tok = strtok(lib, ": "); tok; tok = strtok(NULL, ": ")) {
        const char *base = strrchr(tok, '/');
        if (!strstr(maps, base ? base + 1 : tok)) {
            fprintf(stderr, "bench: LD_PRELOAD=%s is not mapped: not measuring the wrong allocator\n", tok);
            exit(3);
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: bench-%s WORKLOAD [SCALE [IDLE_MS]]\nworkloads:", BALLOC_KIND);
    for (size_t i = 0; i < NWORKLOADS; i++)
        fprintf(stderr, " %s", workloads[i].name);
    fputc('\n', stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    if (argc > 2)
        bench_opts.scale = strtod(argv[2], NULL);
    if (argc > 3)
        bench_opts.idle_ms = strtol(argv[3], NULL, 10);
    if (!(bench_opts.scale > 0))
        usage();
    for (size_t i = 0; i < NWORKLOADS; i++) {
        const workload_t *w = &workloads[i];
        if (strcmp(argv[1], w->name) != 0)
            continue;
        if ((w->threads && !BALLOC_THREADS) || !w->run) {
            fprintf(stderr, "bench-%s: workload %s does not apply here\n", BALLOC_KIND, w->name);
            return 4;
        }
        check_preload();
        balloc_init();
        w->run();
        return 0;
    }
    usage();
}
