/* Fill patterns for allocator tests: every byte of a block is derived from
 * a seed (usually the block's address and size), so a block that another
 * block overlaps, or that was handed out twice, or whose bytes were not
 * copied by realloc, no longer matches. */
#ifndef TEST_PATTERN_H
#define TEST_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t pat_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline uint64_t pat_seed(const void *p, size_t n)
{
    return pat_mix((uint64_t)(uintptr_t)p * 31 + n);
}

/* Word k of the pattern; byte i of the block is byte i % 8 of word i / 8. */
static inline uint64_t pat_word(uint64_t seed, size_t k)
{
    return pat_mix(seed + k * 0x9e3779b97f4a7c15ULL);
}

__attribute__((unused)) static void pat_fill_seed(void *p, size_t n, uint64_t seed)
{
    unsigned char *b = p;
    size_t k = 0;
    for (; (k + 1) * 8 <= n; k++) {
        uint64_t w = pat_word(seed, k);
        memcpy(b + k * 8, &w, 8);
    }
    if (k * 8 < n) {
        uint64_t w = pat_word(seed, k);
        memcpy(b + k * 8, &w, n - k * 8);
    }
}

/* Offset of the first byte that does not match, or (size_t)-1. */
__attribute__((unused)) static size_t pat_find_bad_seed(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    for (size_t k = 0; k * 8 < n; k++) {
        uint64_t w = pat_word(seed, k);
        size_t len = n - k * 8 < 8 ? n - k * 8 : 8;
        if (memcmp(b + k * 8, &w, len) != 0) {
            for (size_t i = 0; i < len; i++)
                if (b[k * 8 + i] != ((const unsigned char *)&w)[i])
                    return k * 8 + i;
        }
    }
    return (size_t)-1;
}

__attribute__((unused)) static int pat_check_seed(const void *p, size_t n, uint64_t seed)
{
    return pat_find_bad_seed(p, n, seed) == (size_t)-1;
}

/* The usual case: the seed is the block's own address and size. */
__attribute__((unused)) static void pat_fill(void *p, size_t n)
{
    pat_fill_seed(p, n, pat_seed(p, n));
}

__attribute__((unused)) static int pat_check(const void *p, size_t n)
{
    return pat_check_seed(p, n, pat_seed(p, n));
}

__attribute__((unused)) static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

#endif
