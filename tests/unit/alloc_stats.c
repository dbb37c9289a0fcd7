/* Statistics: the exact byte identity after every phase of a workload, the
 * per-class sums, operation counters moving exactly as a single-threaded
 * scenario says, the arena map against pool_stats_get, and the report. */
#include "pattern.h"
#include "poolalloc.h"
#include "san_options.h"
#include "stats_check.h"
#include "tap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define D(after, before, field) ((after).field - (before).field)

/* ---- phases -------------------------------------------------------------- */

/* 700 blocks of every small class, 24 of every medium one (about 50 MiB). */
enum { PER_CLASS = 700, PER_MEDIUM = 24 };
static void *blocks[POOL_NUM_CLASSES][PER_CLASS];
static unsigned nclasses;           /* the classes in use (all, or pymalloc's 32) */

static int per_class(unsigned c) { return c < POOL_NUM_SMALL_CLASSES ? PER_CLASS : PER_MEDIUM; }

/* The i-th request of class c: just above the class below, 16 sizes apart. */
static size_t request(unsigned c, int i)
{
    return (c ? pool_class_size(c - 1) : 0) + 1 + (size_t)i % 16;
}

/* Every class has per_class(c) * num / den more live blocks than in base. */
static void check_live(const pool_stats_t *st, const pool_stats_t *base, int num, int den,
                       const char *phase)
{
    int ok = 1;
    for (unsigned c = 0; c < POOL_NUM_CLASSES; c++) {
        uint64_t live = st->classes[c].blocks_allocated - base->classes[c].blocks_allocated;
        uint64_t want = c < nclasses ? (uint64_t)(per_class(c) * num / den) : 0;
        if (live != want) {
            DIAG("%s: class %u has %llu live blocks, expected %llu", phase, c,
                 (unsigned long long)live, (unsigned long long)want);
            ok = 0;
        }
    }
    OK(ok, "%s: every class (%u in use) has exactly %d/%d of its blocks live", phase, nclasses,
       num, den);
    OK_STATS(stats_quiescent, st, "%s: live blocks = mallocs - frees", phase);
}

static void test_phases(void)
{
    STATS_NOW(base, "before the workload");
    OK_STATS(stats_quiescent, &base, "before the workload: quiescent invariants");
    nclasses = base.num_classes;
    OK(nclasses == POOL_NUM_CLASSES && base.small_threshold == POOL_MEDIUM_MAX,
       "by default the pools serve every class up to %u bytes (%u classes)",
       base.small_threshold, nclasses);

    uint64_t bytes = 0;
    for (unsigned c = 0; c < nclasses; c++)
        for (int i = 0; i < per_class(c); i++) {
            size_t n = request(c, i);
            blocks[c][i] = pool_malloc(n);
            pat_fill(blocks[c][i], n);
            bytes += pool_class_size(c);
        }
    STATS_NOW(full, "after allocating every class");
    check_live(&full, &base, 1, 1, "after allocating");
    OK(full.arenas_current > base.arenas_current, "allocating mapped arenas (%llu -> %llu)",
       (unsigned long long)base.arenas_current, (unsigned long long)full.arenas_current);
    OK(full.bytes.allocated - base.bytes.allocated == bytes,
       "bytes.allocated grew by exactly the block sizes handed out");
    OK(full.pools_span > base.pools_span, "medium runs span further pools (%llu)",
       (unsigned long long)full.pools_span);

    int intact = 1;
    for (unsigned c = 0; c < nclasses; c++)
        for (int i = 0; i < per_class(c); i += 2) {
            intact &= pat_check(blocks[c][i], request(c, i));
            pool_free(blocks[c][i]);
            blocks[c][i] = NULL;
        }
    STATS_NOW(half, "after freeing every other block");
    check_live(&half, &base, 1, 2, "after freeing half");

    /* Move the survivors one class up (the last class to the system). */
    for (unsigned c = 0; c < nclasses; c++)
        for (int i = 1; i < per_class(c); i += 2) {
            size_t n = request(c, i), to = request(c + 1, i);
            if (c + 1 == nclasses)
                to = pool_class_size(c) + 1;
            uint64_t seed = pat_seed(blocks[c][i], n);
            intact &= pat_check_seed(blocks[c][i], n, seed);
            blocks[c][i] = pool_realloc(blocks[c][i], to);
            intact &= pat_check_seed(blocks[c][i], n, seed);
            pat_fill(blocks[c][i], to);
        }
    STATS_NOW(moved, "after realloc into the next class");
    OK(moved.classes[0].blocks_allocated == base.classes[0].blocks_allocated,
       "class 0 emptied by the reallocs");
    OK(moved.large_allocations - base.large_allocations >= (uint64_t)per_class(nclasses - 1) / 2,
       "the last class's blocks moved to the system allocator");
    OK_STATS(stats_quiescent, &moved, "after realloc: live blocks = mallocs - frees");

    for (unsigned c = 0; c < nclasses; c++)
        for (int i = 1; i < per_class(c); i += 2) {
            intact &= pat_check(blocks[c][i], c + 1 == nclasses ? pool_class_size(c) + 1
                                                                : request(c + 1, i));
            pool_free(blocks[c][i]);
        }
    OK(intact, "every block kept its bytes through the phases");
    STATS_NOW(empty, "after freeing everything");
    check_live(&empty, &base, 0, 1, "after freeing everything");
    OK(empty.large_allocations == base.large_allocations, "no large block left");

    size_t given = pool_trim();
    STATS_NOW(trimmed, "after pool_trim");
    OK(given > 0 && trimmed.bytes.returned >= given &&
       trimmed.purged_bytes - empty.purged_bytes == given,
       "pool_trim gave back %zu bytes, counted in purged_bytes and returned", given);
    OK(trimmed.arenas_current <= base.arenas_current + 1,
       "after freeing everything and trimming at most one spare arena is left (%llu -> %llu)",
       (unsigned long long)base.arenas_current, (unsigned long long)trimmed.arenas_current);
}

/* ---- operation counters ------------------------------------------------------ */

static void test_ops(void)
{
    pool_stats_t a, b;
    pool_stats_get(&a);
    void *s1 = pool_malloc(10), *s2 = pool_malloc(20), *s3 = pool_malloc(200);
    void *l1 = pool_malloc(300000);                 /* large, bucket <= 1 MiB */
    void *c1 = pool_calloc(4, 8);                   /* 32 bytes: class 1 */
    void *c2 = pool_calloc(1, 2 << 20);             /* large, bucket <= 16 MiB */
    void *m1 = pool_malloc(3000);                   /* medium: 3072 bytes, class 41 */
    void *m2 = pool_calloc(1, 100000);              /* medium: 114688 bytes, class 62 */
    s1 = pool_realloc(s1, 16);                      /* in place */
    s2 = pool_realloc(s2, 40);                      /* class 1 -> class 2 */
    void *al = pool_aligned_alloc(64, 64);          /* class 3 */
    errno = 0;
    void *f1 = pool_malloc(SIZE_MAX);
    void *f2 = pool_calloc(SIZE_MAX, 8);
    void *z = pool_malloc(0);                       /* large, bucket <= 1024 */
    pool_free(NULL);
    pool_stats_get(&b);

    OK(!f1 && !f2, "the two impossible requests failed");
    OK(D(b, a, ops.malloc) == 11, "ops.malloc +11 (3 small, 1 large, 1 medium, 3 calloc, 1 moving "
       "realloc, 1 aligned, malloc(0)): got %llu", (unsigned long long)D(b, a, ops.malloc));
    OK(D(b, a, ops.free) == 1, "ops.free +1 (the moving realloc's old block; free(NULL) "
       "does not count): got %llu", (unsigned long long)D(b, a, ops.free));
    OK(D(b, a, ops.calloc) == 3 || D(b, a, ops.calloc) == 4,
       "ops.calloc counts the calloc calls (4, or 3 without the overflowing one): got %llu",
       (unsigned long long)D(b, a, ops.calloc));
    OK(D(b, a, ops.realloc) == 2 && D(b, a, ops.realloc_inplace) == 1,
       "ops.realloc +2, realloc_inplace +1: got %llu, %llu",
       (unsigned long long)D(b, a, ops.realloc), (unsigned long long)D(b, a, ops.realloc_inplace));
    OK(D(b, a, ops.aligned) == 1, "ops.aligned +1");
    OK(D(b, a, ops.failed) == 2, "ops.failed +2 (malloc(SIZE_MAX), calloc overflow): got %llu",
       (unsigned long long)D(b, a, ops.failed));
    OK(D(b, a, ops.remote_free) == 0, "no remote frees in one thread");
    OK(D(b, a, classes[0].mallocs) == 1 && D(b, a, classes[1].mallocs) == 2 &&
       D(b, a, classes[2].mallocs) == 1 && D(b, a, classes[3].mallocs) == 1 &&
       D(b, a, classes[12].mallocs) == 1 && D(b, a, classes[41].mallocs) == 1 &&
       D(b, a, classes[62].mallocs) == 1,
       "per-class mallocs: 10B, 20B+calloc 32B, 40B, 64B, 200B, 3000B, calloc 100000B");
    OK(pool_usable_size(m1) == 3072 && pool_usable_size(m2) == 114688 &&
       pool_owns(m1) && pool_owns(m2), "medium blocks are the pools' own, of their class's size");
    OK(D(b, a, classes[1].frees) == 1, "class 1 counts the realloc'd-away block as freed");
    OK(D(b, a, large_mallocs) == 3 && D(b, a, large_allocations) == 3,
       "3 large blocks (300000, 2 MiB, 0 bytes): %llu mallocs, %llu live",
       (unsigned long long)D(b, a, large_mallocs), (unsigned long long)D(b, a, large_allocations));
    OK(D(b, a, large_bytes_total) == 300000 + (2 << 20),
       "large_bytes_total +2397152 (requested bytes): %llu",
       (unsigned long long)D(b, a, large_bytes_total));
    OK(D(b, a, large_bytes) >= 300000 + (2 << 20),
       "large_bytes counts usable bytes of live large blocks");
    OK(D(b, a, large_hist[0]) == 1 && D(b, a, large_hist[5]) == 1 && D(b, a, large_hist[6]) == 1,
       "large histogram: buckets <=1024, <=1 MiB, <=16 MiB got one each");
    OK_STATS(stats_quiescent, &b, "after the scenario: quiescent invariants");

    void *all[] = { s1, s2, s3, l1, c1, c2, al, z, m1, m2 };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        pool_free(all[i]);
    pool_stats_t c;
    pool_stats_get(&c);
    OK(D(c, b, ops.free) == 10 && D(c, b, ops.malloc) == 0, "10 frees counted, no malloc");
    OK(c.large_allocations == a.large_allocations && D(c, a, large_bytes) == 0,
       "large counts back to where they were");
    OK(c.classes[1].blocks_allocated == a.classes[1].blocks_allocated,
       "class 1 live blocks back to where they were");

    void *r = pool_malloc(24);
    pool_stats_get(&a);
    OK(pool_realloc(r, 0) == NULL, "realloc(p, 0) frees");
    pool_stats_get(&b);
    OK(D(b, a, ops.free) == 1 && D(b, a, classes[1].frees) == 1, "realloc(p, 0) counts one free");
    OK(D(b, a, ops.realloc) == 1, "realloc(p, 0) counts as a realloc call with a non-NULL "
       "pointer (got %llu)", (unsigned long long)D(b, a, ops.realloc));
}

/* ---- arena map ---------------------------------------------------------------- */

static pool_arena_info_t map_all[64], map_one;

/* Field by field: the struct has tail padding the map does not write. */
static int same_arena(const pool_arena_info_t *a, const pool_arena_info_t *b)
{
    return a->address == b->address && a->free_pools == b->free_pools &&
           memcmp(a->pools, b->pools, sizeof a->pools) == 0;
}

static void test_arena_map(void)
{
    enum { N = 3000 };
    static void *keep[N];
    for (int i = 0; i < N; i++)     /* spread over classes; every 10th a medium block */
        keep[i] = pool_malloc(i % 10 ? 16 + (size_t)(i % 30) * 16 : 600 + (size_t)(i % 7) * 3000);
    for (int i = 0; i < N; i += 3) {
        pool_free(keep[i]);
        keep[i] = NULL;
    }
    pool_stats_t st;
    pool_stats_get(&st);
    size_t n = pool_arena_map(NULL, 0, 0);
    OK(n == st.arenas_current, "pool_arena_map(NULL) counts %zu arenas = arenas_current", n);
    size_t got = pool_arena_map(map_all, 64, 0);
    OK(got == n && n <= 64, "the whole map fits");

    uint64_t used_blocks = 0, pools_used = 0, by_state[POOL_STATE_SPAN + 1] = { 0 };
    uint64_t class_pools[POOL_NUM_CLASSES] = { 0 }, class_blocks[POOL_NUM_CLASSES] = { 0 };
    int sorted = 1, owned = 1, freecount = 1, shape = 1;
    for (size_t i = 0; i < n; i++) {
        const pool_arena_info_t *a = &map_all[i];
        sorted &= i == 0 || a->address > map_all[i - 1].address;
        owned &= (a->address & (POOL_ARENA_SIZE - 1)) == 0 && pool_owns((void *)a->address);
        unsigned nonused = 0, span_left = 0, span_class = 0;
        for (unsigned j = 0; j < POOL_POOLS_PER_ARENA; j++) {
            const pool_pool_info_t *p = &a->pools[j];
            /* a run's first pool is followed by exactly its further pools */
            shape &= span_left ? p->state == POOL_STATE_SPAN && p->size_class == span_class
                               : p->state != POOL_STATE_SPAN;
            shape &= j == 0 ? p->state == POOL_STATE_HEADER
                            : p->state <= POOL_STATE_RETURNED || p->state == POOL_STATE_SPAN;
            by_state[p->state <= POOL_STATE_SPAN ? p->state : 0]++;
            if (span_left) {
                span_left--;
                continue;
            }
            if (p->state != POOL_STATE_USED) {
                nonused += p->state != POOL_STATE_HEADER;
                continue;
            }
            shape &= p->size_class < POOL_NUM_CLASSES && p->used <= p->blocks &&
                     p->blocks == st.classes[p->size_class].blocks_per_pool;
            span_left = st.classes[p->size_class].pools_per_run - 1;
            span_class = p->size_class;
            pools_used++;
            used_blocks += p->used;
            class_pools[p->size_class]++;
            class_blocks[p->size_class] += p->used;
        }
        freecount &= a->free_pools == nonused;
    }
    OK(sorted, "arenas in ascending address order");
    OK(owned, "every arena address is arena-aligned and owned");
    OK(shape, "pool records: pool 0 holds the headers; valid state, class, used <= blocks = "
       "blocks_per_pool; a medium run's first pool, then its SPAN pools of the same class");
    OK(freecount, "free_pools = the arena's pools that serve no class");
    OK(by_state[POOL_STATE_USED] == st.pools_used && by_state[POOL_STATE_EMPTY] == st.pools_empty &&
       by_state[POOL_STATE_UNTOUCHED] == st.pools_untouched &&
       by_state[POOL_STATE_RETURNED] == st.pools_returned &&
       by_state[POOL_STATE_SPAN] == st.pools_span && st.pools_span > 0,
       "pool states agree with the stats (%llu SPAN pools)", (unsigned long long)st.pools_span);
    int classes_ok = 1;
    uint64_t total_alloc = 0;
    for (unsigned c = 0; c < POOL_NUM_CLASSES; c++) {
        classes_ok &= class_pools[c] == st.classes[c].pools &&
                      class_blocks[c] == st.classes[c].blocks_allocated;
        total_alloc += st.classes[c].blocks_allocated;
    }
    OK(classes_ok, "per-class pools and used blocks agree with the stats");
    OK(used_blocks == total_alloc && pools_used == st.pools_used, "map totals agree");

    int paging = 1;
    for (size_t i = 0; i < n; i++) {
        memset(&map_one, 0xEE, sizeof map_one);
        paging &= pool_arena_map(&map_one, 1, i) == n && same_arena(&map_one, &map_all[i]);
    }
    OK(paging, "paging one arena at a time (skip = 0..%zu) returns the same records", n - 1);
    memset(&map_one, 0xEE, sizeof map_one);
    OK(pool_arena_map(&map_one, 1, n) == n && map_one.address == (uintptr_t)0xEEEEEEEEEEEEEEEEULL,
       "skipping every arena copies nothing and still counts them");
    OK(pool_arena_map(&map_one, 0, 0) == n && map_one.address == (uintptr_t)0xEEEEEEEEEEEEEEEEULL,
       "max = 0 copies nothing");
    for (int i = 0; i < N; i++)
        pool_free(keep[i]);
}

/* ---- the report ------------------------------------------------------------------ */

/* The number after "label ... = " in a report, commas removed; -1 if absent. */
static long long report_value(const char *report, const char *label)
{
    const char *s = strstr(report, label);
    if (!s)
        return -1;
    s += strlen(label);
    while (*s == ' ')
        s++;
    if (*s++ != '=')
        return -1;
    while (*s == ' ')
        s++;
    long long v = 0;
    int digits = 0;
    for (; (*s >= '0' && *s <= '9') || *s == ','; s++)
        if (*s != ',') {
            v = v * 10 + (*s - '0');
            digits++;
        }
    return digits ? v : -1;
}

static void test_report(void)
{
    void *hold = pool_malloc(100);
    static char buf[32768];
    pool_stats_t st;
    pool_stats_get(&st);
    size_t len = pool_stats_format(&st, buf, sizeof buf);
    OK(len == strlen(buf) && len > 0, "pool_stats_format returns the report's length");
    OK(strstr(buf, "class   size   num pools") != NULL, "size-class table header");
    struct { const char *label; uint64_t want; } lines[] = {
        { "\n# arenas allocated total", st.arenas_allocated_total },
        { "\n# arenas reclaimed", st.arenas_released_total },
        { "\n# arenas highwater mark", st.arenas_highwater },
        { "\n# arenas allocated current", st.arenas_current },
        { "\n# bytes in allocated blocks", st.bytes.allocated },
        { "\n# bytes in available blocks", st.bytes.free_blocks },
        { "\n# bytes lost to pool headers", st.bytes.pool_headers },
        { "\n# bytes lost to quantization", st.bytes.quantization },
        { "\nTotal", st.mapped_bytes },
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        long long v = report_value(buf, lines[i].label);
        OK(v >= 0 && (uint64_t)v == lines[i].want, "report line '%s = %llu' (found %lld)",
           lines[i].label + 1, (unsigned long long)lines[i].want, v);
    }
    OK(st.mapped_bytes > 0 && report_value(buf, "\nTotal") == (long long)st.mapped_bytes,
       "breakdown Total equals the mapped bytes");

    char small[40];
    memset(small, 'x', sizeof small);
    OK(pool_stats_format(&st, small, sizeof small) == len && small[sizeof small - 1] == 0 &&
       strlen(small) == sizeof small - 1 && memcmp(small, buf, sizeof small - 1) == 0,
       "a short buffer gets a NUL-terminated prefix and the full length is returned");
    OK(pool_stats_format(&st, NULL, 0) == len, "pool_stats_format(NULL, 0) returns the length");

    FILE *f = tmpfile();
    pool_stats_print(fileno(f));
    rewind(f);
    static char printed[32768];
    size_t got = fread(printed, 1, sizeof printed - 1, f);
    printed[got] = 0;
    fclose(f);
    OK(got > 0 && strstr(printed, "# arenas allocated current") &&
       report_value(printed, "\nTotal") == report_value(printed, "arenas * 1048576 bytes/arena"),
       "pool_stats_print writes the report to the fd; its Total equals its mapped bytes");
    pool_free(hold);
}

int main(void)
{
    pool_set_purge_delay_ms(-1);   /* nothing changes state behind the test's back */
    test_phases();
    test_ops();
    test_arena_map();
    test_report();
    return tap_done();
}
