/* The size classes: pymalloc's 32 of 16 bytes, then the medium tier's 36,
 * four per doubling up to 256 KiB, and how many pools each medium class's
 * runs take (the rule is explained in internal.h). */
#include "internal.h"

class_info_t pool_classes[NCLASSES];
/* Until start-up reads the environment, only the small classes: a request
 * that finds the threshold this low goes to the system allocator, whose
 * path starts the allocator up. */
_Atomic size_t pool_threshold = POOL_SMALL_REQUEST_THRESHOLD;

_Static_assert(POOL_DEFAULT_THRESHOLD >= POOL_SMALL_REQUEST_THRESHOLD &&
               POOL_DEFAULT_THRESHOLD <= POOL_MEDIUM_MAX,
               "the pool threshold lies between 512 bytes and 256 KiB");

/* The fewest pools holding at least 8 blocks with at most 1/16 lost; failing
 * that (blocks above 32 KiB), the most blocks within that loss. */
static unsigned run_pools(size_t size)
{
    unsigned best = 0, best_blocks = 0;
    for (unsigned k = 1; k <= MAX_RUN_POOLS; k++) {
        size_t bytes = (size_t)k * POOL_POOL_SIZE, nb = bytes / size;
        if (nb == 0 || (bytes - nb * size) * 16 > bytes)
            continue;
        if (nb >= 8)
            return k;
        if (nb > best_blocks) {
            best = k;
            best_blocks = (unsigned)nb;
        }
    }
    return best;
}

void classes_init(void)
{
    for (unsigned c = 0; c < NCLASSES; c++) {
        class_info_t *ci = &pool_classes[c];
        ci->size = pool_class_size(c);
        ci->pools = (uint8_t)(c < NSMALL ? 1 : run_pools(ci->size));
        ci->blocks = (uint16_t)((size_t)ci->pools * POOL_POOL_SIZE / ci->size);
    }
}

bool classes_set_threshold(size_t n)
{
    if (n < POOL_SMALL_REQUEST_THRESHOLD || n > POOL_MEDIUM_MAX)
        return false;
    atomic_store_explicit(&pool_threshold, n, memory_order_relaxed);
    return true;
}
