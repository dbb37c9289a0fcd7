/* /metrics: one consistent scrape of everything poold knows. */
#ifndef POOLD_METRICS_H
#define POOLD_METRICS_H

#include "expose/metrics_text.h"
#include "service/buf.h"

#include <poolalloc.h>

/* The fragmentation ratio: bytes in pools that serve a size class
 * (allocated + free blocks + pool headers + quantization) divided by the
 * allocated bytes; 0 when nothing is allocated. */
double metrics_fragmentation_ratio(const pool_stats_t *st);

/* Renders a full scrape. Takes one allocator snapshot and derives every
 * allocator figure from it, so sums match within the scrape. */
void metrics_render(buf_t *out, expo_format_t format);

#endif
