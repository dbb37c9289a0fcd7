/* libFuzzer target: poold_pymalloc's reader of CPython's malloc statistics
 * report (python/pymalloc/figures_parse.c) and its mapping to the export
 * format (stats_fill.c). Whatever the text, the parser ends with figures or
 * a reason; figures it accepts sum to arenas x arena size, and when they
 * fill a pool_stats_t, poold's segment reader accepts those statistics as a
 * pymalloc segment's: the exporter never publishes what poold refuses. */
#include "export_reader.h"
#include "figures.h"
#include "stats_fill.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pymalloc_figures_t f;
    pool_stats_t st;
    char why[256];
    if (!figures_parse((const char *)data, size, &f, why, sizeof why)) {
        if (!memchr(why, 0, sizeof why) || !why[0])
            abort();                    /* a refusal always says why */
        return 0;
    }
    if (f.allocated + f.available + f.unused + f.headers + f.quantization + f.alignment_lost !=
        f.arenas_current * f.arena_size)
        abort();
    if (stats_fill(&f, &st, why, sizeof why) &&
        !export_stats_valid(&st, EXPORT_ALLOCATOR_PYMALLOC, 0, why, sizeof why))
        abort();                        /* published, then refused by poold */
    return 0;
}
