/* The human-readable report, laid out like CPython's
 * sys._debugmallocstats(). It is formatted into a caller's buffer and
 * written with write(2), so it can run at exit or in a signal-poor context
 * without allocating. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct { char *buf; size_t len, pos; } out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->pos < o->len ? o->len - o->pos : 0;
    int n = vsnprintf(room ? o->buf + o->pos : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->pos += (size_t)n;
}

/* 1234567 -> "1,234,567" */
static const char *commas(uint64_t v, char *s)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v), j = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            s[j++] = ',';
        s[j++] = tmp[i];
    }
    s[j] = 0;
    return s;
}

static void line(out_t *o, const char *label, uint64_t v)
{
    char s[40];
    put(o, "%-35s= %21s\n", label, commas(v, s));
}

static void size_classes(out_t *o, const pool_stats_t *st)
{
    put(o, "Small block threshold = %u, in %u size classes.\n\n",
        st->small_threshold, st->num_classes);
    put(o, "class   size   num pools   blocks in use  avail blocks\n"
           "-----   ----   ---------   -------------  ------------\n");
    for (unsigned c = 0; c < st->num_classes; c++) {
        const pool_class_stats_t *cs = &st->classes[c];
        if (cs->pools)
            put(o, "%5u %6u %11llu %15llu %13llu\n", c, cs->size,
                (unsigned long long)cs->pools, (unsigned long long)cs->blocks_allocated,
                (unsigned long long)cs->blocks_free);
    }
    put(o, "\n");
}

static void arenas(out_t *o, const pool_stats_t *st)
{
    char label[64];
    line(o, "# arenas allocated total", st->arenas_allocated_total);
    line(o, "# arenas reclaimed", st->arenas_released_total);
    line(o, "# arenas highwater mark", st->arenas_highwater);
    line(o, "# arenas allocated current", st->arenas_current);
    snprintf(label, sizeof label, "%llu arenas * %u bytes/arena",
             (unsigned long long)st->arenas_current, st->arena_size);
    line(o, label, st->mapped_bytes);
    put(o, "\n");
}

static void breakdown(out_t *o, const pool_stats_t *st)
{
    const pool_bytes_t *b = &st->bytes;
    char label[64];
    line(o, "# bytes in allocated blocks", b->allocated);
    line(o, "# bytes in available blocks", b->free_blocks);
    snprintf(label, sizeof label, "%llu unused pools * %u bytes",
             (unsigned long long)st->pools_empty, st->pool_size);
    line(o, label, b->empty_pools);
    snprintf(label, sizeof label, "%llu untouched pools * %u bytes",
             (unsigned long long)st->pools_untouched, st->pool_size);
    line(o, label, b->untouched);
    snprintf(label, sizeof label, "%llu returned pools * %u bytes",
             (unsigned long long)st->pools_returned, st->pool_size);
    line(o, label, b->returned);
    line(o, "# bytes lost to pool headers", b->pool_headers);
    line(o, "# bytes lost to quantization", b->quantization);
    line(o, "# bytes lost to arena alignment", b->alignment);
    line(o, "Total", b->allocated + b->free_blocks + b->empty_pools + b->untouched +
                     b->returned + b->pool_headers + b->quantization + b->alignment);
    put(o, "\n");
}

static void others(out_t *o, const pool_stats_t *st)
{
    line(o, "# large allocations (system)", st->large_allocations);
    line(o, "# bytes in large allocations", st->large_bytes);
    line(o, "# times malloc called", st->ops.malloc);
    line(o, "# times free called", st->ops.free);
    line(o, "# times realloc called", st->ops.realloc);
    line(o, "# cross-thread frees", st->ops.remote_free);
    line(o, "# pools given back (madvise)", st->purged_pools);
    line(o, "# thread heaps", st->heaps);
}

size_t pool_stats_format(const pool_stats_t *st, char *buf, size_t len)
{
    out_t o = { buf, len, 0 };
    size_classes(&o, st);
    arenas(&o, st);
    breakdown(&o, st);
    others(&o, st);
    if (len)
        buf[o.pos < len ? o.pos : len - 1] = 0;
    return o.pos;
}

void pool_stats_print(int fd)
{
    static char buf[16384];   /* static: this may run at exit with little stack */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pool_stats_t st;
    pool_stats_get(&st);
    pthread_mutex_lock(&lock);
    size_t n = pool_stats_format(&st, buf, sizeof buf);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, buf + off, n - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    pthread_mutex_unlock(&lock);
}
