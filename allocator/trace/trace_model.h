/*
 * What a trace does to the heap: the blocks it holds (keyed by the traced
 * program's addresses), live bytes and their peak, operation counts,
 * request sizes, lifetimes and anomalies. `pooltrace summary` runs it alone;
 * `pooltrace replay` and poold's replay workload run it with callbacks that
 * really allocate, so both count the same way and their figures compare.
 *
 * Memory is bounded: at most max_live blocks are tracked (a record past it
 * is an anomaly), and the table grows by doubling up to that.
 */
#ifndef POOL_TRACE_MODEL_H
#define POOL_TRACE_MODEL_H

#include "trace_format.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One live block of the traced program. */
typedef struct {
    uint64_t addr;       /* the program's address (the key; 0 = empty slot) */
    uint64_t size;       /* bytes requested */
    uint64_t time_ns;    /* when it was allocated (a realloc keeps the time) */
    void    *block;      /* the replay's own block; NULL: not held */
    uint32_t tid;        /* the thread that allocated it */
    uint32_t seed;       /* the replay's fill pattern */
} tm_block_t;

/* Why a record could not be followed as it was written. */
enum {
    TM_FREE_UNKNOWN,     /* free of an address that is not live */
    TM_REALLOC_UNKNOWN,  /* realloc of an address that is not live (taken as a malloc) */
    TM_ADDRESS_LIVE,     /* an allocation returned an address still live (the old block is dropped) */
    TM_TOO_LARGE,        /* a request above max_request (or an alignment above max_alignment): not replayed */
    TM_TOO_MANY,         /* more than max_live blocks at once: not tracked */
    TM_ANOMALY_KINDS
};

enum { TM_SIZE_BUCKETS = 48, TM_LIFE_BUCKETS = 48 };

typedef struct {
    uint64_t records;
    uint64_t ops[TRACE_OP_ALIGNED + 1];      /* by TRACE_OP_* */
    uint64_t failed;                          /* allocations the program saw fail */
    uint64_t realloc_frees;                   /* realloc(p, 0), which frees p */
    uint64_t anomalies[TM_ANOMALY_KINDS];
    uint64_t refused;                         /* allocations the replay could not make */
    /* held blocks: every tracked block in a summary, those the replay made */
    uint64_t live_bytes, live_blocks;
    uint64_t peak_bytes, peak_blocks, peak_time_ns;   /* peak time: since the first record */
    uint64_t first_ns, last_ns;
    /* request sizes: bucket 0 is 0 bytes, bucket i holds [2^(i-1), 2^i) */
    uint64_t sizes[TM_SIZE_BUCKETS];
    /* lifetimes of freed blocks: bucket 0 below 1 ns, bucket i [2^(i-1), 2^i) ns */
    uint64_t lifetimes[TM_LIFE_BUCKETS];
    uint64_t cross_thread_frees;              /* freed by another thread than allocated it */
} tm_stats_t;

/* How a replay makes, resizes and releases its own blocks. alloc fills
 * b->block (and b->seed) for b->size bytes as rec asks (its op, its
 * alignment); false when it cannot (counted as refused). resize changes
 * b->block (of b->size bytes) to new_size, keeping it on failure (returns
 * false); the model updates b->size. release
 * frees b->block; rec is the free (NULL at the end of the trace). */
typedef struct {
    bool (*alloc)(void *ctx, tm_block_t *b, const trace_record_t *rec);
    bool (*resize)(void *ctx, tm_block_t *b, uint64_t new_size);
    void (*release)(void *ctx, tm_block_t *b, const trace_record_t *rec);
    void *ctx;
} tm_ops_t;

typedef struct {
    uint64_t max_live;        /* blocks tracked at once */
    uint64_t max_request;     /* bytes; larger requests are not replayed */
    uint64_t max_alignment;
} tm_limits_t;

/* The first anomaly of a trace: what, at which record (counted from 1),
 * and for address_live the block that was still live there. */
typedef struct {
    int            kind;          /* TM_* */
    uint64_t       records;       /* records applied before it, plus one */
    trace_record_t rec;
    bool           has_live;
    tm_block_t     live;
} tm_anomaly_t;

typedef struct trace_model trace_model_t;

/* NULL ops: count only (every tracked block counts as held). */
trace_model_t *tm_new(const tm_limits_t *lim, const tm_ops_t *ops);
void tm_free(trace_model_t *m);   /* does not release held blocks: tm_finish first */

/* Applies one record (in trace order). */
void tm_apply(trace_model_t *m, const trace_record_t *rec);
/* The end of the trace: records what is still live into *end_bytes and
 * *end_blocks (may be NULL), then releases every held block and forgets
 * everything, ready for the next pass. Counters carry on. */
void tm_finish(trace_model_t *m, uint64_t *end_bytes, uint64_t *end_blocks);

const tm_stats_t *tm_stats(const trace_model_t *m);
const tm_anomaly_t *tm_first_anomaly(const trace_model_t *m);   /* NULL: none */

const char *tm_anomaly_name(int kind);   /* "free_unknown", ... */
/* Lower bound of a size or lifetime bucket. */
uint64_t tm_bucket_floor(unsigned i);

#endif
