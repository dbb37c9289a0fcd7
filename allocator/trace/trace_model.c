/*
 * The trace model (see trace_model.h): an open-addressing table of live
 * blocks keyed by the program's address (linear probing, backward-shift
 * deletion, so no tombstones pile up over a long replay), and the counters.
 */
#include "trace_model.h"

#include <stdlib.h>
#include <string.h>

struct trace_model {
    tm_limits_t lim;
    tm_ops_t    ops;
    bool        real;        /* ops given: blocks are held only if made */
    tm_block_t *slots;
    uint64_t    n, cap;      /* cap: a power of two, or 0 */
    unsigned    bits;
    tm_stats_t  st;
    tm_anomaly_t first;      /* the first anomaly, for explaining it */
};

static char counted;          /* the block of every tracked block in a summary */

/* Counts an anomaly of rec; the first is kept whole (with the live block it
 * met, if any) so that a tool can say where the trace went wrong. */
static void anomaly(trace_model_t *m, int kind, const trace_record_t *rec, const tm_block_t *live)
{
    if (m->first.records == 0) {
        m->first.kind = kind;
        m->first.records = m->st.records;
        m->first.rec = *rec;
        m->first.has_live = live != NULL;
        if (live)
            m->first.live = *live;
    }
    m->st.anomalies[kind]++;
}

/* ---- the table --------------------------------------------------------------- */

static uint64_t slot_of(const trace_model_t *m, uint64_t addr)
{
    return ((addr >> 4) * 0x9E3779B97F4A7C15ULL) >> (64 - m->bits);
}

/* Index of addr's slot, or cap when absent. */
static uint64_t lookup(const trace_model_t *m, uint64_t addr)
{
    if (!m->cap)
        return 0;
    for (uint64_t i = slot_of(m, addr);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].addr == addr)
            return i;
        if (m->slots[i].addr == 0)
            return m->cap;
    }
}

static void place(trace_model_t *m, const tm_block_t *b)
{
    uint64_t i = slot_of(m, b->addr);
    while (m->slots[i].addr)
        i = (i + 1) & (m->cap - 1);
    m->slots[i] = *b;
    m->n++;
}

/* Room for one more at a load of at most 3/4; false when out of memory. */
static bool make_room(trace_model_t *m)
{
    if (4 * (m->n + 1) <= 3 * m->cap)
        return true;
    unsigned bits = m->cap ? m->bits + 1 : 10;
    tm_block_t *old = m->slots;
    uint64_t old_cap = m->cap;
    m->slots = calloc((size_t)1 << bits, sizeof *m->slots);
    if (!m->slots) {
        m->slots = old;
        return false;
    }
    m->cap = (uint64_t)1 << bits;
    m->bits = bits;
    m->n = 0;
    for (uint64_t i = 0; i < old_cap; i++)
        if (old[i].addr)
            place(m, &old[i]);
    free(old);
    return true;
}

/* Backward-shift deletion: later members of the probe run move up. */
static void remove_at(trace_model_t *m, uint64_t i)
{
    uint64_t mask = m->cap - 1;
    for (uint64_t j = (i + 1) & mask; m->slots[j].addr; j = (j + 1) & mask) {
        uint64_t home = slot_of(m, m->slots[j].addr);
        /* j may move to i when its home is not in (i, j] (cyclically) */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    memset(&m->slots[i], 0, sizeof m->slots[i]);
    m->n--;
}

/* ---- counting ------------------------------------------------------------------ */

static unsigned log2_bucket(uint64_t v, unsigned buckets)
{
    unsigned b = v ? 64u - (unsigned)__builtin_clzll(v) : 0;
    return b < buckets ? b : buckets - 1;
}

uint64_t tm_bucket_floor(unsigned i) { return i ? (uint64_t)1 << (i - 1) : 0; }

static bool held(const tm_block_t *b) { return b->block != NULL; }

static void gain(trace_model_t *m, const tm_block_t *b, uint64_t now)
{
    m->st.live_bytes += b->size;
    m->st.live_blocks++;
    if (m->st.live_blocks > m->st.peak_blocks)
        m->st.peak_blocks = m->st.live_blocks;
    if (m->st.live_bytes > m->st.peak_bytes) {
        m->st.peak_bytes = m->st.live_bytes;
        m->st.peak_time_ns = now - m->st.first_ns;
    }
}

static void lose(trace_model_t *m, const tm_block_t *b)
{
    m->st.live_bytes -= b->size;
    m->st.live_blocks--;
}

/* Gives up the block in slot i: released if held, then forgotten. */
static void drop(trace_model_t *m, uint64_t i, const trace_record_t *rec)
{
    tm_block_t *b = &m->slots[i];
    if (held(b)) {
        lose(m, b);
        if (m->real)
            m->ops.release(m->ops.ctx, b, rec);
    }
    remove_at(m, i);
}

/* Makes the replay's block for b (or marks it counted in a summary). */
static void make(trace_model_t *m, tm_block_t *b, const trace_record_t *rec)
{
    uint64_t alignment = rec->op == TRACE_OP_ALIGNED ? rec->alignment : 0;
    bool too_large = b->size > m->lim.max_request || alignment > m->lim.max_alignment;
    if (too_large)
        anomaly(m, TM_TOO_LARGE, rec, NULL);
    if (!m->real) {
        b->block = &counted;
    } else if (too_large || !m->ops.alloc(m->ops.ctx, b, rec)) {
        b->block = NULL;
        m->st.refused += !too_large;
    }
}

static void record_size(trace_model_t *m, uint64_t size)
{
    m->st.sizes[log2_bucket(size, TM_SIZE_BUCKETS)]++;
}

static void record_end_of_life(trace_model_t *m, const tm_block_t *b, const trace_record_t *rec)
{
    m->st.lifetimes[log2_bucket(rec->time_ns - b->time_ns, TM_LIFE_BUCKETS)]++;
    m->st.cross_thread_frees += b->tid != rec->tid;
}

/* An allocation returned addr: a new block of size bytes. */
static void alloc_block(trace_model_t *m, const trace_record_t *rec)
{
    uint64_t i = lookup(m, rec->result);
    if (i < m->cap) {
        anomaly(m, TM_ADDRESS_LIVE, rec, &m->slots[i]);
        drop(m, i, rec);
    }
    if (m->n >= m->lim.max_live || !make_room(m)) {
        anomaly(m, TM_TOO_MANY, rec, NULL);
        return;
    }
    tm_block_t b = { .addr = rec->result, .size = rec->size, .time_ns = rec->time_ns,
                     .tid = rec->tid };
    make(m, &b, rec);
    place(m, &b);
    if (held(&b))
        gain(m, &b, rec->time_ns);
}

static void on_alloc(trace_model_t *m, const trace_record_t *rec)
{
    record_size(m, rec->size);
    if (rec->result == 0)
        m->st.failed++;
    else
        alloc_block(m, rec);
}

static void on_free(trace_model_t *m, const trace_record_t *rec)
{
    uint64_t i = lookup(m, rec->ptr);
    if (i == m->cap) {
        anomaly(m, TM_FREE_UNKNOWN, rec, NULL);
        return;
    }
    record_end_of_life(m, &m->slots[i], rec);
    drop(m, i, rec);
}

/* The block moves to rec->result with the new size; resized in place by
 * the replay when it holds it, made afresh when it did not. */
static void move_block(trace_model_t *m, uint64_t i, const trace_record_t *rec)
{
    tm_block_t b = m->slots[i];
    remove_at(m, i);
    if (held(&b))
        lose(m, &b);
    uint64_t j = rec->result != rec->ptr ? lookup(m, rec->result) : m->cap;
    if (j < m->cap) {
        anomaly(m, TM_ADDRESS_LIVE, rec, &m->slots[j]);
        drop(m, j, rec);
    }
    b.addr = rec->result;
    if (!m->real || !held(&b)) {
        b.size = rec->size;
        make(m, &b, rec);
    } else if (rec->size > m->lim.max_request || !m->ops.resize(m->ops.ctx, &b, rec->size)) {
        if (rec->size > m->lim.max_request)
            anomaly(m, TM_TOO_LARGE, rec, NULL);
        else
            m->st.refused++;
        m->ops.release(m->ops.ctx, &b, rec);   /* at the size the replay holds */
        b.block = NULL;
    }
    b.size = rec->size;
    place(m, &b);                      /* the slot freed above makes room */
    if (held(&b))
        gain(m, &b, rec->time_ns);
}

static void on_realloc(trace_model_t *m, const trace_record_t *rec)
{
    if (rec->ptr == 0) {               /* realloc(NULL, n) is malloc(n) */
        on_alloc(m, rec);
        return;
    }
    record_size(m, rec->size);
    uint64_t i = lookup(m, rec->ptr);
    if (rec->result == 0) {
        if (rec->size != 0) {          /* failed: the old block stays */
            m->st.failed++;
            return;
        }
        m->st.realloc_frees++;  /* realloc(p, 0) frees p */
        if (i == m->cap) {
            anomaly(m, TM_FREE_UNKNOWN, rec, NULL);
            return;
        }
        record_end_of_life(m, &m->slots[i], rec);
        drop(m, i, rec);
        return;
    }
    if (i == m->cap) {
        anomaly(m, TM_REALLOC_UNKNOWN, rec, NULL);
        alloc_block(m, rec);
        return;
    }
    move_block(m, i, rec);
}

void tm_apply(trace_model_t *m, const trace_record_t *rec)
{
    if (m->st.records++ == 0)
        m->st.first_ns = rec->time_ns;
    if (rec->time_ns > m->st.last_ns)
        m->st.last_ns = rec->time_ns;
    if (rec->op <= TRACE_OP_ALIGNED)
        m->st.ops[rec->op]++;
    switch (rec->op) {
    case TRACE_OP_MALLOC:
    case TRACE_OP_CALLOC:
    case TRACE_OP_ALIGNED: on_alloc(m, rec); break;
    case TRACE_OP_FREE: on_free(m, rec); break;
    case TRACE_OP_REALLOC: on_realloc(m, rec); break;
    default: break;
    }
}

/* ---- the rest ----------------------------------------------------------------------- */

trace_model_t *tm_new(const tm_limits_t *lim, const tm_ops_t *ops)
{
    trace_model_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->lim = *lim;
    if (ops) {
        m->ops = *ops;
        m->real = true;
    }
    return m;
}

void tm_finish(trace_model_t *m, uint64_t *end_bytes, uint64_t *end_blocks)
{
    if (end_bytes)
        *end_bytes = m->st.live_bytes;
    if (end_blocks)
        *end_blocks = m->st.live_blocks;
    for (uint64_t i = 0; i < m->cap; i++) {
        tm_block_t *b = &m->slots[i];
        if (b->addr && held(b) && m->real)
            m->ops.release(m->ops.ctx, b, NULL);
    }
    if (m->cap)
        memset(m->slots, 0, m->cap * sizeof *m->slots);
    m->n = 0;
    m->st.live_bytes = m->st.live_blocks = 0;
}

void tm_free(trace_model_t *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m);
}

const tm_stats_t *tm_stats(const trace_model_t *m) { return &m->st; }

const tm_anomaly_t *tm_first_anomaly(const trace_model_t *m)
{
    return m->first.records ? &m->first : NULL;
}

const char *tm_anomaly_name(int kind)
{
    static const char *const names[TM_ANOMALY_KINDS] = {
        [TM_FREE_UNKNOWN] = "free_unknown", [TM_REALLOC_UNKNOWN] = "realloc_unknown",
        [TM_ADDRESS_LIVE] = "address_live", [TM_TOO_LARGE] = "too_large",
        [TM_TOO_MANY] = "too_many_live",
    };
    return kind >= 0 && kind < TM_ANOMALY_KINDS ? names[kind] : "unknown";
}
