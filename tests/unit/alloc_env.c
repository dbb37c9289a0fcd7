/* The environment: POOLMALLOC (names, debug, unknown values),
 * POOLMALLOC_PURGE_DELAY, POOLMALLOC_THRESHOLD and POOLMALLOCSTATS, and the
 * user's own tuning of glibc's malloc, each in a re-executed copy of this
 * program ("alloc_env MODE"). */
#include "child.h"
#include "poolalloc.h"
#include "tap.h"

#include <malloc.h>
#include <string.h>

/* ---- what the re-executed copy does ---------------------------------------- */

static int child_main(const char *mode)
{
    if (strcmp(mode, "name") == 0) {
        void *p = pool_mem_malloc(24);
        printf("name=%s owned=%d\n", pool_allocators_name(), pool_owns(p));
        pool_mem_free(p);
    } else if (strcmp(mode, "overflow") == 0) {
        unsigned char *p = pool_mem_malloc(24);
        printf("name=%s\n", pool_allocators_name());
        fflush(stdout);
        p[24] = 1;
        pool_mem_free(p);
    } else if (strcmp(mode, "delay") == 0) {
        printf("delay=%ld\n", pool_set_purge_delay_ms(5));
    } else if (strcmp(mode, "threshold") == 0) {
        /* the first call starts the allocator, so no request runs ahead of it */
        void *s = pool_malloc(512), *m = pool_malloc(513), *t = pool_malloc(1000);
        void *top = pool_malloc(POOL_MEDIUM_MAX);
        pool_stats_t st;
        pool_stats_get(&st);
        printf("threshold=%u classes=%u owned=%d%d%d%d\n", st.small_threshold, st.num_classes,
               pool_owns(s), pool_owns(m), pool_owns(t), pool_owns(top));
        pool_free(s);
        pool_free(m);
        pool_free(t);
        pool_free(top);
    } else if (strcmp(mode, "sys") == 0) {
        /* above the pools, glibc's: mapped on its own, or from glibc's heap? */
        void *p = pool_malloc(600u << 10);
        printf("mapped=%zu owned=%d\n", mallinfo2().hblks, pool_owns(p));
        pool_free(p);
    } else if (strcmp(mode, "stats") == 0) {
        void *p = pool_malloc(100);
        fflush(stdout);
        (void)p;    /* still allocated at exit: the report shows it */
    }
    return 0;
}

/* ---- the checks --------------------------------------------------------------- */

/* The copy runs with none of the variables set but `set` (when not NULL). */
static void run(child_t *c, const char *mode, const char *set)
{
    char *argv[] = { "alloc_env", (char *)mode, NULL };
    const char *env[] = { "POOLMALLOC", "POOLMALLOC_PURGE_DELAY", "POOLMALLOC_THRESHOLD",
                          "POOLMALLOCSTATS", "GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_",
                          "MALLOC_TRIM_THRESHOLD_", set, NULL };
    child_exec(c, argv, env);
}

static void expect(const child_t *c, bool cond, const char *what)
{
    if (!OK(cond, "%s", what))
        child_diag(c);
}

static void test_poolmalloc(void)
{
    static const struct { const char *value, *name; int owned; } names[] = {
        { NULL, "pymalloc", 1 },           { "pymalloc", "pymalloc", 1 },
        { "malloc", "malloc", 0 },         { "debug", "debug", 1 },
        { "pymalloc_debug", "pymalloc_debug", 1 }, { "malloc_debug", "malloc_debug", 0 },
    };
    child_t c;
    char env[64], want[64], what[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(env, sizeof env, "POOLMALLOC=%s", names[i].value ? names[i].value : "");
        run(&c, "name", names[i].value ? env : NULL);
        snprintf(want, sizeof want, "name=%s owned=%d", names[i].name, names[i].owned);
        snprintf(what, sizeof what, "POOLMALLOC=%s: configuration %s, mem blocks %s",
                 names[i].value ? names[i].value : "(unset)", names[i].name,
                 names[i].owned ? "from the pools" : "from the system");
        expect(&c, child_exited(&c, 0) && strstr(c.out, want) && !strstr(c.out, "poolalloc:"),
               what);
    }

    run(&c, "name", "POOLMALLOC=bogus");
    expect(&c, child_exited(&c, 0) && strstr(c.out, "POOLMALLOC=bogus") &&
               strstr(c.out, "not one of") && strstr(c.out, "using pymalloc"),
           "POOLMALLOC=bogus: a clear message names the value and the fallback");
    expect(&c, strstr(c.out, "name=pymalloc owned=1") != NULL,
           "POOLMALLOC=bogus: the default configuration is used");
    run(&c, "name", "POOLMALLOC=");
    expect(&c, child_exited(&c, 0) && strstr(c.out, "name=pymalloc owned=1") &&
               !strstr(c.out, "poolalloc:"), "POOLMALLOC= (empty): the default, silently");

    run(&c, "overflow", "POOLMALLOC=debug");
    expect(&c, child_killed(&c, SIGABRT) && strstr(c.out, "name=debug") &&
               strstr(c.out, "buffer overflow"),
           "POOLMALLOC=debug from the environment catches an overflow");
    run(&c, "overflow", NULL);
    expect(&c, child_exited(&c, 0), "the same overflow into a block's slack passes without debug");
}

static void test_purge_delay(void)
{
    child_t c;
    run(&c, "delay", NULL);
    expect(&c, child_exited(&c, 0) && strstr(c.out, "delay=100\n"), "default purge delay 100 ms");
    run(&c, "delay", "POOLMALLOC_PURGE_DELAY=250");
    expect(&c, strstr(c.out, "delay=250\n") != NULL, "POOLMALLOC_PURGE_DELAY=250");
    run(&c, "delay", "POOLMALLOC_PURGE_DELAY=-1");
    expect(&c, strstr(c.out, "delay=-1\n") != NULL, "POOLMALLOC_PURGE_DELAY=-1 (never)");
    run(&c, "delay", "POOLMALLOC_PURGE_DELAY=soon");
    expect(&c, child_exited(&c, 0) && strstr(c.out, "delay=100\n") &&
               strstr(c.out, "POOLMALLOC_PURGE_DELAY=soon"),
           "POOLMALLOC_PURGE_DELAY=soon: reported, default kept");
}

static void test_threshold(void)
{
    child_t c;
    run(&c, "threshold", NULL);
    expect(&c, child_exited(&c, 0) && strstr(c.out, "threshold=262144 classes=68 owned=1111"),
           "by default the pools serve every request up to 256 KiB (68 classes)");
    run(&c, "threshold", "POOLMALLOC_THRESHOLD=512");
    expect(&c, child_exited(&c, 0) && strstr(c.out, "threshold=512 classes=32 owned=1000") &&
               !strstr(c.out, "poolalloc:"),
           "POOLMALLOC_THRESHOLD=512: pymalloc's 32 classes, everything above to the system");
    run(&c, "threshold", "POOLMALLOC_THRESHOLD=1000");
    expect(&c, child_exited(&c, 0) && strstr(c.out, "threshold=1000 classes=36 owned=1110"),
           "POOLMALLOC_THRESHOLD=1000: the medium classes up to 1024 serve up to 1000 bytes");
    static const char *const bad[] = { "POOLMALLOC_THRESHOLD=511", "POOLMALLOC_THRESHOLD=262145",
                                       "POOLMALLOC_THRESHOLD=big", "POOLMALLOC_THRESHOLD=-512" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run(&c, "threshold", bad[i]);
        char what[96];
        snprintf(what, sizeof what, "%s: reported, the default kept", bad[i]);
        expect(&c, child_exited(&c, 0) && strstr(c.out, bad[i]) && strstr(c.out, "expected bytes") &&
                   strstr(c.out, "threshold=262144 classes=68"), what);
    }
}

/* glibc would map a 600 KiB block on its own (its threshold starts at
 * 128 KiB); ours raises it to 4 MiB unless the user tuned glibc. */
static void test_system_thresholds(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* the sanitizer's allocator stands in for glibc's: nothing to look at */
    for (int i = 0; i < 3; i++)
        SKIP("glibc's malloc thresholds (the sanitizer replaces glibc's malloc)");
    return;
#endif
    child_t c;
    run(&c, "sys", NULL);
    expect(&c, child_exited(&c, 0) && strstr(c.out, "mapped=0 owned=0"),
           "a 600 KiB block comes from glibc's heap, not a mapping of its own");
    run(&c, "sys", "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072");
    expect(&c, child_exited(&c, 0) && strstr(c.out, "mapped=1 owned=0"),
           "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 is kept (the block is mapped)");
    run(&c, "sys", "MALLOC_MMAP_THRESHOLD_=131072");
    expect(&c, child_exited(&c, 0) && strstr(c.out, "mapped=1 owned=0"),
           "MALLOC_MMAP_THRESHOLD_=131072 is kept (the block is mapped)");
}

static void test_stats_at_exit(void)
{
    child_t c;
    run(&c, "stats", "POOLMALLOCSTATS=1");
    expect(&c, child_exited(&c, 0) && strstr(c.out, "# arenas allocated total") &&
                   strstr(c.out, "# arenas allocated current") && strstr(c.out, "\nTotal"),
           "POOLMALLOCSTATS=1 prints the report at exit (static library, no report calls)");
    expect(&c, strstr(c.out, "    6    112           1               1") != NULL,
           "the report's class table shows the block still allocated (class 6, 112 bytes)");
    run(&c, "stats", "POOLMALLOCSTATS=0");
    expect(&c, child_exited(&c, 0) && !strstr(c.out, "# arenas"), "POOLMALLOCSTATS=0: no report");
    run(&c, "stats", NULL);
    expect(&c, child_exited(&c, 0) && c.len == 0, "without POOLMALLOCSTATS: no output at all");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return child_main(argv[1]);
    test_poolmalloc();
    test_purge_delay();
    test_threshold();
    test_system_thresholds();
    test_stats_at_exit();
    return tap_done();
}
