/* The public allocation API: size classes, alignment, malloc(0), calloc,
 * realloc, reallocarray, usable_size, pool_owns, free(NULL). */
#include "pattern.h"
#include "poolalloc.h"
#include "san_options.h"
#include "tap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define ALIGNED(p, a) (((uintptr_t)(p) & ((a) - 1)) == 0)

static size_t class_of_request(size_t n)
{
    return (n + POOL_ALIGNMENT - 1) / POOL_ALIGNMENT * POOL_ALIGNMENT;
}

/* Every small request lands in its 16-byte class, at a block boundary of
 * its pool, and is owned by the allocator. */
static void test_size_classes(void)
{
    pool_stats_t st;
    pool_stats_get(&st);
    int bad_usable = 0, bad_align = 0, bad_owner = 0, bad_slot = 0, bad_bytes = 0;
    for (size_t n = 1; n <= POOL_SMALL_REQUEST_THRESHOLD; n++) {
        void *p[3];
        for (int i = 0; i < 3; i++) {
            p[i] = pool_malloc(n);
            pat_fill(p[i], pool_usable_size(p[i]));
        }
        for (int i = 0; i < 3; i++) {
            size_t cls = class_of_request(n);
            uintptr_t off = (uintptr_t)p[i] & (POOL_POOL_SIZE - 1);
            bad_usable += pool_usable_size(p[i]) != cls;
            bad_align += !ALIGNED(p[i], POOL_ALIGNMENT);
            bad_owner += !pool_owns(p[i]);
            bad_slot += off % cls != 0;
            bad_bytes += !pat_check(p[i], pool_usable_size(p[i]));
        }
        for (int i = 0; i < 3; i++)
            pool_free(p[i]);
    }
    OK(bad_usable == 0, "usable size of 1..512-byte requests is the 16-byte class (%d bad)",
       bad_usable);
    OK(bad_align == 0, "small blocks are 16-byte aligned (%d bad)", bad_align);
    OK(bad_owner == 0, "small blocks are owned by the pools (%d bad)", bad_owner);
    OK(bad_slot == 0, "small blocks sit on a block boundary of their pool (%d bad)",
       bad_slot);
    OK(bad_bytes == 0, "three blocks of each class keep their own bytes (%d bad)", bad_bytes);

    size_t large[] = { POOL_MEDIUM_MAX + 1, 300000, 1 << 20, 3 << 20 };
    int ok = 1;
    for (size_t i = 0; i < sizeof large / sizeof large[0]; i++) {
        char *p = pool_malloc(large[i]);
        ok &= p && !pool_owns(p) && ALIGNED(p, POOL_ALIGNMENT) &&
              pool_usable_size(p) >= large[i];
        pat_fill(p, large[i]);
        ok &= pat_check(p, large[i]);
        pool_free(p);
    }
    OK(ok, "large requests: system blocks, 16-byte aligned, usable >= request");
}

/* Every medium request (513 B .. 256 KiB) lands in the smallest class that
 * holds it, less than 25% bigger, and stays the pools' own. */
static void test_medium_classes(void)
{
    int bad_class = 0, bad_waste = 0, bad_align = 0, bad_owner = 0, bad_bytes = 0;
    size_t step = 1;
    for (size_t n = POOL_SMALL_REQUEST_THRESHOLD + 1; n <= POOL_MEDIUM_MAX; n += step) {
        step = n < 4096 ? 1 : n / 61;          /* every size low down, then ~60 a doubling */
        void *p[2];
        for (int i = 0; i < 2; i++) {
            p[i] = pool_malloc(n);
            pat_fill(p[i], n);
        }
        for (int i = 0; i < 2; i++) {
            size_t u = pool_usable_size(p[i]);
            unsigned c = 0;
            while (c < POOL_NUM_CLASSES && pool_class_size(c) != u)
                c++;
            bad_class += c == POOL_NUM_CLASSES || u < n || (c > 0 && pool_class_size(c - 1) >= n);
            bad_waste += (u - n) * 4 >= u;
            bad_align += !ALIGNED(p[i], POOL_ALIGNMENT);
            bad_owner += !pool_owns(p[i]) || !pool_owns((char *)p[i] + n - 1);
            bad_bytes += !pat_check(p[i], n);
        }
        for (int i = 0; i < 2; i++)
            pool_free(p[i]);
    }
    OK(bad_class == 0, "usable size of a 513..262144-byte request is the smallest medium class "
       "holding it (%d bad)", bad_class);
    OK(bad_waste == 0, "a medium block wastes less than a quarter of itself (%d bad)", bad_waste);
    OK(bad_align == 0, "medium blocks are 16-byte aligned (%d bad)", bad_align);
    OK(bad_owner == 0, "medium blocks are owned by the pools, to their last byte (%d bad)",
       bad_owner);
    OK(bad_bytes == 0, "two blocks of each medium size keep their own bytes (%d bad)", bad_bytes);
    OK(pool_class_size(POOL_NUM_SMALL_CLASSES) == 640 &&
       pool_class_size(POOL_NUM_CLASSES - 1) == POOL_MEDIUM_MAX &&
       pool_class_size(POOL_NUM_CLASSES) == 0, "medium classes run from 640 to 262144 bytes");
}

static void test_malloc_zero(void)
{
    enum { N = 64 };
    void *p[N];
    int ok = 1;
    for (int i = 0; i < N; i++) {
        p[i] = pool_malloc(0);
        ok &= p[i] != NULL && ALIGNED(p[i], POOL_ALIGNMENT);
        for (int j = 0; j < i; j++)
            ok &= p[i] != p[j];
    }
    OK(ok, "malloc(0) returns %d distinct, aligned, non-NULL pointers", N);
    for (int i = 0; i < N; i++)
        pool_free(p[i]);
    pool_free(NULL);
    OK(pool_usable_size(NULL) == 0, "usable_size(NULL) is 0");
    OK(!pool_owns(NULL), "pool_owns(NULL) is 0");
}

static void test_owns(void)
{
    static int global;
    int local;
    void *big = pool_malloc(1 << 19);
    void *sys = malloc(16);
    void *small = pool_malloc(16);
    OK(pool_owns(small), "pool_owns(small block)");
    OK(pool_owns((char *)small + 15), "pool_owns(interior pointer)");
    OK(!pool_owns(&global) && !pool_owns(&local), "not pool_owns(static or stack)");
    OK(!pool_owns(big), "not pool_owns(large block)");
    OK(!pool_owns(sys), "not pool_owns(libc malloc block)");
    OK(!pool_owns((void *)UINTPTR_MAX) && !pool_owns((void *)((uintptr_t)1 << 62)),
       "not pool_owns(addresses above the user half), without touching them");
    pool_free(small);
    pool_free(big);
    free(sys);
}

static void test_calloc(void)
{
    size_t sizes[] = { 1, 7, 16, 24, 100, 500, 512, 513, 4000, 70000 };
    int ok = 1;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        /* Dirty the memory calloc is most likely to get back (LIFO lists). */
        void *dirty[8];
        for (int j = 0; j < 8; j++) {
            dirty[j] = pool_malloc(n);
            memset(dirty[j], 0xAB, pool_usable_size(dirty[j]));
        }
        for (int j = 7; j >= 0; j--)
            pool_free(dirty[j]);
        for (int j = 0; j < 8; j++) {
            unsigned char *p = pool_calloc(1, n);
            ok &= p != NULL && all_zero(p, n);
            if (n <= POOL_SMALL_REQUEST_THRESHOLD)
                ok &= all_zero(p, pool_usable_size(p));
            dirty[j] = p;
        }
        for (int j = 0; j < 8; j++)
            pool_free(dirty[j]);
    }
    OK(ok, "calloc returns zeroed memory in reused blocks (small: the whole usable size)");

    void *p = pool_calloc(13, 17);
    OK(p && all_zero(p, 13 * 17) && pool_usable_size(p) >= 13 * 17, "calloc(13, 17)");
    pool_free(p);
    void *z1 = pool_calloc(0, 0), *z2 = pool_calloc(0, SIZE_MAX), *z3 = pool_calloc(SIZE_MAX, 0);
    OK(z1 && z2 && z3 && z1 != z2 && z2 != z3, "calloc with a zero factor: distinct non-NULL");
    pool_free(z1);
    pool_free(z2);
    pool_free(z3);

    struct { size_t n, m; } over[] = {
        { SIZE_MAX, 2 }, { 2, SIZE_MAX }, { (size_t)1 << 33, (size_t)1 << 33 },
        { SIZE_MAX / 16 + 1, 16 }, { SIZE_MAX, SIZE_MAX },
    };
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        errno = 0;
        void *q = pool_calloc(over[i].n, over[i].m);
        OK(q == NULL && errno == ENOMEM, "calloc(%zu, %zu) overflows: NULL + ENOMEM",
           over[i].n, over[i].m);
    }
    errno = 0;
    OK(pool_calloc(SIZE_MAX, 1) == NULL && errno == ENOMEM, "calloc(SIZE_MAX, 1): NULL + ENOMEM");
    errno = 0;
    OK(pool_malloc(SIZE_MAX) == NULL && errno == ENOMEM, "malloc(SIZE_MAX): NULL + ENOMEM");
    errno = 0;
    OK(pool_malloc(SIZE_MAX - 4096) == NULL && errno == ENOMEM,
       "malloc(SIZE_MAX - 4096): NULL + ENOMEM");
}

/* p holds n pattern bytes seeded by seed; realloc to m must keep min(n, m). */
static int realloc_keeps(void **pp, size_t n, size_t m)
{
    uint64_t seed = pat_seed(*pp, n);
    pat_fill_seed(*pp, n, seed);
    void *q = pool_realloc(*pp, m);
    if (!q)
        return 0;
    *pp = q;
    return pat_check_seed(q, n < m ? n : m, seed) && pool_usable_size(q) >= m &&
           ALIGNED(q, POOL_ALIGNMENT);
}

static void test_realloc(void)
{
    void *p = pool_realloc(NULL, 40);
    OK(p && pool_owns(p) && pool_usable_size(p) == 48, "realloc(NULL, 40) is malloc(40)");
    errno = 0;
    OK(pool_realloc(p, 0) == NULL, "realloc(p, 0) frees p and returns NULL");
    void *z = pool_realloc(NULL, 0);
    OK(z != NULL, "realloc(NULL, 0) is malloc(0): non-NULL");
    pool_free(z);

    /* Any size inside the block's class keeps the block. */
    int inplace = 1, moved = 1;
    for (size_t cls = POOL_ALIGNMENT; cls <= POOL_SMALL_REQUEST_THRESHOLD; cls += POOL_ALIGNMENT) {
        void *b = pool_malloc(cls);
        void *orig = b;
        for (size_t m = cls - POOL_ALIGNMENT + 1; m <= cls; m++)
            inplace &= realloc_keeps(&b, m > 1 ? m - 1 : 1, m) && b == orig;
        if (cls + 1 <= POOL_SMALL_REQUEST_THRESHOLD)
            moved &= realloc_keeps(&b, cls, cls + 1) && b != orig;
        pool_free(b);
    }
    OK(inplace, "realloc within the class stays in place and keeps the bytes");
    OK(moved, "realloc one byte past the class moves the block, with the bytes");

    inplace = moved = 1;
    for (unsigned c = POOL_NUM_SMALL_CLASSES; c < POOL_NUM_CLASSES; c++) {
        size_t size = pool_class_size(c), below = pool_class_size(c - 1);
        void *b = pool_malloc(size);
        void *orig = b;
        inplace &= realloc_keeps(&b, size, below + 1) && b == orig;
        inplace &= realloc_keeps(&b, below + 1, (below + size) / 2) && b == orig;
        inplace &= realloc_keeps(&b, (below + size) / 2, size) && b == orig;
        moved &= realloc_keeps(&b, size, size + 1) && b != orig;
        pool_free(b);
    }
    OK(inplace, "realloc within a medium class stays in place and keeps the bytes");
    OK(moved, "realloc past a medium class moves the block, with the bytes");

    /* Across classes and to / from the system allocator. */
    size_t path[] = { 1, 16, 17, 100, 512, 513, 4096, 200000, 300, 20, 2, 70000, 64, 1 };
    p = pool_malloc(path[0]);
    int ok = 1;
    for (size_t i = 1; i < sizeof path / sizeof path[0]; i++) {
        int step = realloc_keeps(&p, path[i - 1], path[i]);
        if (!step)
            DIAG("realloc %zu -> %zu lost bytes", path[i - 1], path[i]);
        ok &= step;
    }
    OK(ok, "realloc grows and shrinks across classes and to / from large blocks with the bytes");
    pool_free(p);

    /* Failure leaves the old block alone. */
    size_t starts[] = { 24, 512, 5000 };
    size_t huge[] = { SIZE_MAX, SIZE_MAX - 16, (size_t)PTRDIFF_MAX + 1 };
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 3; j++) {
            void *b = pool_malloc(starts[i]);
            pat_fill(b, starts[i]);
            errno = 0;
            void *q = pool_realloc(b, huge[j]);
            OK(q == NULL && errno == ENOMEM && pat_check(b, starts[i]) &&
               pool_usable_size(b) >= starts[i],
               "realloc(%zu-byte block, %zu) fails with ENOMEM, old block intact", starts[i],
               huge[j]);
            pool_free(b);
        }
    }
}

static void test_reallocarray(void)
{
    void *p = pool_reallocarray(NULL, 10, 10);
    OK(p && pool_usable_size(p) >= 100, "reallocarray(NULL, 10, 10) allocates 100 bytes");
    pat_fill(p, 100);
    errno = 0;
    OK(pool_reallocarray(p, SIZE_MAX / 2, 3) == NULL && errno == ENOMEM && pat_check(p, 100),
       "reallocarray overflow: NULL + ENOMEM, old block intact");
    errno = 0;
    OK(pool_reallocarray(p, (size_t)1 << 32, (size_t)1 << 32) == NULL && errno == ENOMEM &&
       pat_check(p, 100), "reallocarray(2^32 * 2^32) overflow: NULL + ENOMEM");
    uint64_t seed = pat_seed(p, 100);
    void *q = pool_reallocarray(p, 30, 20);
    OK(q && pool_usable_size(q) >= 600 && pat_check_seed(q, 100, seed),
       "reallocarray(p, 30, 20) grows with the bytes");
    pool_free(q);
}

static void test_aligned(void)
{
    size_t sizes[] = { 0, 1, 15, 16, 17, 100, 250, 256, 511, 512, 513, 1000, 3000, 4096,
                       5000, 16384, 20000, 100000, 262144, 262145 };
    int bad = 0, tried = 0;
    for (size_t a = 1; a <= ((size_t)1 << 21); a <<= 1) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t n = sizes[i];
            void *p = pool_aligned_alloc(a, n);
            void *q = NULL;
            int rc = a >= sizeof(void *) ? pool_posix_memalign(&q, a, n) : 0;
            tried++;
            size_t want = a > POOL_ALIGNMENT ? a : POOL_ALIGNMENT;
            int good = p && ALIGNED(p, want) && pool_usable_size(p) >= n;
            if (a >= sizeof(void *))
                good &= rc == 0 && q && ALIGNED(q, want) && pool_usable_size(q) >= n;
            if (good && n) {
                pat_fill(p, n);
                good &= pat_check(p, n);
            }
            if (!good) {
                bad++;
                DIAG("aligned %zu / %zu: %p %p rc=%d", a, n, p, q, rc);
            }
            pool_free(p);
            pool_free(q);
        }
    }
    OK(bad == 0, "aligned_alloc and posix_memalign: alignments 1..2 MiB x %zu sizes, %d of %d bad",
       sizeof sizes / sizeof sizes[0], bad, tried);

    /* from the pools: alignments up to 16 KiB, sizes up to the threshold */
    static const size_t pooled[][2] = { { 64, 100 }, { 512, 600 }, { 4096, 4096 }, { 4096, 5000 },
                                        { 4096, 100000 }, { 16384, 1000 }, { 16384, 262144 } };
    int owned = 0;
    for (size_t i = 0; i < sizeof pooled / sizeof pooled[0]; i++) {
        void *p = pool_aligned_alloc(pooled[i][0], pooled[i][1]);
        owned += pool_owns(p) && ALIGNED(p, pooled[i][0]);
        pool_free(p);
    }
    OK(owned == (int)(sizeof pooled / sizeof pooled[0]),
       "aligned requests up to 16 KiB alignment come from the pools (%d of %zu)", owned,
       sizeof pooled / sizeof pooled[0]);
    void *sys = pool_aligned_alloc(32768, 1000);
    OK(sys && !pool_owns(sys) && ALIGNED(sys, 32768), "32 KiB alignment: the system allocator");
    pool_free(sys);

    size_t wrong[] = { 0, 3, 24, 48, 4097 };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        errno = 0;
        OK(pool_aligned_alloc(wrong[i], 16) == NULL && errno == EINVAL,
           "aligned_alloc(%zu, 16): NULL + EINVAL", wrong[i]);
    }
    void *keep = (void *)0x1234;
    OK(pool_posix_memalign(&keep, 4, 16) == EINVAL && keep == (void *)0x1234,
       "posix_memalign(4): EINVAL, *memptr untouched");
    OK(pool_posix_memalign(&keep, 24, 16) == EINVAL && keep == (void *)0x1234,
       "posix_memalign(24): EINVAL, *memptr untouched");
    errno = 1234;
    OK(pool_posix_memalign(&keep, 64, SIZE_MAX) == ENOMEM && keep == (void *)0x1234 &&
       errno == 1234, "posix_memalign(64, SIZE_MAX): ENOMEM, *memptr and errno untouched");
    errno = 0;
    OK(pool_aligned_alloc(4096, SIZE_MAX - 100) == NULL && errno == ENOMEM,
       "aligned_alloc(4096, SIZE_MAX - 100): NULL + ENOMEM");
}

int main(void)
{
    test_size_classes();
    test_medium_classes();
    test_malloc_zero();
    test_owns();
    test_calloc();
    test_realloc();
    test_reallocarray();
    test_aligned();
    return tap_done();
}
