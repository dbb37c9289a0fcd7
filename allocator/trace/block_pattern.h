/* The fill pattern replays write into every block they make and check when
 * they free it (poold's workloads, pooltrace replay): word i of a block is
 * derived from the block's seed and i, so a block that was overwritten,
 * handed out twice or not copied by realloc no longer matches. */
#ifndef POOL_BLOCK_PATTERN_H
#define POOL_BLOCK_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t bp_word(uint32_t seed, size_t i)
{
    return ((uint64_t)seed * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)i * 0xD6E8FEB86659FD93ULL);
}

/* Writes the pattern over bytes [from, size) of p (from the start of the
 * word holding byte `from`: realloc keeps the bytes before it). */
static inline void bp_fill(void *p, size_t from, size_t size, uint32_t seed)
{
    size_t words = size / 8, i;
    uint64_t *w = p;
    for (i = from / 8; i < words; i++)
        w[i] = bp_word(seed, i);
    uint64_t tail = bp_word(seed, words);
    memcpy((char *)p + words * 8, &tail, size % 8);
}

/* True when the first size bytes of p hold the pattern. */
static inline bool bp_intact(const void *p, size_t size, uint32_t seed)
{
    size_t words = size / 8, i;
    const uint64_t *w = p;
    for (i = 0; i < words; i++)
        if (w[i] != bp_word(seed, i))
            return false;
    uint64_t tail = bp_word(seed, words);
    return memcmp((const char *)p + words * 8, &tail, size % 8) == 0;
}

#endif
