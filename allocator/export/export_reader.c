/* Reading statistics segments safely; see export_reader.h and the rules in
 * export_format.h. */
#define _GNU_SOURCE
#include "export_valid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *export_error_name(export_error_t e)
{
    static const char *const names[EXPORT_ERR_COUNT] = {
        [EXPORT_OK] = "ok", [EXPORT_ERR_OPEN] = "open", [EXPORT_ERR_NOT_REGULAR] = "not_regular",
        [EXPORT_ERR_SIZE] = "size", [EXPORT_ERR_UNSTABLE] = "unstable",
        [EXPORT_ERR_MAGIC] = "magic", [EXPORT_ERR_VERSION] = "version", [EXPORT_ERR_PID] = "pid",
        [EXPORT_ERR_NOT_READY] = "not_ready", [EXPORT_ERR_INCONSISTENT] = "inconsistent",
        [EXPORT_ERR_MAP] = "map",
    };
    return (unsigned)e < EXPORT_ERR_COUNT ? names[e] : "unknown";
}

const char *export_allocator_name(uint32_t allocator)
{
    return allocator == EXPORT_ALLOCATOR_POOLALLOC ? "poolalloc"
         : allocator == EXPORT_ALLOCATOR_PYMALLOC  ? "pymalloc" : "unknown";
}

/* ---- reading ------------------------------------------------------------------------------ */

static int read_exact(int fd, void *buf, size_t n, off_t off)
{
    ssize_t k;
    do {
        k = pread(fd, buf, n, off);
    } while (k < 0 && errno == EINTR);
    return k == (ssize_t)n ? 0 : -1;
}

/* Copies hdr (and map, when given) between two equal, even sequence
 * numbers at offsetof(..., seq) == 56 in both versions. */
static export_error_t stable_copy(int fd, void *hdr, size_t hlen, void *map, size_t mlen,
                                  char *why, size_t len)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t before, after;
        if (read_exact(fd, hdr, hlen, 0) != 0 || (map && read_exact(fd, map, mlen, hlen) != 0) ||
            read_exact(fd, &after, sizeof after, offsetof(pool_export_header_t, seq)) != 0)
            return export_why(EXPORT_ERR_UNSTABLE, why, len, "short read");
        memcpy(&before, (char *)hdr + offsetof(pool_export_header_t, seq), sizeof before);
        if (!(before & 1) && before == after)
            return EXPORT_OK;
    }
    return export_why(EXPORT_ERR_UNSTABLE, why, len, "segment kept changing while being read");
}

/* The header fields both versions share (same offsets). */
typedef struct {
    char     magic[8];
    uint32_t version, size, stats_size, pid;
    char     comm[16];
    uint64_t start_realtime_ns, interval_ms, seq, updated_realtime_ns, updates;
} common_header_t;
_Static_assert(offsetof(common_header_t, updates) == offsetof(pool_export_header_t, updates) &&
               offsetof(common_header_t, updates) == offsetof(pool_export_segment_v1_t, updates),
               "both versions share the header");

static export_error_t check_common(const common_header_t *h, uint32_t pid, char *why, size_t len)
{
    if (pid && h->pid != pid)
        return export_why(EXPORT_ERR_PID, why, len, "segment names pid %u, file is for %u", h->pid,
                        pid);
    if (h->updates == 0)
        return export_why(EXPORT_ERR_NOT_READY, why, len, "not published yet");
    if (h->interval_ms == 0 || h->interval_ms > 3600000 ||
        h->updated_realtime_ns < h->start_realtime_ns)
        return export_why(EXPORT_ERR_INCONSISTENT, why, len, "implausible interval or times");
    return EXPORT_OK;
}

static void printable(char *out, const char *in, size_t n)
{
    size_t i = 0;
    for (; i < n && in[i]; i++)
        out[i] = in[i] < 32 || in[i] > 126 ? '?' : in[i];
    out[i] = 0;
}

static void take_common(export_snapshot_t *out, const common_header_t *h)
{
    out->pid = h->pid;
    printable(out->comm, h->comm, sizeof h->comm);
    out->start_realtime_ns = h->start_realtime_ns;
    out->updated_realtime_ns = h->updated_realtime_ns;
    out->updates = h->updates;
    out->interval_ms = h->interval_ms;
    out->version = h->version;
}

/* Version 1's frozen statistics in this build's pool_stats_t. */
static void stats_from_v1(pool_stats_t *st, const export_v1_stats_t *v)
{
    memset(st, 0, sizeof *st);
    st->arena_size = v->arena_size;
    st->pool_size = v->pool_size;
    st->pool_header_size = v->pool_header_size;
    st->small_threshold = v->small_threshold;
    st->num_classes = v->num_classes;
    st->pools_per_arena = v->pools_per_arena;
    st->arena_header_size = v->arena_header_size;
    st->arenas_allocated_total = v->arenas_allocated_total;
    st->arenas_released_total = v->arenas_released_total;
    st->arenas_highwater = v->arenas_highwater;
    st->arenas_current = v->arenas_current;
    st->mapped_bytes = v->mapped_bytes;
    st->bytes = (pool_bytes_t){ v->bytes.allocated, v->bytes.free_blocks, v->bytes.empty_pools,
                                v->bytes.untouched, v->bytes.pool_headers, v->bytes.quantization,
                                v->bytes.alignment, v->bytes.returned };
    st->pools_used = v->pools_used;
    st->pools_empty = v->pools_empty;
    st->pools_untouched = v->pools_untouched;
    st->pools_returned = v->pools_returned;
    for (unsigned c = 0; c < EXPORT_V1_NUM_CLASSES && c < POOL_NUM_CLASSES; c++) {
        const export_v1_class_t *k = &v->classes[c];
        st->classes[c] = (pool_class_stats_t){
            .size = k->size, .blocks_per_pool = k->blocks_per_pool, .pools_per_run = 1,
            .pools = k->pools, .pools_full = k->pools_full, .blocks_allocated = k->blocks_allocated,
            .blocks_free = k->blocks_free, .mallocs = k->mallocs, .frees = k->frees,
            .blocks_cached = k->blocks_cached };   /* version 1 knew only one-pool classes */
    }
    st->large_allocations = v->large_allocations;
    st->large_bytes = v->large_bytes;
    st->large_mallocs = v->large_mallocs;
    st->large_bytes_total = v->large_bytes_total;
    for (unsigned i = 0; i < EXPORT_V1_LARGE_BUCKETS && i < POOL_LARGE_BUCKETS; i++)
        st->large_hist[i] = v->large_hist[i];
    st->ops = (pool_ops_t){ v->ops.malloc, v->ops.free, v->ops.calloc, v->ops.realloc,
                            v->ops.realloc_inplace, v->ops.aligned, v->ops.remote_free,
                            v->ops.failed };
    st->purges = v->purges;
    st->purged_pools = v->purged_pools;
    st->purged_bytes = v->purged_bytes;
    st->purge_delay_ms = v->purge_delay_ms;
    st->heaps = v->heaps;
    st->heaps_abandoned = v->heaps_abandoned;
}

/* Version 1's geometry is that of the build that defined it. */
static bool v1_geometry(const export_v1_stats_t *v)
{
    if (v->arena_size != 1u << 20 || v->pool_size != 16u << 10 || v->small_threshold != 512 ||
        v->num_classes != EXPORT_V1_NUM_CLASSES || v->pools_per_arena != 63)
        return false;
    for (unsigned c = 0; c < EXPORT_V1_NUM_CLASSES; c++)
        if (v->classes[c].size != (c + 1) * 16 ||
            v->classes[c].blocks_per_pool != (16u << 10) / ((c + 1) * 16))
            return false;
    return true;
}

static export_error_t read_v1(int fd, off_t size, uint32_t pid, export_snapshot_t *out,
                              char *why, size_t len)
{
    pool_export_segment_v1_t *seg = malloc(sizeof *seg);
    if (!seg)
        return export_why(EXPORT_ERR_UNSTABLE, why, len, "out of memory");
    export_error_t e = EXPORT_OK;
    if ((size_t)size != sizeof *seg)
        e = export_why(EXPORT_ERR_SIZE, why, len, "size %lld, expected %zu", (long long)size,
                     sizeof *seg);
    else if ((e = stable_copy(fd, seg, sizeof *seg, NULL, 0, why, len)) != EXPORT_OK)
        ;
    else if (seg->version != EXPORT_VERSION_1 || seg->segment_size != sizeof *seg ||
             seg->stats_size != sizeof seg->stats)
        e = export_why(EXPORT_ERR_VERSION, why, len, "unsupported segment version or layout");
    else if ((e = check_common((const common_header_t *)seg, pid, why, len)) != EXPORT_OK)
        ;
    else if (!v1_geometry(&seg->stats))
        e = export_why(EXPORT_ERR_INCONSISTENT, why, len, "geometry differs from version 1's");
    if (e == EXPORT_OK) {
        take_common(out, (const common_header_t *)seg);
        out->allocator = EXPORT_ALLOCATOR_POOLALLOC;
        out->has = ALL_GROUPS;
        stats_from_v1(&out->stats, &seg->stats);
        if (!export_stats_consistent(&out->stats, ALL_GROUPS, why, len))
            e = EXPORT_ERR_INCONSISTENT;
    }
    free(seg);
    return e;
}

/* The v2 header's own fields, before any figure is looked at. */
static export_error_t check_v2_layout(const pool_export_header_t *h, off_t size, char *why,
                                      size_t len)
{
    if (h->header_size != sizeof *h || h->stats_size != sizeof(pool_stats_t) ||
        h->arena_record_size != sizeof(pool_arena_info_t) || h->reserved != 0)
        return export_why(EXPORT_ERR_VERSION, why, len,
                        "unsupported layout (header %u, stats %u, record %u bytes)",
                        h->header_size, h->stats_size, h->arena_record_size);
    if (h->arena_capacity > EXPORT_MAX_ARENA_MAP ||
        (uint64_t)size != sizeof *h + (uint64_t)h->arena_capacity * sizeof(pool_arena_info_t))
        return export_why(EXPORT_ERR_SIZE, why, len, "size %lld for a capacity of %u arenas",
                        (long long)size, h->arena_capacity);
    if (h->allocator != EXPORT_ALLOCATOR_POOLALLOC && h->allocator != EXPORT_ALLOCATOR_PYMALLOC)
        return export_why(EXPORT_ERR_VERSION, why, len, "unknown allocator %u", h->allocator);
    if (h->has & ~(ALL_GROUPS | EXPORT_HAS_MAP))
        return export_why(EXPORT_ERR_VERSION, why, len, "unknown groups 0x%x", h->has);
    if (h->arena_records > h->arena_capacity)
        return export_why(EXPORT_ERR_MAP, why, len, "%u records in room for %u", h->arena_records,
                        h->arena_capacity);
    return EXPORT_OK;
}

static export_error_t check_v2_figures(const pool_export_header_t *h, char *why, size_t len)
{
    if (h->allocator == EXPORT_ALLOCATOR_POOLALLOC && (h->has & ALL_GROUPS) != ALL_GROUPS)
        return export_why(EXPORT_ERR_INCONSISTENT, why, len, "poolalloc keeps every group");
    if (!export_stats_valid(&h->stats, h->allocator, h->has, why, len))
        return EXPORT_ERR_INCONSISTENT;
    if (h->metadata_bytes > ((uint64_t)1 << 50))
        return export_why(EXPORT_ERR_INCONSISTENT, why, len, "implausible metadata bytes");
    bool has_map = h->has & EXPORT_HAS_MAP;
    uint64_t want = h->arenas_in_map_total < h->arena_capacity ? h->arenas_in_map_total
                                                               : h->arena_capacity;
    /* pymalloc's map lacks the arenas made before its publisher was loaded */
    bool records_ok = h->allocator == EXPORT_ALLOCATOR_PYMALLOC ? h->arena_records <= want
                                                                : h->arena_records == want;
    if (has_map && (h->arenas_in_map_total != h->stats.arenas_current || !records_ok))
        return export_why(EXPORT_ERR_MAP, why, len, "map of %u records of %llu arenas, stats say %llu",
                        h->arena_records, (unsigned long long)h->arenas_in_map_total,
                        (unsigned long long)h->stats.arenas_current);
    if (has_map && h->stats.arena_size / h->stats.pool_size != POOL_POOLS_PER_ARENA)
        return export_why(EXPORT_ERR_MAP, why, len, "a map of arenas of another number of pools");
    if (!has_map && (h->arena_records || h->arenas_in_map_total))
        return export_why(EXPORT_ERR_MAP, why, len, "map records without the map flag");
    return EXPORT_OK;
}

static export_error_t read_v2(int fd, off_t size, uint32_t pid, bool want_map,
                              export_snapshot_t *out, char *why, size_t len)
{
    pool_export_header_t *h = malloc(sizeof *h);
    if (!h)
        return export_why(EXPORT_ERR_UNSTABLE, why, len, "out of memory");
    export_error_t e = EXPORT_OK;
    pool_arena_info_t *map = NULL;
    size_t records = 0;
    if ((size_t)size < sizeof *h)
        e = export_why(EXPORT_ERR_SIZE, why, len, "size %lld, shorter than the header",
                     (long long)size);
    /* a first look fixes how many records to copy with the second */
    else if ((e = stable_copy(fd, h, sizeof *h, NULL, 0, why, len)) != EXPORT_OK ||
             (e = check_v2_layout(h, size, why, len)) != EXPORT_OK)
        ;
    else if (want_map && (h->has & EXPORT_HAS_MAP) && h->arena_records) {
        records = h->arena_records;
        map = malloc(records * sizeof *map);
        if (!map)
            e = export_why(EXPORT_ERR_UNSTABLE, why, len, "out of memory");
        else
            e = stable_copy(fd, h, sizeof *h, map, records * sizeof *map, why, len);
        if (e == EXPORT_OK && h->arena_records != records)
            e = export_why(EXPORT_ERR_UNSTABLE, why, len, "the map changed size while being read");
        if (e == EXPORT_OK)
            e = check_v2_layout(h, size, why, len);
    }
    if (e == EXPORT_OK && (e = check_common((const common_header_t *)h, pid, why, len)) == EXPORT_OK &&
        (e = check_v2_figures(h, why, len)) == EXPORT_OK && map &&
        !export_map_valid(map, records, &h->stats, h->allocator, why, len))
        e = EXPORT_ERR_MAP;
    if (e == EXPORT_OK) {
        take_common(out, (const common_header_t *)h);
        out->allocator = h->allocator;
        out->has = h->has;
        printable(out->allocator_version, h->allocator_version, sizeof h->allocator_version);
        out->metadata_bytes = h->metadata_bytes;
        out->map = map;
        out->map_records = map ? records : 0;
        out->map_total = h->arenas_in_map_total;
        out->stats = h->stats;
        map = NULL;
    }
    free(map);
    free(h);
    return e;
}

export_error_t export_read_fd(int fd, uint32_t pid, bool want_map, export_snapshot_t *out,
                              char *why, size_t len)
{
    struct stat st;
    memset(out, 0, sizeof *out);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return export_why(EXPORT_ERR_NOT_REGULAR, why, len, "not a regular file");
    char head[12];
    if (st.st_size < (off_t)sizeof head)
        return export_why(EXPORT_ERR_SIZE, why, len, "size %lld", (long long)st.st_size);
    if (read_exact(fd, head, sizeof head, 0) != 0)
        return export_why(EXPORT_ERR_UNSTABLE, why, len, "short read");
    if (memcmp(head, EXPORT_MAGIC, 8) != 0)
        return export_why(EXPORT_ERR_MAGIC, why, len, "bad magic");
    uint32_t version;
    memcpy(&version, head + 8, sizeof version);
    if (version == EXPORT_VERSION_1)
        return read_v1(fd, st.st_size, pid, out, why, len);
    if (version == EXPORT_VERSION_2)
        return read_v2(fd, st.st_size, pid, want_map, out, why, len);
    return export_why(EXPORT_ERR_VERSION, why, len, "unsupported segment version %u", version);
}

void export_snapshot_free(export_snapshot_t *s)
{
    free(s->map);
    s->map = NULL;
    s->map_records = 0;
}
