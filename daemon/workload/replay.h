/* The replay workload's figures, for /metrics and /stats. */
#ifndef POOLD_WORKLOAD_REPLAY_H
#define POOLD_WORKLOAD_REPLAY_H

#include "trace_model.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    bool     active;                       /* a replay runs now */
    char     trace[512];                   /* its file */
    char     comm[17];                     /* the recorded program, from the trace */
    uint32_t pid;
    uint64_t trace_records, trace_threads; /* in one pass */
    uint64_t trace_ns;                     /* recorded duration of one pass */
    double   speed;
    /* cumulative over the life of poold */
    uint64_t loops, records;
    uint64_t anomalies[TM_ANOMALY_KINDS];
} replay_stats_t;

void replay_stats_read(replay_stats_t *out);

#endif
