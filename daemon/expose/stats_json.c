/* JSON views of the statistics. Numbers are JSON doubles, exact up to 2^53,
 * which every figure here stays below in practice. */
#include "expose/stats_json.h"
#include "collectors/http_stats.h"
#include "collectors/proc_stat.h"
#include "collectors/processes.h"
#include "collectors/self_process.h"
#include "expose/fields.h"
#include "expose/metrics.h"
#include "service/status.h"
#include "workload/replay.h"
#include "workload/workload.h"

#include <cjson/cJSON.h>
#include <poolalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct { const char *key; double value; } field_t;

static cJSON *object_of(const field_t *f, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o && i < n; i++)
        cJSON_AddNumberToObject(o, f[i].key, f[i].value);
    return o;
}
#define OBJECT(...) object_of((const field_t[]){ __VA_ARGS__ }, \
                              sizeof((const field_t[]){ __VA_ARGS__ }) / sizeof(field_t))

static cJSON *size_classes(const pool_stats_t *st, uint32_t has)
{
    cJSON *a = cJSON_CreateArray();
    for (unsigned c = 0; a && c < st->num_classes && c < POOL_NUM_CLASSES; c++) {
        const pool_class_stats_t *k = &st->classes[c];
        cJSON *o = OBJECT({ "size", k->size }, { "blocks_per_pool", k->blocks_per_pool },
                          { "pools_per_run", k->pools_per_run },
                          { "pools", k->pools }, { "full_pools", k->pools_full },
                          { "blocks_allocated", k->blocks_allocated },
                          { "blocks_free", k->blocks_free });
        if (has & EXPORT_HAS_OPS) {
            cJSON_AddNumberToObject(o, "allocations", (double)k->mallocs);
            cJSON_AddNumberToObject(o, "frees", (double)k->frees);
        }
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static cJSON *large(const pool_stats_t *st)
{
    cJSON *o = OBJECT({ "allocations", st->large_allocations }, { "bytes", st->large_bytes },
                      { "allocations_total", st->large_mallocs },
                      { "requested_bytes_total", st->large_bytes_total });
    cJSON *h = cJSON_AddArrayToObject(o, "histogram");
    for (unsigned i = 0; h && i < POOL_LARGE_BUCKETS; i++) {
        cJSON *b = OBJECT({ "count", st->large_hist[i] });
        if (i < POOL_LARGE_BUCKETS - 1)
            cJSON_AddNumberToObject(b, "le", (double)pool_large_bucket_bounds[i]);
        else
            cJSON_AddStringToObject(b, "le", "+Inf");
        cJSON_AddItemToArray(h, b);
    }
    return o;
}

/* A shared field group (fields.h) as an object under its JSON name. */
static void add_group(cJSON *o, const pool_stats_t *st, const fields_group_t *g)
{
    cJSON *j = cJSON_AddObjectToObject(o, g->json);
    for (size_t i = 0; j && i < g->n; i++)
        cJSON_AddNumberToObject(j, g->fields[i].name, (double)fields_value(st, &g->fields[i]));
}

/* Every figure of one snapshot: poold's own, or a process's, leaving out
 * the groups (EXPORT_HAS_*) its allocator does not keep. */
static cJSON *allocator_figures(const pool_stats_t *st, uint32_t has)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "geometry",
        OBJECT({ "arena_size", st->arena_size }, { "pool_size", st->pool_size },
               { "pool_header_size", st->pool_header_size },
               { "small_threshold", st->small_threshold }, { "num_classes", st->num_classes },
               { "pools_per_arena", st->pools_per_arena },
               { "arena_header_size", st->arena_header_size }));
    cJSON_AddItemToObject(o, "arenas",
        OBJECT({ "current", st->arenas_current }, { "allocated_total", st->arenas_allocated_total },
               { "released_total", st->arenas_released_total }, { "highwater", st->arenas_highwater },
               { "arena_size", st->arena_size }, { "mapped_bytes", st->mapped_bytes }));
    add_group(o, st, &fields_bytes);
    cJSON_AddNumberToObject(o, "fragmentation_ratio", metrics_fragmentation_ratio(st));
    cJSON_AddNumberToObject(o, "utilisation", st->mapped_bytes ? (double)st->bytes.allocated /
                                                                 (double)st->mapped_bytes : 0);
    add_group(o, st, &fields_pools);
    cJSON_AddItemToObject(o, "size_classes", size_classes(st, has));
    if (has & EXPORT_HAS_LARGE)
        cJSON_AddItemToObject(o, "large", large(st));
    if (has & EXPORT_HAS_OPS)
        add_group(o, st, &fields_ops);
    if (has & EXPORT_HAS_PURGE)
        cJSON_AddItemToObject(o, "purge",
            OBJECT({ "purges", st->purges }, { "purged_pools", st->purged_pools },
                   { "purged_bytes", st->purged_bytes },
                   { "delay_ms", (double)st->purge_delay_ms }));
    if (has & EXPORT_HAS_HEAPS)
        cJSON_AddItemToObject(o, "threads",
            OBJECT({ "heaps", st->heaps }, { "heaps_abandoned", st->heaps_abandoned }));
    return o;
}

static cJSON *allocator(const pool_stats_t *st)
{
    cJSON *o = allocator_figures(st, ~0u);
    cJSON_AddStringToObject(o, "allocators", pool_allocators_name());
    return o;
}

/* What a process's segment says about itself: which allocator, which
 * segment version, how much of its map. */
static void process_segment(cJSON *o, const export_snapshot_t *p)
{
    cJSON_AddStringToObject(o, "allocator_name", export_allocator_name(p->allocator));
    cJSON_AddStringToObject(o, "allocator_version", p->allocator_version);
    cJSON_AddNumberToObject(o, "segment_version", p->version);
    if (p->version >= EXPORT_VERSION_2)
        cJSON_AddNumberToObject(o, "metadata_bytes", (double)p->metadata_bytes);
    if (p->has & EXPORT_HAS_MAP)
        cJSON_AddNumberToObject(o, "map_arenas", (double)p->map_total);
}

/* The process collector: "processes" (one object per process) and
 * "process_collector" (counts). */
static cJSON *process_object(const export_snapshot_t *p)
{
    cJSON *o = OBJECT({ "pid", p->pid }, { "updates", (double)p->updates },
                      { "interval_ms", (double)p->interval_ms },
                      { "last_update_timestamp_seconds", (double)p->updated_realtime_ns / 1e9 },
                      { "export_start_timestamp_seconds", (double)p->start_realtime_ns / 1e9 });
    cJSON_AddStringToObject(o, "comm", p->comm);
    process_segment(o, p);
    cJSON_AddItemToObject(o, "allocator", allocator_figures(&p->stats, p->has));
    return o;
}

static void processes(cJSON *root)
{
    processes_view_t v;
    processes_collect(&v, false);
    cJSON *a = cJSON_AddArrayToObject(root, "processes");
    for (size_t i = 0; a && i < v.n; i++)
        cJSON_AddItemToArray(a, process_object(&v.procs[i]));
    cJSON *c = cJSON_AddObjectToObject(root, "process_collector");
    cJSON_AddBoolToObject(c, "enabled", v.enabled);
    cJSON_AddNumberToObject(c, "processes", (double)v.n);
    cJSON_AddNumberToObject(c, "dropped", (double)v.dropped);
    cJSON *sk = cJSON_AddObjectToObject(c, "skipped");
    for (int r = 1; sk && r < PROCESSES_SKIP_REASONS; r++)
        cJSON_AddNumberToObject(sk, processes_skip_name(r), (double)v.skipped[r]);
    processes_view_free(&v);
}

static cJSON *replay(void)
{
    replay_stats_t r;
    replay_stats_read(&r);
    cJSON *o = OBJECT({ "loops", (double)r.loops }, { "records", (double)r.records });
    cJSON_AddBoolToObject(o, "active", r.active);
    if (r.active) {
        cJSON_AddStringToObject(o, "trace", r.trace);
        cJSON_AddStringToObject(o, "comm", r.comm);
        cJSON_AddNumberToObject(o, "pid", r.pid);
        cJSON_AddNumberToObject(o, "trace_records", (double)r.trace_records);
        cJSON_AddNumberToObject(o, "trace_threads", (double)r.trace_threads);
        cJSON_AddNumberToObject(o, "trace_duration_seconds", (double)r.trace_ns / 1e9);
        cJSON_AddNumberToObject(o, "speed", r.speed);
    }
    cJSON *a = cJSON_AddObjectToObject(o, "anomalies");
    for (int k = 0; a && k < TM_ANOMALY_KINDS; k++)
        cJSON_AddNumberToObject(a, tm_anomaly_name(k), (double)r.anomalies[k]);
    return o;
}

static cJSON *workload(void)
{
    workload_stats_t w;
    workload_read(&w);
    char why[128] = "";
    bool healthy = status_workload_healthy(workload_idle(), why, sizeof why);
    cJSON *o = OBJECT({ "threads", w.threads }, { "rate", (double)w.rate },
                      { "max_bytes", (double)w.max_bytes }, { "live_bytes", (double)w.live_bytes },
                      { "live_blocks", (double)w.live_blocks }, { "allocations", (double)w.allocs },
                      { "frees", (double)w.frees }, { "reallocs", (double)w.reallocs },
                      { "alloc_failures", (double)w.alloc_failures },
                      { "corruptions", (double)w.corruptions }, { "handoffs", (double)w.handoffs },
                      { "operations", (double)(w.allocs + w.frees + w.reallocs) },
                      { "starts", (double)w.starts });
    cJSON_AddStringToObject(o, "profile", w.profile);
    cJSON_AddBoolToObject(o, "healthy", healthy);
    cJSON_AddBoolToObject(o, "wedged", w.wedged);
    cJSON_AddItemToObject(o, "replay", replay());
    return o;
}

static cJSON *process(void)
{
    self_process_t p;
    self_process_read(&p);
    cJSON *o = cJSON_CreateObject();
    if (p.have_stat) {
        cJSON_AddNumberToObject(o, "cpu_seconds", p.cpu_seconds);
        cJSON_AddNumberToObject(o, "resident_memory_bytes", (double)p.resident_bytes);
        cJSON_AddNumberToObject(o, "virtual_memory_bytes", (double)p.virtual_bytes);
        cJSON_AddNumberToObject(o, "threads", (double)p.threads);
    }
    if (p.have_start)
        cJSON_AddNumberToObject(o, "start_time_seconds", p.start_time_seconds);
    if (p.have_fds)
        cJSON_AddNumberToObject(o, "open_fds", (double)p.open_fds);
    if (p.have_max_fds)
        cJSON_AddNumberToObject(o, "max_fds", (double)p.max_fds);
    return o;
}

static cJSON *http(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *codes = cJSON_AddObjectToObject(o, "requests");
    for (size_t i = 0; codes && i < http_code_count; i++) {
        char code[8];
        snprintf(code, sizeof code, "%u", http_codes[i]);
        cJSON_AddNumberToObject(codes, code, (double)http_stats_requests(i));
    }
    cJSON_AddNumberToObject(o, "in_flight", http_stats_inflight());
    cJSON *refused = cJSON_AddObjectToObject(o, "refused");
    for (int r = 0; refused && r < REFUSED_REASONS; r++)
        cJSON_AddNumberToObject(refused, http_refusal_names[r], (double)http_stats_refusals(r));
    cJSON *conns = cJSON_AddObjectToObject(o, "connections");
    if (conns) {
        cJSON_AddNumberToObject(conns, "open", (double)http_stats_conn_open());
        cJSON_AddNumberToObject(conns, "accepted", (double)http_stats_conn_accepted());
        cJSON *closed = cJSON_AddObjectToObject(conns, "closed");
        for (int r = 0; closed && r < CLOSE_REASONS; r++)
            cJSON_AddNumberToObject(closed, conn_close_names[r], (double)http_stats_conn_closes(r));
    }
    return o;
}

static char *finish(cJSON *root, size_t *len)
{
    char *s = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (s)
        *len = strlen(s);
    return s;
}

cJSON *stats_json_tree(void)
{
    pool_stats_t *st = malloc(sizeof *st);
    if (!st)
        return NULL;
    pool_stats_get(st);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", POOLD_VERSION);
    cJSON_AddItemToObject(root, "allocator", allocator(st));
    cJSON_AddItemToObject(root, "workload", workload());
    cJSON_AddItemToObject(root, "process", process());
    cJSON_AddItemToObject(root, "http", http());
    processes(root);
    free(st);
    return root;
}

char *stats_json_full(size_t *len) { return finish(stats_json_tree(), len); }

/* The process's resident memory, from /proc/PID/stat (rss, in pages). */
static cJSON *process_rss(uint32_t pid)
{
    char path[40];
    unsigned long long f[PROC_STAT_FIELDS];
    snprintf(path, sizeof path, "/proc/%u/stat", pid);
    cJSON *o = cJSON_CreateObject();
    if (proc_stat_fields(path, f))
        cJSON_AddNumberToObject(o, "resident_memory_bytes",
                                (double)f[24] * (double)sysconf(_SC_PAGESIZE));
    return o;
}

cJSON *stats_json_process_tree(const export_snapshot_t *p)
{
    cJSON *o = process_object(p);
    if (o)
        cJSON_AddItemToObject(o, "process", process_rss(p->pid));
    return o;
}

char *stats_json_finish(cJSON *root, size_t *len) { return finish(root, len); }

static const char *state_name(uint8_t s)
{
    static const char *const names[] = { "untouched", "used", "empty", "returned", "header",
                                         "span", "alignment" };
    return s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

static cJSON *arena_json(const pool_arena_info_t *a)
{
    char addr[24];
    snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)a->address);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "address", addr);
    cJSON_AddNumberToObject(o, "free_pools", a->free_pools);
    cJSON *pools = cJSON_AddArrayToObject(o, "pools");
    for (unsigned i = 0; pools && i < POOL_POOLS_PER_ARENA; i++) {
        const pool_pool_info_t *p = &a->pools[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "state", state_name(p->state));
        if (p->state == POOL_STATE_SPAN)    /* a further pool of the run before it */
            cJSON_AddNumberToObject(j, "size", fields_class_size(p->size_class));
        if (p->state == POOL_STATE_USED) {
            cJSON_AddNumberToObject(j, "size", fields_class_size(p->size_class));
            cJSON_AddNumberToObject(j, "used", p->used);
            cJSON_AddNumberToObject(j, "blocks", p->blocks);
        }
        cJSON_AddItemToArray(pools, j);
    }
    return o;
}

char *stats_json_arenas(size_t offset, size_t limit, size_t *len)
{
    if (limit > ARENAS_MAX_LIMIT)
        limit = ARENAS_MAX_LIMIT;
    pool_arena_info_t *map = calloc(limit ? limit : 1, sizeof *map);
    if (!map)
        return NULL;
    size_t total = pool_arena_map(map, limit, offset);
    size_t got = offset < total ? total - offset : 0;
    if (got > limit)
        got = limit;
    cJSON *root = OBJECT({ "total", (double)total }, { "offset", (double)offset },
                         { "limit", (double)limit });
    if (offset + got < total)
        cJSON_AddNumberToObject(root, "next_offset", (double)(offset + got));
    else
        cJSON_AddNullToObject(root, "next_offset");
    cJSON *arr = cJSON_AddArrayToObject(root, "arenas");
    for (size_t i = 0; arr && i < got; i++)
        cJSON_AddItemToArray(arr, arena_json(&map[i]));
    free(map);
    return finish(root, len);
}
