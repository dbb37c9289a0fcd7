/* pooltrace: shared pieces of the subcommands (pooltrace.c). */
#ifndef POOLTRACE_H
#define POOLTRACE_H

#include "trace_model.h"
#include "trace_reader.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum { EXIT_INVALID = 1, EXIT_USAGE = 2 };

/* Options every subcommand understands. */
typedef struct {
    tm_limits_t limits;
    double      speed;      /* replay: 0 = as fast as possible */
    bool        strict;     /* check: anomalies make the trace invalid */
    bool        explain;    /* check: print the first anomaly's records */
} pt_options_t;

/* Called before each record is applied (replay: pacing). */
typedef void (*pt_pace_fn)(void *ctx, const trace_record_t *rec);

/* Reads every record of r into m. Returns 0, or -1 with "PATH: offset N:
 * what" in err. */
int pt_feed(trace_reader_t *r, const char *path, trace_model_t *m, pt_pace_fn pace, void *ctx,
            char *err, size_t errlen);

/* The lines summary and replay both print, so they can be compared:
 * operations, failed allocations, peak, live at the end, anomalies. */
void pt_print_counts(FILE *out, const tm_stats_t *st, uint64_t end_bytes, uint64_t end_blocks);
void pt_print_header(FILE *out, const char *path, const trace_info_t *info);
const char *pt_duration(uint64_t ns, char *buf, size_t len);

int pt_summary(int argc, char **argv, const pt_options_t *o);
int pt_replay(const char *path, const pt_options_t *o);

#endif
