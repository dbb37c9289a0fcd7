/*
 * The trace reader: index the chunks, then merge the threads' records by
 * time with one cursor per thread and a binary heap of cursors. A thread
 * joins the heap (and gets a read window) only when the merge reaches its
 * first chunk, and leaves when its last record is out, so a program that
 * started a million short-lived threads costs a million small index
 * entries, not a million windows.
 */
#define _GNU_SOURCE
#include "trace_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WINDOW 4096u   /* bytes of payload a cursor holds at a time */

typedef struct {
    uint64_t offset;   /* of the chunk header */
    uint64_t base;     /* ticks */
    uint32_t records, payload;
} chunk_t;

typedef struct {
    uint32_t tid;
    uint32_t *chunks;  /* indexes into r->chunks, in file order */
    uint32_t nchunks, cap;
    /* the cursor */
    uint32_t at;                 /* current chunk (index into chunks[]) */
    uint32_t left;               /* records left in the current chunk */
    uint64_t pos, end;           /* file offsets of the payload still unread */
    uint64_t time, addr;         /* running values */
    uint8_t *buf;                /* WINDOW bytes while in the heap */
    uint32_t blen, boff;
    trace_record_t next;         /* decoded, waiting in the heap */
} thread_t;

/* ticks -> ns: the line through the earliest and latest (ticks, ns) pair */
typedef struct {
    uint64_t lo_ticks, lo_ns, hi_ticks, hi_ns;
    bool     any;
    double   scale;
} clock_map_t;

struct trace_reader {
    int fd;
    trace_info_t info;
    uint32_t chunk_size;         /* by version */
    clock_map_t clock;
    chunk_t *chunks;
    uint32_t nchunks, chunks_cap;
    thread_t *threads;
    uint32_t nthreads, threads_cap;
    uint32_t *tid_slots;         /* hash of tid -> thread index + 1 */
    uint32_t tid_cap;            /* a power of two, at least twice nthreads */
    uint32_t *order;             /* threads by their first chunk's time */
    uint32_t pending;            /* order[pending...] have not joined yet */
    uint32_t *heap;              /* thread indexes, a min-heap on next.time_ns */
    uint32_t nheap;
    int failed;
    char err[256];
};

static int fail(trace_reader_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(trace_reader_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    r->failed = 1;
    return -1;
}

static int read_at(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

/* v (an array of *cap elements of size sz holding n) with room for one more:
 * v itself, or a larger copy; NULL when out of memory (v is left alone). */
static void *grown(void *v, uint32_t *cap, uint32_t n, size_t sz, uint32_t first)
{
    if (n < *cap)
        return v;
    uint32_t c = *cap ? *cap * 2 : first;
    void *p = realloc(v, (size_t)c * sz);
    if (p)
        *cap = c;
    return p;
}

/* ---- ticks to nanoseconds ------------------------------------------------------ */

static void clock_pair(trace_reader_t *r, uint64_t ticks, uint64_t ns)
{
    clock_map_t *c = &r->clock;
    if (!c->any || ticks < c->lo_ticks) {
        c->lo_ticks = ticks;
        c->lo_ns = ns;
    }
    if (!c->any || ticks > c->hi_ticks) {
        c->hi_ticks = ticks;
        c->hi_ns = ns;
    }
    c->any = true;
}

/* Version 1, one pair, or pairs that make no sense (a hostile file): the
 * ticks are taken as nanoseconds. */
static void clock_fit(trace_reader_t *r)
{
    clock_map_t *c = &r->clock;
    c->scale = 1;
    if (c->any && c->hi_ticks > c->lo_ticks && c->hi_ns >= c->lo_ns) {
        double s = (double)(c->hi_ns - c->lo_ns) / (double)(c->hi_ticks - c->lo_ticks);
        if (s > 1e-6 && s < 1e6)
            c->scale = s;
    }
    if (c->scale == 1)
        c->lo_ticks = c->lo_ns = 0;
    r->info.ns_per_tick = c->scale;
}

static uint64_t to_ns(const trace_reader_t *r, uint64_t ticks)
{
    const clock_map_t *c = &r->clock;
    if (c->scale == 1 && c->lo_ticks == 0)
        return ticks;
    double ns = (double)c->lo_ns + ((double)ticks - (double)c->lo_ticks) * c->scale;
    return ns <= 0 ? 0 : ns >= 1.8e19 ? UINT64_MAX : (uint64_t)ns;
}

/* ---- opening: header and chunk index --------------------------------------- */

static int read_header(trace_reader_t *r)
{
    uint8_t h[TRACE_HEADER_SIZE];
    if (r->info.file_bytes < TRACE_HEADER_SIZE || read_at(r->fd, h, sizeof h, 0) != 0)
        return fail(r, "offset 0: file too short for a trace header (%llu bytes)",
                    (unsigned long long)r->info.file_bytes);
    if (memcmp(h, TRACE_MAGIC, 8) != 0)
        return fail(r, "offset 0: not a poolalloc trace (bad magic)");
    r->info.version = trace_get_u32(h + 8);
    if ((r->info.version != 1 && r->info.version != TRACE_VERSION) ||
        trace_get_u32(h + 12) != TRACE_HEADER_SIZE)
        return fail(r, "offset 8: unsupported trace version %u", r->info.version);
    r->chunk_size = r->info.version == 1 ? TRACE_CHUNK_SIZE_V1 : TRACE_CHUNK_SIZE;
    r->info.pid = trace_get_u32(h + 16);
    r->info.start_realtime_ns = trace_get_u64(h + 24);
    r->info.start_monotonic_ns = trace_get_u64(h + 32);
    memcpy(r->info.comm, h + 40, 16);
    r->info.comm[16] = 0;
    for (int i = 0; i < 16 && r->info.comm[i]; i++)
        if ((unsigned char)r->info.comm[i] < 32 || (unsigned char)r->info.comm[i] > 126)
            r->info.comm[i] = '?';
    if (r->info.version > 1)
        clock_pair(r, trace_get_u64(h + 56), r->info.start_monotonic_ns);
    return 0;
}

static uint32_t tid_hash(uint32_t tid, uint32_t cap)
{
    return (uint32_t)(((uint64_t)tid * 0x9E3779B97F4A7C15ULL) >> 32) & (cap - 1);
}

static bool tid_rehash(trace_reader_t *r)
{
    uint32_t cap = r->tid_cap ? r->tid_cap * 2 : 64;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return false;
    for (uint32_t i = 0; i < r->nthreads; i++) {
        uint32_t h = tid_hash(r->threads[i].tid, cap);
        while (slots[h])
            h = (h + 1) & (cap - 1);
        slots[h] = i + 1;
    }
    free(r->tid_slots);
    r->tid_slots = slots;
    r->tid_cap = cap;
    return true;
}

static thread_t *thread_for(trace_reader_t *r, uint32_t tid, uint64_t off)
{
    uint32_t h = r->tid_cap ? tid_hash(tid, r->tid_cap) : 0;
    for (; r->tid_cap && r->tid_slots[h]; h = (h + 1) & (r->tid_cap - 1))
        if (r->threads[r->tid_slots[h] - 1].tid == tid)
            return &r->threads[r->tid_slots[h] - 1];
    if (r->nthreads == TRACE_MAX_THREADS) {
        fail(r, "offset %llu: more than %u threads in one trace", (unsigned long long)off,
             TRACE_MAX_THREADS);
        return NULL;
    }
    thread_t *threads = grown(r->threads, &r->threads_cap, r->nthreads, sizeof *threads, 16);
    if (threads)
        r->threads = threads;
    if (!threads || (2 * (r->nthreads + 1) > r->tid_cap && !tid_rehash(r))) {
        fail(r, "out of memory indexing threads");
        return NULL;
    }
    thread_t *t = &r->threads[r->nthreads++];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    h = tid_hash(tid, r->tid_cap);
    while (r->tid_slots[h])
        h = (h + 1) & (r->tid_cap - 1);
    r->tid_slots[h] = r->nthreads;
    return t;
}

static int add_chunk(trace_reader_t *r, const chunk_t *c, uint32_t tid)
{
    if (r->nchunks == TRACE_MAX_CHUNKS)
        return fail(r, "offset %llu: more than %u chunks", (unsigned long long)c->offset,
                    TRACE_MAX_CHUNKS);
    chunk_t *chunks = grown(r->chunks, &r->chunks_cap, r->nchunks, sizeof *chunks, 64);
    if (!chunks)
        return fail(r, "out of memory indexing chunks");
    r->chunks = chunks;
    thread_t *t = thread_for(r, tid, c->offset);
    if (!t)
        return -1;
    uint32_t *mine = grown(t->chunks, &t->cap, t->nchunks, sizeof *mine, 4);
    if (!mine)
        return fail(r, "out of memory indexing chunks");
    t->chunks = mine;
    t->chunks[t->nchunks++] = r->nchunks;
    r->chunks[r->nchunks++] = *c;
    return 0;
}

static int index_chunks(trace_reader_t *r)
{
    uint64_t off = TRACE_HEADER_SIZE, size = r->info.file_bytes, hs = r->chunk_size;
    while (off < size) {
        uint8_t h[TRACE_CHUNK_SIZE];
        if (size - off < hs || read_at(r->fd, h, hs, off) != 0)
            return fail(r, "offset %llu: truncated chunk header (%llu bytes left)",
                        (unsigned long long)off, (unsigned long long)(size - off));
        if (trace_get_u32(h) != TRACE_CHUNK_MAGIC)
            return fail(r, "offset %llu: bad chunk magic", (unsigned long long)off);
        chunk_t c = { .offset = off, .records = trace_get_u32(h + 8),
                      .payload = trace_get_u32(h + 12), .base = trace_get_u64(h + 16) };
        if (c.payload > TRACE_MAX_PAYLOAD || c.records == 0 || c.records > c.payload / 3)
            return fail(r, "offset %llu: implausible chunk (%u records in %u bytes)",
                        (unsigned long long)off, c.records, c.payload);
        if (size - off - hs < c.payload)
            return fail(r, "offset %llu: chunk payload truncated (%u bytes claimed, %llu left)",
                        (unsigned long long)off, c.payload, (unsigned long long)(size - off - hs));
        if (add_chunk(r, &c, trace_get_u32(h + 4)) != 0)
            return -1;
        if (hs > TRACE_CHUNK_SIZE_V1)
            clock_pair(r, trace_get_u64(h + 32), trace_get_u64(h + 40));
        if (r->info.chunks++ == 0 || c.base < r->info.first_ns)
            r->info.first_ns = c.base;
        if (c.base > r->info.last_ns)
            r->info.last_ns = c.base;
        r->info.records += c.records;
        off += hs + c.payload;
    }
    r->info.threads = r->nthreads;
    clock_fit(r);
    r->info.first_ns = to_ns(r, r->info.first_ns);
    r->info.last_ns = to_ns(r, r->info.last_ns);
    return 0;
}

/* Threads in the order they join the merge: by their first chunk's time,
 * ties in file order. */
static int by_first_chunk(const void *a, const void *b, void *arg)
{
    const trace_reader_t *r = arg;
    const chunk_t *x = &r->chunks[r->threads[*(const uint32_t *)a].chunks[0]];
    const chunk_t *y = &r->chunks[r->threads[*(const uint32_t *)b].chunks[0]];
    if (x->base != y->base)
        return x->base < y->base ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int order_threads(trace_reader_t *r)
{
    r->order = malloc((r->nthreads ? r->nthreads : 1) * sizeof *r->order);
    r->heap = malloc((r->nthreads < TRACE_MAX_ACTIVE ? r->nthreads + 1 : TRACE_MAX_ACTIVE) *
                     sizeof *r->heap);
    if (!r->order || !r->heap)
        return fail(r, "out of memory");
    for (uint32_t i = 0; i < r->nthreads; i++)
        r->order[i] = i;
    qsort_r(r->order, r->nthreads, sizeof *r->order, by_first_chunk, r);
    return 0;
}

/* ---- cursors ------------------------------------------------------------------ */

static void cursor_enter_chunk(trace_reader_t *r, thread_t *t)
{
    const chunk_t *c = &r->chunks[t->chunks[t->at]];
    t->left = c->records;
    t->pos = c->offset + r->chunk_size;
    t->end = t->pos + c->payload;
    t->time = c->base;
    t->addr = 0;
    t->blen = t->boff = 0;
}

/* Make sure the window holds TRACE_MAX_RECORD bytes, or the rest of the chunk. */
static int cursor_fill(trace_reader_t *r, thread_t *t)
{
    uint32_t have = t->blen - t->boff;
    if (have >= TRACE_MAX_RECORD || t->pos == t->end)
        return 0;
    memmove(t->buf, t->buf + t->boff, have);
    uint64_t want = t->end - t->pos;
    if (want > WINDOW - have)
        want = WINDOW - have;
    if (read_at(r->fd, t->buf + have, (size_t)want, t->pos) != 0)
        return fail(r, "offset %llu: read error", (unsigned long long)t->pos);
    t->pos += want;
    t->blen = have + (uint32_t)want;
    t->boff = 0;
    return 0;
}

/* Decode the thread's next record into t->next: 1, 0 (thread done), -1. */
static int cursor_advance(trace_reader_t *r, thread_t *t)
{
    while (t->left == 0) {
        if (t->pos != t->end || t->boff != t->blen)
            return fail(r, "offset %llu: chunk has bytes after its last record",
                        (unsigned long long)(t->pos - (t->blen - t->boff)));
        if (++t->at >= t->nchunks)
            return 0;
        cursor_enter_chunk(r, t);
    }
    if (cursor_fill(r, t) != 0)
        return -1;
    uint64_t rec_off = t->pos - (t->blen - t->boff);
    const uint8_t *p = t->buf + t->boff, *end = t->buf + t->blen;
    trace_record_t *rec = &t->next;
    memset(rec, 0, sizeof *rec);
    rec->tid = t->tid;
    uint64_t dt, v;
    if (p >= end)
        return fail(r, "offset %llu: chunk ends before its last record",
                    (unsigned long long)rec_off);
    rec->op = *p++;
    if (rec->op < TRACE_OP_MALLOC || rec->op > TRACE_OP_ALIGNED)
        return fail(r, "offset %llu: unknown operation 0x%02x", (unsigned long long)rec_off,
                    rec->op);
    if (trace_get_varint(&p, end, &dt) != 0)
        goto bad;
    rec->ticks = t->time += dt;
    rec->time_ns = to_ns(r, rec->ticks);
    static const char *const fields[] = {
        [TRACE_OP_MALLOC] = "sr", [TRACE_OP_CALLOC] = "sr", [TRACE_OP_REALLOC] = "psr",
        [TRACE_OP_FREE] = "p", [TRACE_OP_ALIGNED] = "asr",
    };
    for (const char *f = fields[rec->op]; *f; f++) {
        if (trace_get_varint(&p, end, &v) != 0)
            goto bad;
        if (*f == 's') {
            rec->size = v;
        } else if (*f == 'a') {
            rec->alignment = v;
        } else {
            t->addr += (uint64_t)trace_unzigzag(v);
            *(*f == 'p' ? &rec->ptr : &rec->result) = t->addr;
        }
    }
    t->boff = (uint32_t)(p - t->buf);
    t->left--;
    return 1;
bad:
    return fail(r, "offset %llu: malformed %s record (bad or truncated number)",
                (unsigned long long)rec_off, trace_op_name(rec->op));
}

/* ---- the heap of cursors ---------------------------------------------------------- */

static int earlier(const trace_reader_t *r, uint32_t x, uint32_t y)
{
    const thread_t *a = &r->threads[x], *b = &r->threads[y];
    if (a->next.ticks != b->next.ticks)
        return a->next.ticks < b->next.ticks;
    return a->chunks[a->at] < b->chunks[b->at];   /* ties: file order */
}

static void heap_swap(trace_reader_t *r, uint32_t i, uint32_t j)
{
    uint32_t tmp = r->heap[i];
    r->heap[i] = r->heap[j];
    r->heap[j] = tmp;
}

static void heap_down(trace_reader_t *r, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        if (l < r->nheap && earlier(r, r->heap[l], r->heap[m]))
            m = l;
        if (l + 1 < r->nheap && earlier(r, r->heap[l + 1], r->heap[m]))
            m = l + 1;
        if (m == i)
            return;
        heap_swap(r, i, m);
        i = m;
    }
}

static void heap_up(trace_reader_t *r, uint32_t i)
{
    while (i > 0 && earlier(r, r->heap[i], r->heap[(i - 1) / 2])) {
        heap_swap(r, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void leave(thread_t *t)
{
    free(t->buf);
    t->buf = NULL;
}

/* The next pending thread starts reading: its first record enters the heap. */
static int join(trace_reader_t *r, uint32_t i)
{
    thread_t *t = &r->threads[i];
    if (r->nheap == TRACE_MAX_ACTIVE)
        return fail(r, "offset %llu: more than %u threads active at once",
                    (unsigned long long)r->chunks[t->chunks[0]].offset, TRACE_MAX_ACTIVE);
    if (!t->buf && !(t->buf = malloc(WINDOW)))
        return fail(r, "out of memory");
    t->at = 0;
    cursor_enter_chunk(r, t);
    int k = cursor_advance(r, t);
    if (k <= 0) {
        leave(t);
        return k;
    }
    r->heap[r->nheap++] = i;
    heap_up(r, r->nheap - 1);
    return 0;
}

/* Lets in every pending thread whose first chunk starts no later than the
 * earliest record waiting (its records cannot come earlier than that). */
static int join_ready(trace_reader_t *r)
{
    while (r->pending < r->nthreads) {
        uint32_t i = r->order[r->pending];
        const thread_t *t = &r->threads[i];
        if (r->nheap && r->chunks[t->chunks[0]].base > r->threads[r->heap[0]].next.ticks)
            break;
        r->pending++;
        if (join(r, i) != 0)
            return -1;
    }
    return 0;
}

void trace_rewind(trace_reader_t *r)
{
    if (r->failed)
        return;
    while (r->nheap)
        leave(&r->threads[r->heap[--r->nheap]]);
    r->pending = 0;
}

int trace_next(trace_reader_t *r, trace_record_t *rec)
{
    if (r->failed || join_ready(r) != 0)
        return -1;
    if (r->nheap == 0)
        return 0;
    thread_t *t = &r->threads[r->heap[0]];
    *rec = t->next;
    int k = cursor_advance(r, t);
    if (k < 0)
        return -1;
    if (k == 0) {
        leave(t);
        r->heap[0] = r->heap[--r->nheap];
    }
    heap_down(r, 0);
    return 1;
}

/* ---- the rest ---------------------------------------------------------------------- */

trace_reader_t *trace_open_fd(int fd, const char *name, char *err, size_t errlen)
{
    trace_reader_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "%s: out of memory", name);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    r->fd = fd;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fail(r, "%s", strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        fail(r, "not a regular file");
    } else {
        r->info.file_bytes = (uint64_t)st.st_size;
        if (read_header(r) == 0 && index_chunks(r) == 0)
            order_threads(r);
    }
    if (r->failed) {
        snprintf(err, errlen, "%s: %s", name, r->err);
        trace_close(r);
        return NULL;
    }
    return r;
}

trace_reader_t *trace_open(const char *path, char *err, size_t errlen)
{
    /* O_NONBLOCK: a fifo must not hang the open; it is refused right after */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    return trace_open_fd(fd, path, err, errlen);
}

const char *trace_error(const trace_reader_t *r) { return r->err; }
const trace_info_t *trace_info(const trace_reader_t *r) { return &r->info; }

void trace_close(trace_reader_t *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->nthreads; i++) {
        free(r->threads[i].chunks);
        free(r->threads[i].buf);
    }
    free(r->threads);
    free(r->tid_slots);
    free(r->order);
    free(r->heap);
    free(r->chunks);
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

const char *trace_op_name(int op)
{
    switch (op) {
    case TRACE_OP_MALLOC: return "malloc";
    case TRACE_OP_CALLOC: return "calloc";
    case TRACE_OP_REALLOC: return "realloc";
    case TRACE_OP_FREE: return "free";
    case TRACE_OP_ALIGNED: return "aligned_alloc";
    default: return "unknown";
    }
}
