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

static int why_fail(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_fail(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -1;
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

static bool classes_fit(const pool_stats_t *st)
{
    uint64_t pools = 0;
    for (unsigned c = 0; c < POOL_NUM_CLASSES; c++) {
        const pool_class_stats_t *cs = &st->classes[c];
        uint32_t size = (c + 1) * POOL_ALIGNMENT;
        if (cs->size != size || cs->blocks_per_pool != POOL_POOL_SIZE / size ||
            cs->pools > st->pools_used || cs->pools_full > cs->pools ||
            cs->blocks_allocated + cs->blocks_free != cs->pools * cs->blocks_per_pool)
            return false;
        pools += cs->pools;
    }
    return pools == st->pools_used;
}

bool export_stats_valid(const pool_stats_t *st, char *why, size_t len)
{
    const char *bad = NULL;
    if (st->arena_size != POOL_ARENA_SIZE || st->pool_size != POOL_POOL_SIZE ||
        st->num_classes != POOL_NUM_CLASSES || st->pools_per_arena != POOL_POOLS_PER_ARENA - 1 ||
        st->small_threshold != POOL_SMALL_REQUEST_THRESHOLD)
        bad = "geometry differs from this build";
    else if (st->arenas_current > ((uint64_t)1 << 27) ||
             st->arenas_current != st->arenas_allocated_total - st->arenas_released_total ||
             st->arenas_released_total > st->arenas_allocated_total ||
             st->arenas_highwater < st->arenas_current ||
             st->mapped_bytes != st->arenas_current * POOL_ARENA_SIZE)
        bad = "arena counts are inconsistent";
    else if (st->pools_used + st->pools_empty + st->pools_untouched + st->pools_returned !=
             st->arenas_current * (POOL_POOLS_PER_ARENA - 1))
        bad = "pool counts do not add up";
    else if (!bytes_add_up(st))
        bad = "byte breakdown does not add up";
    else if (!classes_fit(st))
        bad = "size-class figures are inconsistent";
    if (bad)
        why_fail(why, len, "%s", bad);
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
static int stable_copy(int fd, pool_export_segment_t *seg, char *why, size_t len)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t after;
        if (read_exact(fd, seg, sizeof *seg, 0) != 0 ||
            read_exact(fd, &after, sizeof after, offsetof(pool_export_segment_t, seq)) != 0)
            return why_fail(why, len, "short read");
        if (!(seg->seq & 1) && seg->seq == after)
            return 0;
    }
    return why_fail(why, len, "segment kept changing while being read");
}

int export_read(const char *path, uint32_t pid, export_snapshot_t *out, char *why, size_t len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return why_fail(why, len, "%s", strerror(errno));
    struct stat st;
    pool_export_segment_t seg;
    int r = -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        why_fail(why, len, "not a regular file");
    else if ((size_t)st.st_size != sizeof seg)
        why_fail(why, len, "size %lld, expected %zu", (long long)st.st_size, sizeof seg);
    else if (stable_copy(fd, &seg, why, len) == 0)
        r = 0;
    close(fd);
    if (r != 0)
        return -1;
    if (memcmp(seg.magic, EXPORT_MAGIC, 8) != 0)
        return why_fail(why, len, "bad magic");
    if (seg.version != EXPORT_VERSION || seg.segment_size != sizeof seg ||
        seg.stats_size != sizeof(pool_stats_t))
        return why_fail(why, len, "unsupported segment version or layout");
    if (pid && seg.pid != pid)
        return why_fail(why, len, "segment names pid %u, file is for %u", seg.pid, pid);
    if (seg.updates == 0)
        return why_fail(why, len, "not published yet");
    if (!export_stats_valid(&seg.stats, why, len))
        return -1;
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
    return 0;
}
