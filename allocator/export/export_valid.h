/* Inside the segment reader: the checks shared by both versions. */
#ifndef POOL_EXPORT_VALID_H
#define POOL_EXPORT_VALID_H

#include "export_reader.h"

/* Every group a version 1 segment, or our shim, keeps. */
#define ALL_GROUPS (EXPORT_HAS_OPS | EXPORT_HAS_PURGE | EXPORT_HAS_HEAPS | EXPORT_HAS_LARGE | \
                    EXPORT_HAS_CACHE)

/* Writes the sentence into why and returns e. */
export_error_t export_why(export_error_t e, char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* export_stats_valid without the geometry. */
bool export_stats_consistent(const pool_stats_t *st, uint32_t has, char *why, size_t len);

#endif
