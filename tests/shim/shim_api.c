/* The C allocation API through whatever malloc the process has: run once
 * plain (glibc) and once with the preload shim, the output must be the
 * same. One line per check; values that differ between allocators (usable
 * sizes beyond the request) are printed as comparisons.
 *
 *   shim_api          the checks
 *   shim_api owner    whether malloc'd blocks come from the pool allocator */
#define _GNU_SOURCE
#include "pattern.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALIGNED(p, a) (((uintptr_t)(p) & ((a) - 1)) == 0)

/* Through volatile pointers, so the compiler neither warns about the
 * impossible sizes nor reasons about a block after a failed realloc. */
static void *(*volatile malloc_v)(size_t) = malloc;
static void *(*volatile calloc_v)(size_t, size_t) = calloc;
static void *(*volatile realloc_v)(void *, size_t) = realloc;
static void *(*volatile reallocarray_v)(void *, size_t, size_t) = reallocarray;
static void *(*volatile memalign_v)(size_t, size_t) = memalign;
static void *(*volatile valloc_v)(size_t) = valloc;
static void *(*volatile pvalloc_v)(size_t) = pvalloc;

static void line(const char *what, int good)
{
    printf("%-50s %s\n", what, good ? "ok" : "BAD");
}

static int usable_ok(void *p, size_t n)
{
    if (!p)
        return 0;
    pat_fill(p, n);
    return malloc_usable_size(p) >= n && pat_check(p, n);
}

static void aligned_family(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char what[80];
    for (size_t a = 8; a <= ((size_t)1 << 20); a <<= 1) {
        size_t sizes[] = { 1, 16, 100, 512, 4096, 70000 };
        int good = 1;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t n = sizes[i];
            void *m = memalign_v(a, n), *al = aligned_alloc(a, n), *pm = NULL;
            int rc = posix_memalign(&pm, a, n);
            good &= rc == 0 && ALIGNED(m, a) && ALIGNED(al, a) && ALIGNED(pm, a) &&
                    usable_ok(m, n) && usable_ok(al, n) && usable_ok(pm, n);
            void *r = realloc_v(m, n * 2 + 1);
            good &= usable_ok(r, n * 2 + 1);
            free(r);
            free(al);
            free(pm);
        }
        snprintf(what, sizeof what, "memalign/aligned_alloc/posix_memalign %zu", a);
        line(what, good);
    }
    void *v = valloc_v(100), *pv = pvalloc_v(100), *pv0 = pvalloc_v(1);
    line("valloc(100) page-aligned", ALIGNED(v, (size_t)page) && usable_ok(v, 100));
    line("pvalloc(100) page-aligned, a whole page",
         ALIGNED(pv, (size_t)page) && usable_ok(pv, (size_t)page));
    line("pvalloc(1) a whole page", ALIGNED(pv0, (size_t)page) && usable_ok(pv0, (size_t)page));
    free(v);
    free(pv);
    free(pv0);
    void *m24 = memalign_v(24, 10);
    line("memalign(24): rounded up to 32", ALIGNED(m24, 32) && usable_ok(m24, 10));
    free(m24);
    void *keep = (void *)1;
    line("posix_memalign(24) EINVAL, untouched",
         posix_memalign(&keep, 24, 8) == EINVAL && keep == (void *)1);
    line("posix_memalign(4) EINVAL", posix_memalign(&keep, 4, 8) == EINVAL);
    errno = 0;
    line("posix_memalign(64, SIZE_MAX) ENOMEM, untouched",
         posix_memalign(&keep, 64, SIZE_MAX) == ENOMEM && keep == (void *)1);
    errno = 0;
    line("memalign(SIZE_MAX / 2 + 2, 16) fails",
         memalign_v(SIZE_MAX / 2 + 2, 16) == NULL);
    errno = 0;
    line("memalign(SIZE_MAX, 16) fails", memalign_v(SIZE_MAX, 16) == NULL);
    errno = 0;
    line("memalign(4096, SIZE_MAX - 4096) fails ENOMEM",
         memalign_v(4096, SIZE_MAX - 4096) == NULL && errno == ENOMEM);
    errno = 0;
    line("pvalloc(SIZE_MAX) fails ENOMEM", pvalloc_v(SIZE_MAX) == NULL && errno == ENOMEM);
    errno = 0;
    line("valloc(SIZE_MAX) fails ENOMEM", valloc_v(SIZE_MAX) == NULL && errno == ENOMEM);
}

static void basic_family(void)
{
    void *z1 = malloc_v(0), *z2 = malloc_v(0);
    line("malloc(0) distinct non-NULL", z1 && z2 && z1 != z2);
    free(z1);
    free(z2);
    free(NULL);
    line("malloc_usable_size(NULL) = 0", malloc_usable_size(NULL) == 0);
    errno = 0;
    line("malloc(SIZE_MAX) NULL ENOMEM", malloc_v(SIZE_MAX) == NULL && errno == ENOMEM);
    errno = 0;
    line("calloc(SIZE_MAX, 2) NULL ENOMEM", calloc_v(SIZE_MAX, 2) == NULL && errno == ENOMEM);
    errno = 0;
    line("calloc(1 << 33, 1 << 33) NULL ENOMEM",
         calloc_v((size_t)1 << 33, (size_t)1 << 33) == NULL && errno == ENOMEM);
    int zero = 1;
    for (size_t n = 1; n < 3000; n += 37) {
        char *d = malloc_v(n);
        memset(d, 0x5A, n);
        free(d);
        unsigned char *c = calloc_v(n, 1);
        zero &= c && all_zero(c, n);
        free(c);
    }
    line("calloc zeroes reused memory", zero);

    char *p = malloc_v(40);
    pat_fill(p, 40);
    uint64_t seed = pat_seed(p, 40);
    errno = 0;
    line("realloc(p, SIZE_MAX) NULL ENOMEM, p intact",
         realloc_v(p, SIZE_MAX) == NULL && errno == ENOMEM && pat_check_seed(p, 40, seed));
    errno = 0;
    line("reallocarray overflow NULL ENOMEM, p intact",
         reallocarray_v(p, SIZE_MAX / 4, 8) == NULL && errno == ENOMEM &&
         pat_check_seed(p, 40, seed));
    char *q = reallocarray_v(p, 100, 50);
    line("reallocarray(p, 100, 50) keeps the bytes", q && pat_check_seed(q, 40, seed) &&
         malloc_usable_size(q) >= 5000);
    int kept = 1;
    size_t path[] = { 5000, 300, 17, 1, 600, 200000, 48 };
    size_t have = 40;
    for (size_t i = 0; i < sizeof path / sizeof path[0]; i++) {
        size_t keep = have < path[i] ? have : path[i];
        q = realloc_v(q, path[i]);
        kept &= q && pat_check_seed(q, keep, seed) && malloc_usable_size(q) >= path[i];
        have = keep;
    }
    line("realloc across sizes keeps the bytes", kept);
    line("realloc(p, 0) frees and returns NULL", realloc_v(q, 0) == NULL);
    void *r0 = realloc_v(NULL, 0);
    line("realloc(NULL, 0) non-NULL", r0 != NULL);
    free(r0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "owner") == 0) {
        int (*owns)(const void *) = (int (*)(const void *))dlsym(RTLD_DEFAULT, "pool_owns");
        void *p = malloc_v(24);
        printf("pool_owns=%s\n", !owns ? "absent" : owns(p) ? "yes" : "no");
        free(p);
        return 0;
    }
    basic_family();
    aligned_family();
    return 0;
}
