/*
 * What CPython's pymalloc says about itself, as numbers.
 *
 * CPython 3.11 keeps its obmalloc state in static variables, so the only
 * complete and supported view of it is the report _PyObject_DebugMallocStats
 * writes (the text sys._debugmallocstats() prints). figures_parse() turns
 * that text into pymalloc_figures_t and checks every relation the report
 * promises (the byte kinds sum to arenas x arena size, the class table makes
 * the allocated and available bytes, the pools fill the arenas, ...). The
 * report's format "may change": anything not understood line by line, or
 * any relation that does not hold, is refused with a sentence naming the
 * line, never half-used.
 */
#ifndef POOLD_PYMALLOC_FIGURES_H
#define POOLD_PYMALLOC_FIGURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FIGURES_MAX_CLASSES 64   /* 32-bit builds have 64 classes of 8 bytes */

typedef struct {
    uint32_t small_threshold;     /* "Small block threshold = 512" */
    uint32_t num_classes;         /* "in 32 size classes" */
    uint32_t alignment;           /* small_threshold / num_classes */
    uint64_t arena_size, pool_size;
    uint64_t pool_header_size;    /* derived: header bytes / pools in use */

    /* the class table; classes without pools are not printed (all 0) */
    uint64_t pools[FIGURES_MAX_CLASSES];
    uint64_t blocks_used[FIGURES_MAX_CLASSES];
    uint64_t blocks_avail[FIGURES_MAX_CLASSES];

    uint64_t arenas_total, arenas_reclaimed, arenas_highwater, arenas_current;
    uint64_t unused_pools;

    /* the byte accounting: these six sum to arenas_current * arena_size */
    uint64_t allocated, available, unused, headers, quantization, alignment_lost;

    bool     has_radix;           /* the "arena map counts" block was there */
    uint64_t radix_mid_nodes, radix_bot_nodes;
    uint64_t radix_root_bytes, radix_mid_bytes, radix_bot_bytes, radix_bytes;
} pymalloc_figures_t;

/* Parses the report in text[0..len). Returns true, or false with the reason
 * in why. */
bool figures_parse(const char *text, size_t len, pymalloc_figures_t *out, char *why,
                   size_t why_len);

/* Blocks per pool of class c: what is left of a pool after its header,
 * divided by the block size. */
uint64_t figures_blocks_per_pool(const pymalloc_figures_t *f, unsigned c);

#endif
