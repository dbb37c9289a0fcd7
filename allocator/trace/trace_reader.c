/*
 * The trace reader: index the chunks, then merge the threads' records by
 * time with one cursor per thread and a binary heap of cursors.
 */
#define _GNU_SOURCE
#include "trace_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WINDOW 4096u   /* bytes of payload a cursor holds at a time */

typedef struct {
    uint64_t offset;   /* of the chunk header */
    uint64_t base_ns;
    uint32_t records, payload;
    uint32_t thread;   /* index into threads[] */
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
    uint8_t  buf[WINDOW];
    uint32_t blen, boff;
    trace_record_t next;         /* decoded, waiting in the heap */
} thread_t;

struct trace_reader {
    int fd;
    trace_info_t info;
    chunk_t *chunks;
    uint32_t nchunks, chunks_cap;
    thread_t **threads;
    uint32_t nthreads;
    thread_t **heap;             /* min-heap on next.time */
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
    r->nheap = 0;
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
    if (r->info.version != TRACE_VERSION || trace_get_u32(h + 12) != TRACE_HEADER_SIZE)
        return fail(r, "offset 8: unsupported trace version %u", r->info.version);
    r->info.pid = trace_get_u32(h + 16);
    r->info.start_realtime_ns = trace_get_u64(h + 24);
    r->info.start_monotonic_ns = trace_get_u64(h + 32);
    memcpy(r->info.comm, h + 40, 16);
    r->info.comm[16] = 0;
    for (int i = 0; i < 16 && r->info.comm[i]; i++)
        if ((unsigned char)r->info.comm[i] < 32 || (unsigned char)r->info.comm[i] > 126)
            r->info.comm[i] = '?';
    return 0;
}

static thread_t *thread_for(trace_reader_t *r, uint32_t tid, uint64_t off)
{
    for (uint32_t i = r->nthreads; i-- > 0;)   /* recent threads are likeliest */
        if (r->threads[i]->tid == tid)
            return r->threads[i];
    if (r->nthreads == TRACE_MAX_THREADS) {
        fail(r, "offset %llu: more than %u threads in one trace", (unsigned long long)off,
             TRACE_MAX_THREADS);
        return NULL;
    }
    thread_t *t = calloc(1, sizeof *t);
    if (!t) {
        fail(r, "out of memory");
        return NULL;
    }
    t->tid = tid;
    r->threads[r->nthreads++] = t;
    return t;
}

static int add_chunk(trace_reader_t *r, const chunk_t *c, uint32_t tid)
{
    if (r->nchunks == TRACE_MAX_CHUNKS)
        return fail(r, "offset %llu: more than %u chunks", (unsigned long long)c->offset,
                    TRACE_MAX_CHUNKS);
    if (r->nchunks == r->chunks_cap) {
        uint32_t cap = r->chunks_cap ? r->chunks_cap * 2 : 64;
        chunk_t *n = realloc(r->chunks, (size_t)cap * sizeof *n);
        if (!n)
            return fail(r, "out of memory indexing chunks");
        r->chunks = n;
        r->chunks_cap = cap;
    }
    thread_t *t = thread_for(r, tid, c->offset);
    if (!t)
        return -1;
    if (t->nchunks == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 16;
        uint32_t *n = realloc(t->chunks, cap * sizeof *n);
        if (!n)
            return fail(r, "out of memory indexing chunks");
        t->chunks = n;
        t->cap = cap;
    }
    t->chunks[t->nchunks++] = r->nchunks;
    r->chunks[r->nchunks++] = *c;
    return 0;
}

static int index_chunks(trace_reader_t *r)
{
    uint64_t off = TRACE_HEADER_SIZE, size = r->info.file_bytes;
    while (off < size) {
        uint8_t h[TRACE_CHUNK_SIZE];
        if (size - off < TRACE_CHUNK_SIZE || read_at(r->fd, h, sizeof h, off) != 0)
            return fail(r, "offset %llu: truncated chunk header (%llu bytes left)",
                        (unsigned long long)off, (unsigned long long)(size - off));
        if (trace_get_u32(h) != TRACE_CHUNK_MAGIC)
            return fail(r, "offset %llu: bad chunk magic", (unsigned long long)off);
        chunk_t c = { .offset = off, .records = trace_get_u32(h + 8),
                      .payload = trace_get_u32(h + 12), .base_ns = trace_get_u64(h + 16) };
        if (c.payload > TRACE_MAX_PAYLOAD || c.records == 0 || c.records > c.payload / 3)
            return fail(r, "offset %llu: implausible chunk (%u records in %u bytes)",
                        (unsigned long long)off, c.records, c.payload);
        if (size - off - TRACE_CHUNK_SIZE < c.payload)
            return fail(r, "offset %llu: chunk payload truncated (%u bytes claimed, %llu left)",
                        (unsigned long long)off, c.payload,
                        (unsigned long long)(size - off - TRACE_CHUNK_SIZE));
        if (add_chunk(r, &c, trace_get_u32(h + 4)) != 0)
            return -1;
        if (r->info.chunks++ == 0 || c.base_ns < r->info.first_ns)
            r->info.first_ns = c.base_ns;
        if (c.base_ns > r->info.last_ns)
            r->info.last_ns = c.base_ns;
        r->info.records += c.records;
        off += TRACE_CHUNK_SIZE + c.payload;
    }
    r->info.threads = r->nthreads;
    return 0;
}

/* ---- cursors ------------------------------------------------------------------ */

static void cursor_enter_chunk(trace_reader_t *r, thread_t *t)
{
    const chunk_t *c = &r->chunks[t->chunks[t->at]];
    t->left = c->records;
    t->pos = c->offset + TRACE_CHUNK_SIZE;
    t->end = t->pos + c->payload;
    t->time = c->base_ns;
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
    rec->time_ns = t->time += dt;
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

static int earlier(const thread_t *a, const thread_t *b)
{
    if (a->next.time_ns != b->next.time_ns)
        return a->next.time_ns < b->next.time_ns;
    return a->chunks[a->at] < b->chunks[b->at];   /* ties: file order */
}

static void heap_down(trace_reader_t *r, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        if (l < r->nheap && earlier(r->heap[l], r->heap[m]))
            m = l;
        if (l + 1 < r->nheap && earlier(r->heap[l + 1], r->heap[m]))
            m = l + 1;
        if (m == i)
            return;
        thread_t *tmp = r->heap[i];
        r->heap[i] = r->heap[m];
        r->heap[m] = tmp;
        i = m;
    }
}

void trace_rewind(trace_reader_t *r)
{
    if (r->failed)
        return;
    r->nheap = 0;
    for (uint32_t i = 0; i < r->nthreads; i++) {
        thread_t *t = r->threads[i];
        t->at = 0;
        cursor_enter_chunk(r, t);
        int k = cursor_advance(r, t);
        if (k < 0)
            return;
        if (k > 0)
            r->heap[r->nheap++] = t;
    }
    for (uint32_t i = r->nheap / 2; i-- > 0;)
        heap_down(r, i);
}

int trace_next(trace_reader_t *r, trace_record_t *rec)
{
    if (r->failed)
        return -1;
    if (r->nheap == 0)
        return 0;
    thread_t *t = r->heap[0];
    *rec = t->next;
    int k = cursor_advance(r, t);
    if (k < 0)
        return -1;
    if (k == 0)
        r->heap[0] = r->heap[--r->nheap];
    heap_down(r, 0);
    return 1;
}

/* ---- the rest ---------------------------------------------------------------------- */

trace_reader_t *trace_open(const char *path, char *err, size_t errlen)
{
    trace_reader_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->threads = calloc(TRACE_MAX_THREADS, sizeof *r->threads);
    r->heap = calloc(TRACE_MAX_THREADS, sizeof *r->heap);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (!r->threads || !r->heap) {
        fail(r, "out of memory");
    } else if (r->fd < 0 || fstat(r->fd, &st) != 0) {
        fail(r, "%s", strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        fail(r, "not a regular file");
    } else {
        r->info.file_bytes = (uint64_t)st.st_size;
        if (read_header(r) == 0 && index_chunks(r) == 0)
            trace_rewind(r);
    }
    if (r->failed) {
        snprintf(err, errlen, "%s: %s", path, r->err);
        trace_close(r);
        return NULL;
    }
    return r;
}

const char *trace_error(const trace_reader_t *r) { return r->err; }
const trace_info_t *trace_info(const trace_reader_t *r) { return &r->info; }

void trace_close(trace_reader_t *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->nthreads; i++) {
        free(r->threads[i]->chunks);
        free(r->threads[i]);
    }
    free(r->threads);
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
