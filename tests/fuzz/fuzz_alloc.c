/* libFuzzer target: random operation sequences on the pool allocator.
 *
 * The input is read as a program over 16 slots: each operation is an opcode
 * byte, a slot byte and a few argument bytes (sizes lean towards the class
 * boundaries and the small-request threshold). Every block is filled with a
 * pattern derived from its address and size and checked whenever it is
 * touched; results are checked for alignment and usable size; failures must
 * leave the old block intact. Now and then the statistics are checked for
 * consistency, and at the end of each input, after freeing every slot,
 * they must show exactly what they showed before it. Any violation aborts,
 * which libFuzzer reports with the input. */
#include "pattern.h"
#include "poolalloc.h"
#include "san_options.h"
#include "stats_check.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { NSLOTS = 16 };
enum { VIA_POOL, VIA_RAW, VIA_MEM, VIA_OBJ };

typedef struct {
    unsigned char *p;
    size_t n;
    int via;              /* which API must free it */
} slot_t;

static slot_t slots[NSLOTS];

typedef struct {
    const uint8_t *d;
    size_t len, pos;
} input_t;

static unsigned byte(input_t *in) { return in->pos < in->len ? in->d[in->pos++] : 0; }

static void fail(const char *what, const slot_t *s)
{
    fprintf(stderr, "fuzz_alloc: %s (block %p, %zu bytes)\n", what, s ? (void *)s->p : NULL,
            s ? s->n : 0);
    abort();
}

static bool is_class_size(size_t n)
{
    for (unsigned c = 0; c < POOL_NUM_CLASSES; c++)
        if (pool_class_size(c) == n)
            return true;
    return false;
}

/* Sizes: near a class boundary (small or medium), near pymalloc's threshold
 * or the pools' top, 0, or up to 64 KiB. */
static size_t read_size(input_t *in)
{
    unsigned k = byte(in), v = byte(in);
    switch (k & 7) {
    case 0: return 0;
    case 1: return (size_t)pool_class_size(v % POOL_NUM_CLASSES) + (k >> 3) % 3 - 1;
    case 2: return ((k >> 3) & 1 ? POOL_MEDIUM_MAX : POOL_SMALL_REQUEST_THRESHOLD) - 8 + (v % 17);
    case 3: return ((size_t)v << 8 | byte(in)) & 0xffff;
    default: return 1 + v * ((k >> 3) % 3 + 1);
    }
}

static void check(const slot_t *s)
{
    if (s->p && !pat_check(s->p, s->n))
        fail("block contents changed", s);
}

static void fill(slot_t *s, void *p, size_t n, int via, size_t align)
{
    if (!p)
        fail("allocation failed", NULL);
    if ((uintptr_t)p % align)
        fail("misaligned result", s);
    if (via == VIA_POOL && pool_usable_size(p) < n)
        fail("usable size below the request", s);
    *s = (slot_t){ p, n, via };
    pat_fill(p, n);
}

static void release(slot_t *s)
{
    check(s);
    switch (s->via) {
    case VIA_POOL: pool_free(s->p); break;
    case VIA_RAW: pool_raw_free(s->p); break;
    case VIA_MEM: pool_mem_free(s->p); break;
    default: pool_obj_free(s->p); break;
    }
    *s = (slot_t){ NULL, 0, VIA_POOL };
}

static void do_realloc(slot_t *s, size_t n)
{
    if (!s->p || s->via != VIA_POOL)
        return;
    check(s);
    uint64_t seed = pat_seed(s->p, s->n);
    size_t keep = s->n < n ? s->n : n;
    void *q = pool_realloc(s->p, n);
    if (n == 0) {                  /* frees, returns NULL */
        if (q)
            fail("realloc(p, 0) returned a block", s);
        *s = (slot_t){ NULL, 0, VIA_POOL };
        return;
    }
    if (!q)
        fail("realloc failed", s);
    if (!pat_check_seed(q, keep, seed))
        fail("realloc lost bytes", s);
    fill(s, q, n, VIA_POOL, POOL_ALIGNMENT);
}

static void impossible(slot_t *s, unsigned how)
{
    if (!s->p || s->via != VIA_POOL)
        return;
    errno = 0;
    void *q = how & 1 ? pool_realloc(s->p, SIZE_MAX - (how >> 1))
                      : pool_reallocarray(s->p, SIZE_MAX / 2 + (how >> 1), 3);
    if (q || errno != ENOMEM)
        fail("an impossible realloc did not fail with ENOMEM", s);
    check(s);
}

static void stats_check(void)
{
    pool_stats_t st;
    pool_stats_get(&st);
    char why[256];
    if (!stats_quiescent(&st, why, sizeof why)) {
        fprintf(stderr, "fuzz_alloc: statistics: %s\n", why);
        abort();
    }
}

static void step(input_t *in)
{
    unsigned op = byte(in);
    slot_t *s = &slots[byte(in) % NSLOTS];
    size_t n = read_size(in);
    switch (op % 14) {
    case 0:
    case 1:
        if (s->p) release(s);
        fill(s, pool_malloc(n), n, VIA_POOL, POOL_ALIGNMENT);
        break;
    case 2: {
        if (s->p) release(s);
        size_t k = 1 + byte(in) % 8;
        unsigned char *p = pool_calloc(k, n / k);
        if (p && !all_zero(p, k * (n / k)))
            fail("calloc memory not zero", s);
        fill(s, p, k * (n / k), VIA_POOL, POOL_ALIGNMENT);
        break;
    }
    case 3:
    case 4:
        do_realloc(s, op % 14 == 3 || n + s->n > (1u << 20) ? n : n + s->n);
        break;
    case 5:
        if (s->p) release(s);
        break;
    case 6: {
        if (s->p) release(s);
        size_t a = (size_t)1 << (byte(in) % 14);
        fill(s, pool_aligned_alloc(a, n), n, VIA_POOL, a > POOL_ALIGNMENT ? a : POOL_ALIGNMENT);
        break;
    }
    case 7: {
        if (s->p) release(s);
        void *p = NULL;
        size_t a = sizeof(void *) << (byte(in) % 10);
        if (pool_posix_memalign(&p, a, n) != 0)
            fail("posix_memalign failed", s);
        fill(s, p, n, VIA_POOL, a > POOL_ALIGNMENT ? a : POOL_ALIGNMENT);
        break;
    }
    case 8:
        if (s->p && s->via == VIA_POOL && pool_usable_size(s->p) < s->n)
            fail("usable size shrank", s);
        if (s->p && s->via == VIA_POOL && pool_owns(s->p) && !is_class_size(pool_usable_size(s->p)))
            fail("a pool block whose usable size is not a size class", s);
        break;
    case 9:
        impossible(s, byte(in));
        break;
    case 10: {
        if (s->p) release(s);
        int via = VIA_RAW + (int)(byte(in) % 3);
        void *p = via == VIA_RAW ? pool_raw_malloc(n) : via == VIA_MEM ? pool_mem_malloc(n)
                                                                       : pool_obj_malloc(n);
        fill(s, p, n, via, POOL_ALIGNMENT);
        break;
    }
    case 11:
        stats_check();
        break;
    case 12: {
        pool_arena_info_t map[4];
        size_t total = pool_arena_map(map, 4, byte(in) % 4);
        pool_stats_t st;
        pool_stats_get(&st);
        if (total != st.arenas_current)
            fail("arena map count differs from arenas_current", NULL);
        break;
    }
    default:
        if (byte(in) % 8 == 0)
            pool_trim();
        for (int i = 0; i < NSLOTS; i++)
            check(&slots[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        pool_set_purge_delay_ms(0);
        init = 1;
    }
    pool_stats_t before, after;
    pool_stats_get(&before);
    input_t in = { data, size, 0 };
    while (in.pos < in.len)
        step(&in);
    for (int i = 0; i < NSLOTS; i++)
        if (slots[i].p)
            release(&slots[i]);
    pool_stats_get(&after);
    uint64_t live_before = 0, live_after = 0;
    for (unsigned c = 0; c < POOL_NUM_CLASSES; c++) {
        live_before += before.classes[c].blocks_allocated;
        live_after += after.classes[c].blocks_allocated;
    }
    if (live_after != live_before || after.large_allocations != before.large_allocations) {
        fprintf(stderr, "fuzz_alloc: live blocks %llu/%llu before, %llu/%llu after\n",
                (unsigned long long)live_before, (unsigned long long)before.large_allocations,
                (unsigned long long)live_after, (unsigned long long)after.large_allocations);
        abort();
    }
    stats_check();
    return 0;
}
