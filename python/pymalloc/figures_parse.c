/* Reading _PyObject_DebugMallocStats's report; see figures.h. */
#include "figures.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { MAX_LINES = 256, MAX_LINE = 200 };

typedef struct {
    const char *start[MAX_LINES];
    size_t      len[MAX_LINES];
    unsigned    n, at;            /* lines, the next one to read */
    char       *why;
    size_t      why_len;
} lines_t;

static bool fail(lines_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(lines_t *l, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(l->why, l->why_len, "line %u of the malloc statistics: %s", l->at + 1, msg);
    return false;
}

static bool split(const char *text, size_t len, lines_t *l)
{
    const char *p = text, *end = text + len;
    l->n = l->at = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l->n == MAX_LINES || n > MAX_LINE || memchr(p, 0, n))
            return fail(l, "report longer or stranger than any CPython 3.11 writes");
        l->start[l->n] = p;
        l->len[l->n++] = n;
        p += n + (nl != NULL);
    }
    return true;
}

/* The next line as a NUL-terminated copy in buf, or false at the end. */
static bool take(lines_t *l, char buf[MAX_LINE + 1])
{
    if (l->at >= l->n)
        return false;
    memcpy(buf, l->start[l->at], l->len[l->at]);
    buf[l->len[l->at]] = 0;
    l->at++;
    return true;
}

static bool expect_text(lines_t *l, const char *want)
{
    char buf[MAX_LINE + 1];
    if (!take(l, buf))
        return fail(l, "ends where \"%s\" was expected", want);
    if (strcmp(buf, want) != 0) {
        l->at--;
        return fail(l, "\"%.60s\" where \"%s\" was expected", buf, want);
    }
    return true;
}

/* A count as printone() writes it: digits grouped by commas in threes. */
static bool parse_count(const char *s, uint64_t *out)
{
    while (*s == ' ')
        s++;
    uint64_t v = 0;
    int group = 0, groups = 0;
    for (; *s && *s != ' '; s++) {
        if (*s == ',') {
            if (group == 0 || group > 3 || (groups > 0 && group != 3))
                return false;
            groups++;
            group = 0;
            continue;
        }
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
        group++;
    }
    if (group == 0 || (groups > 0 && group != 3))
        return false;
    while (*s == ' ')
        s++;
    *out = v;
    return *s == 0;
}

/* "label<spaces>= value": the label (trailing spaces cut) into label. */
static bool split_pair(char *buf, char **label, uint64_t *value)
{
    char *eq = strrchr(buf, '=');
    if (!eq || !parse_count(eq + 1, value))
        return false;
    *eq = 0;
    for (char *e = eq; e > buf && e[-1] == ' '; e--)
        e[-1] = 0;
    *label = buf;
    return true;
}

/* The next line must be `want = N`. */
static bool expect_pair(lines_t *l, const char *want, uint64_t *value)
{
    char buf[MAX_LINE + 1], *label;
    if (!take(l, buf))
        return fail(l, "ends where \"%s\" was expected", want);
    if (!split_pair(buf, &label, value) || strcmp(label, want) != 0) {
        l->at--;
        return fail(l, "not the \"%s = N\" line expected", want);
    }
    return true;
}

/* The next line is `label = N` and label matches fmt's two numbers. */
static bool expect_pattern(lines_t *l, const char *fmt, const char *what, uint64_t *a,
                           uint64_t *b, uint64_t *value)
{
    char buf[MAX_LINE + 1], *label, tail[2];
    if (!take(l, buf))
        return fail(l, "ends where \"%s\" was expected", what);
    if (!split_pair(buf, &label, value) || sscanf(label, fmt, a, b, tail) != 2) {
        l->at--;
        return fail(l, "not the \"%s = N\" line expected", what);
    }
    return true;
}

static bool peek_is(const lines_t *l, const char *prefix)
{
    size_t n = strlen(prefix);
    return l->at < l->n && l->len[l->at] >= n && memcmp(l->start[l->at], prefix, n) == 0;
}

static bool parse_header(lines_t *l, pymalloc_figures_t *f)
{
    char buf[MAX_LINE + 1], dot[2], rest[2];
    unsigned thr, ncls;
    if (!take(l, buf) ||
        sscanf(buf, "Small block threshold = %u, in %u size classes%1[.]%1s", &thr, &ncls, dot,
               rest) != 3)
        return fail(l, "not the \"Small block threshold = N, in N size classes.\" header");
    if (ncls == 0 || ncls > FIGURES_MAX_CLASSES || thr % ncls != 0 ||
        ((thr / ncls) & (thr / ncls - 1)) != 0)
        return fail(l, "%u size classes up to %u bytes is not a pymalloc geometry", ncls, thr);
    f->small_threshold = thr;
    f->num_classes = ncls;
    f->alignment = thr / ncls;
    return expect_text(l, "") &&
           expect_text(l, "class   size   num pools   blocks in use  avail blocks") &&
           expect_text(l, "-----   ----   ---------   -------------  ------------");
}

static bool parse_classes(lines_t *l, pymalloc_figures_t *f)
{
    char buf[MAX_LINE + 1], tail[2];
    int last = -1;
    for (;;) {
        if (!take(l, buf))
            return fail(l, "ends inside the size-class table");
        if (!buf[0])
            return true;
        unsigned c, size;
        uint64_t pools, used, avail;
        if (sscanf(buf, "%u %u %" SCNu64 " %" SCNu64 " %" SCNu64 " %1s", &c, &size, &pools,
                   &used, &avail, tail) != 5)
            return fail(l, "not a size-class row");
        if ((int)c <= last || c >= f->num_classes || size != (c + 1) * f->alignment ||
            pools == 0)
            return fail(l, "size class %u of %u bytes out of place", c, size);
        last = (int)c;
        f->pools[c] = pools;
        f->blocks_used[c] = used;
        f->blocks_avail[c] = avail;
    }
}

static bool parse_arenas(lines_t *l, pymalloc_figures_t *f)
{
    uint64_t ignored, n, bytes;
    if (peek_is(l, "# times object malloc called") &&
        !expect_pair(l, "# times object malloc called", &ignored))
        return false;
    if (!expect_pair(l, "# arenas allocated total", &f->arenas_total) ||
        !expect_pair(l, "# arenas reclaimed", &f->arenas_reclaimed) ||
        !expect_pair(l, "# arenas highwater mark", &f->arenas_highwater) ||
        !expect_pair(l, "# arenas allocated current", &f->arenas_current) ||
        !expect_pattern(l, "%" SCNu64 " arenas * %" SCNu64 " bytes/arena%1s",
                        "N arenas * S bytes/arena", &n, &f->arena_size, &bytes))
        return false;
    if (n != f->arenas_current || f->arena_size == 0 ||
        f->arena_size > ((uint64_t)1 << 30) || bytes != n * f->arena_size)
        return fail(l, "arena lines disagree");
    return expect_text(l, "");
}

static bool parse_bytes(lines_t *l, pymalloc_figures_t *f)
{
    uint64_t total;
    if (!expect_pair(l, "# bytes in allocated blocks", &f->allocated) ||
        !expect_pair(l, "# bytes in available blocks", &f->available) ||
        !expect_pattern(l, "%" SCNu64 " unused pools * %" SCNu64 " bytes%1s",
                        "N unused pools * S bytes", &f->unused_pools, &f->pool_size,
                        &f->unused) ||
        !expect_pair(l, "# bytes lost to pool headers", &f->headers) ||
        !expect_pair(l, "# bytes lost to quantization", &f->quantization) ||
        !expect_pair(l, "# bytes lost to arena alignment", &f->alignment_lost) ||
        !expect_pair(l, "Total", &total))
        return false;
    if (f->pool_size == 0 || f->pool_size > f->arena_size ||
        f->arena_size % f->pool_size != 0 || f->unused != f->unused_pools * f->pool_size)
        return fail(l, "pool size does not fit the arenas");
    uint64_t parts[] = { f->allocated, f->available, f->unused, f->headers, f->quantization,
                         f->alignment_lost };
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i] > total)
            return fail(l, "a byte kind exceeds the total");
        sum += parts[i];
    }
    if (sum != total || total != f->arenas_current * f->arena_size)
        return fail(l, "the byte kinds do not sum to arenas x arena size");
    return true;
}

/* Only blank lines left? */
static bool at_end(const lines_t *l)
{
    for (unsigned i = l->at; i < l->n; i++)
        if (l->len[i])
            return false;
    return true;
}

static bool parse_radix(lines_t *l, pymalloc_figures_t *f)
{
    if (at_end(l))
        return true;                       /* built without the radix tree */
    if (!expect_text(l, "") || !expect_text(l, "arena map counts"))
        return false;
    f->has_radix = true;
    bool interior = peek_is(l, "# arena map mid nodes");
    if (interior && (!expect_pair(l, "# arena map mid nodes", &f->radix_mid_nodes) ||
                     !expect_pair(l, "# arena map bot nodes", &f->radix_bot_nodes) ||
                     !expect_text(l, "")))
        return false;
    if (!expect_pair(l, "# bytes lost to arena map root", &f->radix_root_bytes))
        return false;
    f->radix_bytes = f->radix_root_bytes;
    if (interior) {
        uint64_t total;
        if (!expect_pair(l, "# bytes lost to arena map mid", &f->radix_mid_bytes) ||
            !expect_pair(l, "# bytes lost to arena map bot", &f->radix_bot_bytes) ||
            !expect_pair(l, "Total", &total))
            return false;
        f->radix_bytes += f->radix_mid_bytes + f->radix_bot_bytes;
        if (f->radix_mid_bytes > total || f->radix_bot_bytes > total || total != f->radix_bytes)
            return fail(l, "the arena map's bytes do not sum to its total");
    }
    return at_end(l) || fail(l, "more than the report CPython 3.11 writes");
}

uint64_t figures_blocks_per_pool(const pymalloc_figures_t *f, unsigned c)
{
    return (f->pool_size - f->pool_header_size) / ((c + 1) * (uint64_t)f->alignment);
}

/* The class table against the byte lines: blocks fill their pools, and
 * their sizes make the allocated, available, header and quantization bytes. */
static bool classes_agree(lines_t *l, pymalloc_figures_t *f)
{
    uint64_t pools = 0, alloc = 0, avail = 0, quant = 0;
    for (unsigned c = 0; c < f->num_classes; c++)
        pools += f->pools[c];
    uint64_t lost = f->alignment_lost / f->pool_size;
    if (f->alignment_lost % f->pool_size != 0 || lost > f->arenas_current ||
        pools + f->unused_pools + lost != f->arenas_current * (f->arena_size / f->pool_size))
        return fail(l, "pools in use, unused and lost do not fill the arenas");
    if (pools ? f->headers % pools != 0 : f->headers != 0)
        return fail(l, "pool header bytes are not one header per pool in use");
    f->pool_header_size = pools ? f->headers / pools : 0;
    if (f->pool_header_size >= f->pool_size / 2)
        return fail(l, "pool headers bigger than half a pool");
    for (unsigned c = 0; c < f->num_classes; c++) {
        uint64_t size = (c + 1) * (uint64_t)f->alignment;
        if (f->blocks_used[c] + f->blocks_avail[c] != f->pools[c] * figures_blocks_per_pool(f, c))
            return fail(l, "class %u: blocks in use and available do not fill its pools", c);
        alloc += f->blocks_used[c] * size;
        avail += f->blocks_avail[c] * size;
        quant += f->pools[c] * ((f->pool_size - f->pool_header_size) % size);
    }
    if (alloc != f->allocated || avail != f->available || quant != f->quantization)
        return fail(l, "the class table does not make the byte lines");
    if (f->arenas_reclaimed != f->arenas_total - f->arenas_current ||
        f->arenas_current > f->arenas_total || f->arenas_highwater < f->arenas_current ||
        f->arenas_highwater > f->arenas_total)
        return fail(l, "arena counts are inconsistent");
    return true;
}

bool figures_parse(const char *text, size_t len, pymalloc_figures_t *out, char *why,
                   size_t why_len)
{
    lines_t l;
    l.why = why;
    l.why_len = why_len;
    memset(out, 0, sizeof *out);
    return split(text, len, &l) && parse_header(&l, out) && parse_classes(&l, out) &&
           parse_arenas(&l, out) && parse_bytes(&l, out) && parse_radix(&l, out) &&
           classes_agree(&l, out);
}
