/*
 * pymalloc's figures in the export format's pool_stats_t.
 *
 * What maps to what: arenas and the byte kinds one to one (pymalloc's
 * "unused pools" are split into empty pools and untouched ones as far as
 * the arena map knows: untouched pools of mapped arenas are untouched, the
 * rest are empty), per class pools / blocks in use / blocks available, its
 * full pools as counted in the mapped arenas. pool_header_size is pymalloc's
 * per-pool header (inside every pool), arena_header_size 0 (pymalloc has no
 * header pool), pools_per_arena the pool slots of an arena (64: pool 63
 * is lost to alignment when the arena does not start on a pool boundary).
 * Operation counters, purging, thread heaps, large blocks and caches are
 * left at 0: pymalloc does not keep them (the segment's `has` says so).
 */
#ifndef POOLD_PYMALLOC_STATS_FILL_H
#define POOLD_PYMALLOC_STATS_FILL_H

#include "arena_map.h"
#include "figures.h"
#include "poolalloc.h"

/* False (with why) when the figures do not fit pool_stats_t's geometry. */
bool stats_fill(const pymalloc_figures_t *f, pool_stats_t *st, char *why, size_t len);
/* Adds what the map knows (full pools, untouched pools); false (the stats
 * untouched) when the map contradicts the report, which must not happen. */
bool stats_add_map(const pymalloc_figures_t *f, const arena_map_summary_t *m, pool_stats_t *st);

#endif
