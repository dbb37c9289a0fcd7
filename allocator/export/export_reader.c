/* Reading statistics segments safely; see export_reader.h. */
#define _GNU_SOURCE
#include "export_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARENAS ((uint64_t)1 << 27)   /* 128 TiB of arenas: more is a lie */

const char *export_error_name(export_error_t e)
{
    static const char *const names[EXPORT_ERR_COUNT] = {
        [EXPORT_OK] = "ok", [EXPORT_ERR_OPEN] = "open", [EXPORT_ERR_NOT_REGULAR] = "not_regular",
        [EXPORT_ERR_SIZE] = "size", [EXPORT_ERR_UNSTABLE] = "unstable",
        [EXPORT_ERR_MAGIC] = "magic", [EXPORT_ERR_VERSION] = "version", [EXPORT_ERR_PID] = "pid",
        [EXPORT_ERR_NOT_READY] = "not_ready", [EXPORT_ERR_INCONSISTENT] = "inconsistent",
    };
    return (unsigned)e < EXPORT_ERR_COUNT ? names[e] : "unknown";
}

static export_error_t why_fail(export_error_t e, char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static export_error_t why_fail(export_error_t e, char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return e;
}

static bool bytes_add_up(const pool_stats_t *st)
{
    const pool_bytes_t *b = &st->bytes;
    uint64_t parts[] = { b->allocated, b->free_blocks, b->empty_pools, b->untouched,
                         b->pool_headers, b->quantization, b->alignment, b->returned };
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i] > st->mapped_bytes)
            return false;
        sum += parts[i];
    }
    return sum == st->mapped_bytes;
}

/* Every class: its geometry, its pools within the pools in use, its blocks
 * filling its pools; together they make the allocated and free bytes.
 * Each bound is checked before it is used in a product, so nothing wraps. */
static bool classes_fit(const pool_stats_t *st)
{
    uint64_t pools = 0, spans = 0, allocated = 0, free_bytes = 0;
    for (unsigned c = 0; c < POOL_NUM_CLASSES; c++) {
        const pool_class_stats_t *cs = &st->classes[c];
        uint32_t size = pool_class_size(c), run = cs->pools_per_run;
        if (cs->size != size || run < 1 || run > 16 || (c < POOL_NUM_SMALL_CLASSES && run != 1) ||
            cs->blocks_per_pool != run * POOL_POOL_SIZE / size ||
            cs->pools > st->pools_used || cs->pools_full > cs->pools)
            return false;
        uint64_t blocks = cs->pools * cs->blocks_per_pool;
        if (cs->blocks_allocated > blocks || cs->blocks_free > blocks ||
            cs->blocks_allocated + cs->blocks_free != blocks)
            return false;
        pools += cs->pools;
        spans += cs->pools * (run - 1);
        allocated += cs->blocks_allocated * size;
        free_bytes += cs->blocks_free * size;
    }
    return pools == st->pools_used && spans == st->pools_span && allocated == st->bytes.allocated &&
           free_bytes == st->bytes.free_blocks;
}

static bool pools_fit(const pool_stats_t *st)
{
    uint64_t all = st->arenas_current * (POOL_POOLS_PER_ARENA - 1);
    return st->pools_used <= all && st->pools_empty <= all && st->pools_untouched <= all &&
           st->pools_returned <= all && st->pools_span <= all &&
           st->pools_used + st->pools_empty + st->pools_untouched + st->pools_returned +
           st->pools_span == all;
}

bool export_stats_valid(const pool_stats_t *st, char *why, size_t len)
{
    const char *bad = NULL;
    if (st->arena_size != POOL_ARENA_SIZE || st->pool_size != POOL_POOL_SIZE ||
        st->num_classes < POOL_NUM_SMALL_CLASSES || st->num_classes > POOL_NUM_CLASSES ||
        st->pools_per_arena != POOL_POOLS_PER_ARENA - 1 ||
        st->small_threshold < POOL_SMALL_REQUEST_THRESHOLD ||
        st->small_threshold > POOL_MEDIUM_MAX)
        bad = "geometry differs from this build";
    else if (st->arenas_current > MAX_ARENAS || st->arenas_allocated_total > ((uint64_t)1 << 62) ||
             st->arenas_released_total > st->arenas_allocated_total ||
             st->arenas_current != st->arenas_allocated_total - st->arenas_released_total ||
             st->arenas_highwater < st->arenas_current ||
             st->mapped_bytes != st->arenas_current * POOL_ARENA_SIZE)
        bad = "arena counts are inconsistent";
    else if (!pools_fit(st))
        bad = "pool counts do not add up";
    else if (!bytes_add_up(st))
        bad = "byte breakdown does not add up";
    else if (!classes_fit(st))
        bad = "size-class figures are inconsistent";
    else if (st->large_allocations > st->large_mallocs || st->heaps_abandoned > st->heaps)
        bad = "large-block or heap counts are inconsistent";
    if (bad)
        why_fail(EXPORT_ERR_INCONSISTENT, why, len, "%s", bad);
    return bad == NULL;
}

static int read_exact(int fd, void *buf, size_t n, off_t off)
{
    ssize_t k;
    do {
        k = pread(fd, buf, n, off);
    } while (k < 0 && errno == EINTR);
    return k == (ssize_t)n ? 0 : -1;
}

/* Copy the segment between two equal, even sequence numbers. */
static export_error_t stable_copy(int fd, pool_export_segment_t *seg, char *why, size_t len)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t after;
        if (read_exact(fd, seg, sizeof *seg, 0) != 0 ||
            read_exact(fd, &after, sizeof after, offsetof(pool_export_segment_t, seq)) != 0)
            return why_fail(EXPORT_ERR_UNSTABLE, why, len, "short read");
        if (!(seg->seq & 1) && seg->seq == after)
            return EXPORT_OK;
    }
    return why_fail(EXPORT_ERR_UNSTABLE, why, len, "segment kept changing while being read");
}

static export_error_t check_segment(const pool_export_segment_t *seg, uint32_t pid, char *why,
                                    size_t len)
{
    if (memcmp(seg->magic, EXPORT_MAGIC, 8) != 0)
        return why_fail(EXPORT_ERR_MAGIC, why, len, "bad magic");
    if (seg->version != EXPORT_VERSION || seg->segment_size != sizeof *seg ||
        seg->stats_size != sizeof(pool_stats_t))
        return why_fail(EXPORT_ERR_VERSION, why, len, "unsupported segment version or layout");
    if (pid && seg->pid != pid)
        return why_fail(EXPORT_ERR_PID, why, len, "segment names pid %u, file is for %u",
                        seg->pid, pid);
    if (seg->updates == 0)
        return why_fail(EXPORT_ERR_NOT_READY, why, len, "not published yet");
    if (seg->interval_ms == 0 || seg->interval_ms > 3600000 ||
        seg->updated_realtime_ns < seg->start_realtime_ns)
        return why_fail(EXPORT_ERR_INCONSISTENT, why, len, "implausible interval or times");
    if (!export_stats_valid(&seg->stats, why, len))
        return EXPORT_ERR_INCONSISTENT;
    return EXPORT_OK;
}

export_error_t export_read_fd(int fd, uint32_t pid, export_snapshot_t *out, char *why, size_t len)
{
    struct stat st;
    pool_export_segment_t seg;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return why_fail(EXPORT_ERR_NOT_REGULAR, why, len, "not a regular file");
    if ((size_t)st.st_size != sizeof seg)
        return why_fail(EXPORT_ERR_SIZE, why, len, "size %lld, expected %zu",
                        (long long)st.st_size, sizeof seg);
    export_error_t e = stable_copy(fd, &seg, why, len);
    if (e == EXPORT_OK)
        e = check_segment(&seg, pid, why, len);
    if (e != EXPORT_OK)
        return e;
    out->pid = seg.pid;
    for (int i = 0; i < 16; i++) {
        char c = seg.comm[i];
        out->comm[i] = c == 0 ? 0 : (c < 32 || c > 126) ? '?' : c;
    }
    out->comm[16] = 0;
    out->start_realtime_ns = seg.start_realtime_ns;
    out->updated_realtime_ns = seg.updated_realtime_ns;
    out->updates = seg.updates;
    out->interval_ms = seg.interval_ms;
    out->stats = seg.stats;
    return EXPORT_OK;
}
