/*
 * Debug hooks, after CPython's PYTHONMALLOC=debug.
 *
 * Each block gets 16 bytes in front and 16 behind (S = 8):
 *
 *   [size: S bytes, big-endian][API id: 1][FORBIDDEN x S-1][data ...]
 *   [FORBIDDEN x S][serial number: S bytes, big-endian]
 *
 * New data is filled with CLEANBYTE. On free the guards are checked (overflow,
 * underflow, wrong domain, double free), the id, guards and data are filled
 * with DEADBYTE, and the block waits in a quarantine before it really goes
 * back; when it leaves, every DEADBYTE is checked again, which catches writes
 * after free. Any finding prints a report (what, where, how big, which
 * domain, which serial, and the bytes around it) and aborts.
 *
 * Blocks with an alignment above 16 (the preload shim's memalign in debug
 * mode) set bit 7 of the id; the distance back to the real start of the
 * allocation is stored in the S bytes just before the header.
 */
#define _GNU_SOURCE
#include "domains.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLEANBYTE     0xCD
#define DEADBYTE      0xDD
#define FORBIDDENBYTE 0xFD
#define S             8
#define HEAD          (2 * S)
#define TAIL          (2 * S)
#define ALIGNED_FLAG  0x80

typedef struct {
    pool_allocator_t inner;
    char id;                      /* 'r', 'm' or 'o' */
} dbg_ctx_t;

/* ---- reading and writing the guards ----------------------------------------- */

static void put_be(unsigned char *p, uint64_t v)
{
    for (int i = S - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < S; i++)
        v = v << 8 | p[i];
    return v;
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

static _Atomic uint64_t serial_counter;

static void *write_block(unsigned char *hdr, size_t n, char id)
{
    unsigned char *data = hdr + HEAD;
    put_be(hdr, n);
    hdr[S] = (unsigned char)id;
    memset(hdr + S + 1, FORBIDDENBYTE, S - 1);
    memset(data, CLEANBYTE, n);
    memset(data + n, FORBIDDENBYTE, S);
    put_be(data + n + S, atomic_fetch_add(&serial_counter, 1) + 1);
    return data;
}

/* ---- the report ----------------------------------------------------------------- */

typedef struct { char buf[2048]; size_t pos; } report_t;

static void rput(report_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rput(report_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->buf + r->pos, sizeof r->buf - r->pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->pos += (size_t)n < sizeof r->buf - r->pos ? (size_t)n : sizeof r->buf - r->pos - 1;
}

static void rbytes(report_t *r, const char *label, const unsigned char *p, size_t n,
                   int expect)
{
    rput(r, "    %-26s", label);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        rput(r, " %02x", p[i]);
        bad += expect >= 0 && p[i] != expect;
    }
    if (expect >= 0)
        rput(r, bad ? "   *** OUCH: %zu byte(s) altered\n" : "   (intact)\n", bad);
    else
        rput(r, "\n");
}

static __attribute__((noreturn)) void report(const char *problem, const unsigned char *data,
                                             bool header_readable, char freed_via)
{
    report_t r = { .pos = 0 };
    const unsigned char *hdr = data - HEAD;
    char id = (char)(hdr[S] & ~ALIGNED_FLAG);
    rput(&r, "poolalloc debug: %s\n", problem);
    if (header_readable) {
        uint64_t n = get_be(hdr);
        const char *dom = id == 'r' ? "raw" : id == 'm' ? "mem" : id == 'o' ? "obj" : "?";
        rput(&r, "    block at %p: %llu bytes requested through the %s domain (API id '%c')\n",
             (const void *)data, (unsigned long long)n, dom, id);
        if (freed_via)
            rput(&r, "    freed through API id '%c'\n", freed_via);
        rbytes(&r, "guard bytes before:", hdr + S + 1, S - 1, FORBIDDENBYTE);
        rbytes(&r, "guard bytes after:", data + n, S, FORBIDDENBYTE);
        rput(&r, "    serial number: %llu\n", (unsigned long long)get_be(data + n + S));
        size_t show = n < 8 ? (size_t)n : 8;
        rbytes(&r, "first bytes of the block:", data, show, -1);
        if (n > 8)
            rbytes(&r, "last bytes of the block:", data + n - show, show, -1);
    } else {
        rput(&r, "    block at %p; its header is not intact:\n", (const void *)data);
        rbytes(&r, "16 bytes before the block:", hdr, HEAD, -1);
    }
    rput(&r, "poolalloc debug: fatal error, aborting\n");
    ssize_t w = write(STDERR_FILENO, r.buf, r.pos);
    (void)w;
    abort();
}

static __attribute__((noreturn)) void report_write_after_free(const unsigned char *data,
                                                              size_t n)
{
    report_t r = { .pos = 0 };
    size_t off = 0;
    while (off < n + S && data[off] == DEADBYTE)
        off++;
    rput(&r, "poolalloc debug: write after free (a freed block was changed while it sat "
             "in the quarantine)\n");
    rput(&r, "    block at %p: %zu bytes, serial number %llu\n", (const void *)data, n,
         (unsigned long long)get_be(data + n + S));
    if (off < n)
        rput(&r, "    first changed byte: offset %zu of the block\n", off);
    else if (off < n + S)
        rput(&r, "    first changed byte: guard byte %zu after the block\n", off - n);
    else
        rput(&r, "    changed bytes: in the 8 guard bytes before the block\n");
    size_t from = off < n + S ? (off >= 8 ? off - 8 : 0) : 0;
    size_t len = n + S - from < 24 ? n + S - from : 24;
    char label[48];
    snprintf(label, sizeof label, "bytes from offset %zu:", from);
    rbytes(&r, label, data + from, len, DEADBYTE);
    rput(&r, "poolalloc debug: fatal error, aborting\n");
    ssize_t w = write(STDERR_FILENO, r.buf, r.pos);
    (void)w;
    abort();
}

static bool in_quarantine(const unsigned char *data);

/* The size and serial are only trustworthy while the block waits in the
 * quarantine: once it has gone back to the inner allocator, that allocator
 * may have written over them. */
static __attribute__((noreturn)) void report_double_free(const unsigned char *data, char via)
{
    report_t r = { .pos = 0 };
    rput(&r, "poolalloc debug: double free (this block was already freed)\n");
    if (in_quarantine(data)) {
        uint64_t n = get_be(data - HEAD);
        rput(&r, "    block at %p: %llu bytes, serial number %llu, freed again through API id "
                 "'%c'\n", (const void *)data, (unsigned long long)n,
             (unsigned long long)get_be(data + n + S), via);
        rput(&r, "    (the first free filled its id, guards and data with 0x%02x)\n", DEADBYTE);
        rbytes(&r, "first bytes of the block:", data, n < 8 ? (size_t)n : 8, -1);
    } else {
        rput(&r, "    block at %p, freed again through API id '%c'; it has left the "
                 "quarantine, so its size is no longer known\n", (const void *)data, via);
    }
    rput(&r, "poolalloc debug: fatal error, aborting\n");
    ssize_t w = write(STDERR_FILENO, r.buf, r.pos);
    (void)w;
    abort();
}

/* Check a block handed back through the API id `via`. */
static void check_block(const unsigned char *data, char via)
{
    const unsigned char *hdr = data - HEAD;
    unsigned char id = hdr[S] & ~ALIGNED_FLAG;
    if (hdr[S] == DEADBYTE && all_bytes(hdr + S + 1, S - 1, DEADBYTE))
        report_double_free(data, via);
    if (!all_bytes(hdr + S + 1, S - 1, FORBIDDENBYTE) || (id != 'r' && id != 'm' && id != 'o'))
        report("buffer underflow (the guard bytes before the block were overwritten), "
               "or a pointer the debug hooks never returned", data, id == 'r' || id == 'm' ||
               id == 'o', via);
    if (id != (unsigned char)via) {
        char what[160];
        snprintf(what, sizeof what, "freed through the wrong domain: allocated with API '%c', "
                 "freed with API '%c'", id, via);
        report(what, data, true, via);
    }
    uint64_t n = get_be(hdr);
    if (n > PTRDIFF_MAX)
        report("buffer underflow (the recorded size was overwritten)", data, false, via);
    if (!all_bytes(data + n, S, FORBIDDENBYTE))
        report("buffer overflow (the guard bytes after the block were overwritten)",
               data, true, via);
}

static unsigned char *raw_start(unsigned char *data)
{
    unsigned char *hdr = data - HEAD;
    return (hdr[S] & ALIGNED_FLAG) ? hdr - get_be(hdr - S) : hdr;
}

/* ---- the quarantine ----------------------------------------------------------------- */

#define QUARANTINE_SLOTS 4096
#define QUARANTINE_BYTES (16u << 20)

typedef struct {
    unsigned char *data, *raw;    /* raw: what the inner allocator returned */
    const dbg_ctx_t *ctx;
} qentry_t;

static qentry_t quarantine[QUARANTINE_SLOTS];
static size_t q_head, q_count, q_bytes;
pthread_mutex_t pool_debug_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t block_bytes(const unsigned char *data) { return get_be(data - HEAD); }

static bool in_quarantine(const unsigned char *data)
{
    bool found = false;
    pthread_mutex_lock(&pool_debug_lock);
    for (size_t i = 0; i < q_count && !found; i++)
        found = quarantine[(q_head + i) % QUARANTINE_SLOTS].data == data;
    pthread_mutex_unlock(&pool_debug_lock);
    return found;
}

/* A block leaving quarantine must still be DEADBYTE everywhere we wrote it. */
static void release_block(const qentry_t *e)
{
    unsigned char *data = e->data;
    size_t n = block_bytes(data);
    const unsigned char *hdr = data - HEAD;
    bool intact = hdr[S] == DEADBYTE && all_bytes(hdr + S + 1, S - 1, DEADBYTE) &&
                  all_bytes(data, n + S, DEADBYTE);
    if (!intact)
        report_write_after_free(data, n);
    e->ctx->inner.free(e->ctx->inner.ctx, e->raw);
}

static void quarantine_add(unsigned char *data, unsigned char *raw, const dbg_ctx_t *ctx)
{
    qentry_t out[2];
    int nout = 0;
    size_t n = block_bytes(data) + HEAD + TAIL;
    pthread_mutex_lock(&pool_debug_lock);
    while (q_count && (q_count == QUARANTINE_SLOTS || q_bytes + n > QUARANTINE_BYTES) &&
           nout < 2) {
        qentry_t *e = &quarantine[q_head];
        out[nout++] = *e;
        q_bytes -= block_bytes(e->data) + HEAD + TAIL;
        q_head = (q_head + 1) % QUARANTINE_SLOTS;
        q_count--;
    }
    if (q_count < QUARANTINE_SLOTS && q_bytes + n <= QUARANTINE_BYTES) {
        quarantine[(q_head + q_count) % QUARANTINE_SLOTS] = (qentry_t){ data, raw, ctx };
        q_count++;
        q_bytes += n;
        data = NULL;
    }
    pthread_mutex_unlock(&pool_debug_lock);
    for (int i = 0; i < nout; i++)
        release_block(&out[i]);
    if (data)   /* bigger than the whole quarantine: check and release now */
        release_block(&(qentry_t){ data, raw, ctx });
}

/* ---- the hooks -------------------------------------------------------------------------- */

static void *dbg_malloc(void *vctx, size_t n)
{
    const dbg_ctx_t *ctx = vctx;
    if (n > (size_t)PTRDIFF_MAX - HEAD - TAIL) {
        errno = ENOMEM;
        return NULL;
    }
    unsigned char *hdr = ctx->inner.malloc(ctx->inner.ctx, n + HEAD + TAIL);
    return hdr ? write_block(hdr, n, ctx->id) : NULL;
}

static void *dbg_calloc(void *vctx, size_t nelem, size_t elsize)
{
    size_t n;
    if (__builtin_mul_overflow(nelem, elsize, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = dbg_malloc(vctx, n);
    if (p)
        memset(p, 0, n);
    return p;
}

static void dbg_free(void *vctx, void *p)
{
    const dbg_ctx_t *ctx = vctx;
    if (!p)
        return;
    unsigned char *data = p;
    check_block(data, ctx->id);
    size_t n = block_bytes(data);
    unsigned char *raw = raw_start(data);
    memset(data - S, DEADBYTE, S);          /* id + leading guards; keep the size */
    memset(data, DEADBYTE, n + S);          /* data + trailing guards; keep the serial */
    quarantine_add(data, raw, ctx);
}

static void *dbg_realloc(void *vctx, void *p, size_t n)
{
    const dbg_ctx_t *ctx = vctx;
    if (!p)
        return dbg_malloc(vctx, n);
    check_block(p, ctx->id);
    void *q = dbg_malloc(vctx, n);
    if (!q)
        return NULL;
    size_t old = block_bytes(p);
    memcpy(q, p, old < n ? old : n);
    dbg_free(vctx, p);
    return q;
}

/* ---- installing them ---------------------------------------------------------------------- */

static bool is_hooks(const pool_allocator_t *a) { return a->malloc == dbg_malloc; }

static pool_allocator_t hooks_for(dbg_ctx_t *ctx)
{
    return (pool_allocator_t){ ctx, dbg_malloc, dbg_calloc, dbg_realloc, dbg_free };
}

bool debug_wrap(pool_domain_t d, const pool_allocator_t *inner, pool_allocator_t *out)
{
    if (is_hooks(inner))
        return false;
    dbg_ctx_t *ctx = os_meta_alloc(sizeof *ctx);
    if (!ctx)
        return false;
    ctx->inner = *inner;
    ctx->id = "rmo"[d];
    *out = hooks_for(ctx);
    return true;
}

void debug_install_static(const pool_allocator_t *_Atomic cur[POOL_NUM_DOMAINS])
{
    static dbg_ctx_t ctx[POOL_NUM_DOMAINS];
    static pool_allocator_t hooks[POOL_NUM_DOMAINS];
    for (int d = 0; d < POOL_NUM_DOMAINS; d++) {
        const pool_allocator_t *inner = atomic_load(&cur[d]);
        if (is_hooks(inner))
            continue;
        ctx[d].inner = *inner;
        ctx[d].id = "rmo"[d];
        hooks[d] = hooks_for(&ctx[d]);
        atomic_store(&cur[d], &hooks[d]);
    }
}

/* Aligned allocation through a domain's debug hooks (for the preload shim). */
void *debug_memalign(const pool_allocator_t *hooks, size_t align, size_t n)
{
    const dbg_ctx_t *ctx = hooks->ctx;
    if (align <= 16)
        return dbg_malloc(hooks->ctx, n);
    if (n > (size_t)PTRDIFF_MAX - HEAD - TAIL - S - align) {
        errno = ENOMEM;
        return NULL;
    }
    unsigned char *raw = ctx->inner.malloc(ctx->inner.ctx, n + HEAD + TAIL + S + align);
    if (!raw)
        return NULL;
    uintptr_t data = ((uintptr_t)raw + S + HEAD + align - 1) & ~(uintptr_t)(align - 1);
    unsigned char *hdr = (unsigned char *)data - HEAD;
    put_be(hdr - S, (uint64_t)(hdr - raw));
    write_block(hdr, n, ctx->id);
    hdr[S] |= ALIGNED_FLAG;
    return (void *)data;
}

bool debug_is_hooks(const pool_allocator_t *a) { return is_hooks(a); }

size_t debug_block_size(const void *p) { return block_bytes(p); }
