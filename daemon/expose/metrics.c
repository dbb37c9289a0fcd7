/* The metric families of /metrics. Names are a contract with dashboards and
 * tests: add families, never rename one. */
#include "expose/metrics.h"
#include "expose/fields.h"
#include "collectors/http_stats.h"
#include "collectors/processes.h"
#include "collectors/self_process.h"
#include "service/clock.h"
#include "service/status.h"
#include "workload/replay.h"
#include "workload/workload.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pool_stats_t     pool;
    workload_stats_t wl;
    replay_stats_t   replay;
    processes_view_t procs;
    self_process_t   proc;
    uint64_t         started_ns;
} scrape_t;

double metrics_fragmentation_ratio(const pool_stats_t *st)
{
    const pool_bytes_t *b = &st->bytes;
    if (b->allocated == 0)
        return 0;
    return (double)(b->allocated + b->free_blocks + b->pool_headers + b->quantization) /
           (double)b->allocated;
}

/* A family with a single unlabelled sample. */
static void one_u64(expo_t *e, const char *name, metric_type_t t, const char *help, uint64_t v)
{
    expo_family(e, name, t, help);
    expo_u64(e, NULL, NULL, 0, v);
}

static void one_f64(expo_t *e, const char *name, metric_type_t t, const char *help, double v)
{
    expo_family(e, name, t, help);
    expo_f64(e, NULL, NULL, 0, v);
}

static void arenas(expo_t *e, const pool_stats_t *st)
{
    one_u64(e, "poold_arenas", MT_GAUGE, "Arenas currently mapped.", st->arenas_current);
    one_u64(e, "poold_arenas_allocated_total", MT_COUNTER, "Arenas mapped since start.",
            st->arenas_allocated_total);
    one_u64(e, "poold_arenas_released_total", MT_COUNTER,
            "Arenas given back to the kernel since start.", st->arenas_released_total);
    one_u64(e, "poold_arenas_highwater", MT_GAUGE, "Most arenas mapped at once.",
            st->arenas_highwater);
    one_u64(e, "poold_arena_size_bytes", MT_GAUGE, "Size of one arena.", st->arena_size);
    one_u64(e, "poold_pool_size_bytes", MT_GAUGE, "Size of one pool.", st->pool_size);
    one_u64(e, "poold_pools_per_arena", MT_GAUGE, "Pools of blocks in one arena.",
            st->pools_per_arena);
}

/* ---- samples that exist once per allocator: poold's own, and each process's
 * (base labels pid and comm) -------------------------------------------------------- */

/* A sample with the base labels plus one (or two) more. */
static void sample(expo_t *e, const label_t *base, size_t nb, const label_t *more, size_t nm,
                   uint64_t v)
{
    label_t l[6];
    if (nb)
        memcpy(l, base, nb * sizeof *l);
    memcpy(l + nb, more, nm * sizeof *l);
    expo_u64(e, NULL, l, nb + nm, v);
}

/* One sample per field of a shared group (fields.h), under the group's label. */
static void group_samples(expo_t *e, const pool_stats_t *st, const label_t *base, size_t nb,
                          const fields_group_t *g)
{
    for (size_t i = 0; i < g->n; i++)
        sample(e, base, nb, &(label_t){ g->label, g->fields[i].name }, 1,
               fields_value(st, &g->fields[i]));
}

static void bytes_samples(expo_t *e, const pool_stats_t *st, const label_t *base, size_t nb)
{
    group_samples(e, st, base, nb, &fields_bytes);
}

static void pools_samples(expo_t *e, const pool_stats_t *st, const label_t *base, size_t nb)
{
    group_samples(e, st, base, nb, &fields_pools);
}

static void ops_samples(expo_t *e, const pool_stats_t *st, const label_t *base, size_t nb)
{
    group_samples(e, st, base, nb, &fields_ops);
}

static void blocks_samples(expo_t *e, const pool_stats_t *st, const label_t *base, size_t nb)
{
    for (unsigned c = 0; c < st->num_classes && c < POOL_NUM_CLASSES; c++) {
        label_t l[2] = { { "size", fields_class_label(c) }, { "state", "allocated" } };
        sample(e, base, nb, l, 2, st->classes[c].blocks_allocated);
        l[1].value = "free";
        sample(e, base, nb, l, 2, st->classes[c].blocks_free);
    }
}

static const char help_bytes[] = "Where the mapped arena bytes are; the kinds sum to "
                                 "poold_arenas * poold_arena_size_bytes.";
static const char help_pools[] = "Pools of blocks in mapped arenas, by state; they sum to "
                                 "poold_arenas * poold_pools_per_arena.";
static const char help_frag[] = "Bytes in pools serving a size class (allocated + free blocks + "
                                "pool headers + quantization) divided by allocated bytes; 0 when "
                                "nothing is allocated.";
static const char help_blocks[] = "Blocks in the pools of each size class, allocated or free.";
static const char help_ops[] = "Allocator calls, by operation.";

static void byte_breakdown(expo_t *e, const pool_stats_t *st)
{
    expo_family(e, "poold_arena_bytes", MT_GAUGE, help_bytes);
    bytes_samples(e, st, NULL, 0);
    expo_family(e, "poold_pools", MT_GAUGE, help_pools);
    pools_samples(e, st, NULL, 0);
    one_f64(e, "poold_fragmentation_ratio", MT_GAUGE, help_frag, metrics_fragmentation_ratio(st));
}

/* Per-class families: one sample per size class, always all of them. */
static void size_classes(expo_t *e, const scrape_t *s)
{
    const pool_stats_t *st = &s->pool;
    const struct { const char *name; metric_type_t t; const char *help; size_t off; } fams[] = {
        { "poold_size_class_pools", MT_GAUGE, "Pools serving each size class.",
          offsetof(pool_class_stats_t, pools) },
        { "poold_size_class_full_pools", MT_GAUGE, "Pools of each size class with no free block.",
          offsetof(pool_class_stats_t, pools_full) },
        { "poold_size_class_allocations_total", MT_COUNTER,
          "Blocks handed out from each size class.", offsetof(pool_class_stats_t, mallocs) },
        { "poold_size_class_frees_total", MT_COUNTER, "Blocks given back to each size class.",
          offsetof(pool_class_stats_t, frees) },
    };
    for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
        expo_family(e, fams[f].name, fams[f].t, fams[f].help);
        for (unsigned c = 0; c < st->num_classes; c++) {
            uint64_t v;
            memcpy(&v, (const char *)&st->classes[c] + fams[f].off, sizeof v);
            expo_u64(e, NULL, &(label_t){ "size", fields_class_label(c) }, 1, v);
        }
    }
    expo_family(e, "poold_size_class_blocks", MT_GAUGE, help_blocks);
    blocks_samples(e, st, NULL, 0);
}

/* Small requests are counted at their class's block size, large ones at
 * the size requested; buckets are the class sizes, then the large bounds. */
static void size_histogram(expo_t *e, const pool_stats_t *st)
{
    double bounds[POOL_NUM_CLASSES + POOL_LARGE_BUCKETS - 1];
    uint64_t cum[POOL_NUM_CLASSES + POOL_LARGE_BUCKETS - 1], count = 0;
    double sum = 0;
    size_t n = 0;
    /* The large buckets at or below the top class hold only what bypassed
     * the pools that low (0-byte requests): counted in the first bucket. */
    uint32_t top = st->num_classes ? st->classes[st->num_classes - 1].size : 0;
    unsigned first = 0;
    while (first < POOL_LARGE_BUCKETS - 1 && pool_large_bucket_bounds[first] <= top)
        count += st->large_hist[first++];
    for (unsigned c = 0; c < st->num_classes; c++, n++) {
        count += st->classes[c].mallocs;
        sum += (double)st->classes[c].mallocs * st->classes[c].size;
        bounds[n] = st->classes[c].size;
        cum[n] = count;
    }
    for (unsigned i = first; i < POOL_LARGE_BUCKETS - 1; i++, n++) {
        count += st->large_hist[i];
        bounds[n] = (double)pool_large_bucket_bounds[i];
        cum[n] = count;
    }
    count += st->large_hist[POOL_LARGE_BUCKETS - 1];
    sum += (double)st->large_bytes_total;
    expo_family(e, "poold_allocation_size_bytes", MT_HISTOGRAM,
                "Sizes of the allocations granted: small requests at their size class's "
                "block size, large ones at the size requested.");
    expo_histogram(e, bounds, cum, n, sum, count);
}

static void large_and_ops(expo_t *e, const pool_stats_t *st)
{
    one_u64(e, "poold_large_allocations", MT_GAUGE,
            "Live blocks above the small-request threshold (served by the system allocator).",
            st->large_allocations);
    one_u64(e, "poold_large_bytes", MT_GAUGE, "Usable bytes of the live large blocks.",
            st->large_bytes);
    one_u64(e, "poold_large_mallocs_total", MT_COUNTER, "Large blocks handed out.",
            st->large_mallocs);
    expo_family(e, "poold_operations_total", MT_COUNTER, help_ops);
    ops_samples(e, st, NULL, 0);
    one_u64(e, "poold_purges_total", MT_COUNTER, "Calls that gave pool pages back (madvise).",
            st->purges);
    one_u64(e, "poold_purged_bytes_total", MT_COUNTER, "Bytes of pool pages given back.",
            st->purged_bytes);
    one_f64(e, "poold_purge_delay_seconds", MT_GAUGE,
            "How long an empty pool stays resident before its pages are given back "
            "(+Inf: never).", st->purge_delay_ms < 0 ? 1.0 / 0.0 : (double)st->purge_delay_ms / 1000);
    one_u64(e, "poold_thread_heaps", MT_GAUGE, "Thread heaps in existence.", st->heaps);
    one_u64(e, "poold_thread_heaps_abandoned", MT_GAUGE,
            "Heaps whose thread exited, waiting for a thread to adopt them.", st->heaps_abandoned);
}

static void workload(expo_t *e, const workload_stats_t *w)
{
    expo_family(e, "poold_workload_info", MT_GAUGE, "The workload profile running (value 1).");
    expo_u64(e, NULL, &(label_t){ "workload", w->profile }, 1, 1);
    one_u64(e, "poold_workload_threads", MT_GAUGE, "Workload threads running.", w->threads);
    one_u64(e, "poold_workload_live_bytes", MT_GAUGE, "Bytes the workload holds (as requested).",
            (uint64_t)(w->live_bytes > 0 ? w->live_bytes : 0));
    one_u64(e, "poold_workload_live_blocks", MT_GAUGE, "Blocks the workload holds.",
            (uint64_t)(w->live_blocks > 0 ? w->live_blocks : 0));
    one_u64(e, "poold_workload_max_bytes", MT_GAUGE, "The cap on the workload's live bytes.",
            w->max_bytes);
    one_u64(e, "poold_workload_rate", MT_GAUGE,
            "Target workload operations per second (0: unlimited).", w->rate);
    expo_family(e, "poold_workload_operations_total", MT_COUNTER,
                "Workload allocations, frees and reallocs.");
    expo_u64(e, NULL, &(label_t){ "op", "alloc" }, 1, w->allocs);
    expo_u64(e, NULL, &(label_t){ "op", "free" }, 1, w->frees);
    expo_u64(e, NULL, &(label_t){ "op", "realloc" }, 1, w->reallocs);
    one_u64(e, "poold_workload_alloc_failures_total", MT_COUNTER,
            "Workload allocations refused (live-bytes cap or allocator failure).",
            w->alloc_failures);
    one_u64(e, "poold_workload_corruptions_total", MT_COUNTER,
            "Workload blocks whose fill pattern had changed when they were freed.", w->corruptions);
    one_u64(e, "poold_workload_handoffs_total", MT_COUNTER,
            "Blocks passed to another workload thread to be freed there.", w->handoffs);
    one_u64(e, "poold_workload_starts_total", MT_COUNTER,
            "Times the workload was started (start-up and reloads that changed it).", w->starts);
}

static void replay(expo_t *e, const replay_stats_t *r)
{
    if (r->active) {
        char pid[16];
        snprintf(pid, sizeof pid, "%u", r->pid);
        label_t l[3] = { { "trace", r->trace }, { "comm", r->comm }, { "pid", pid } };
        expo_family(e, "poold_workload_replay_info", MT_GAUGE,
                    "The trace being replayed, and the program and pid it was recorded from "
                    "(value 1; only while --workload=replay runs).");
        expo_u64(e, NULL, l, 3, 1);
    }
    one_u64(e, "poold_workload_replay_trace_records", MT_GAUGE,
            "Records in one pass of the trace being replayed (0: no replay).",
            r->active ? r->trace_records : 0);
    one_f64(e, "poold_workload_replay_trace_duration_seconds", MT_GAUGE,
            "Recorded duration of one pass of the trace (0: no replay).",
            r->active ? (double)r->trace_ns / 1e9 : 0);
    one_f64(e, "poold_workload_replay_speed", MT_GAUGE,
            "Replay pace factor (1: as recorded; 0: as fast as the rate allows).",
            r->active ? r->speed : 0);
    one_u64(e, "poold_workload_replay_loops_total", MT_COUNTER,
            "Passes over the trace completed, all workload threads together.", r->loops);
    one_u64(e, "poold_workload_replay_records_total", MT_COUNTER, "Trace records replayed.",
            r->records);
    expo_family(e, "poold_workload_replay_anomalies_total", MT_COUNTER,
                "Trace records that could not be followed as written, by kind.");
    for (int k = 0; k < TM_ANOMALY_KINDS; k++)
        expo_u64(e, NULL, &(label_t){ "kind", tm_anomaly_name(k) }, 1, r->anomalies[k]);
}

/* ---- the process collector ------------------------------------------------------------ */

typedef void (*samples_fn)(expo_t *e, const pool_stats_t *st, const label_t *base, size_t nb);
typedef double (*figure_fn)(const export_snapshot_t *p);

static double p_arenas(const export_snapshot_t *p) { return (double)p->stats.arenas_current; }
static double p_frag(const export_snapshot_t *p) { return metrics_fragmentation_ratio(&p->stats); }
static double p_large(const export_snapshot_t *p) { return (double)p->stats.large_allocations; }
static double p_large_bytes(const export_snapshot_t *p) { return (double)p->stats.large_bytes; }
static double p_heaps(const export_snapshot_t *p) { return (double)p->stats.heaps; }
static double p_purged(const export_snapshot_t *p) { return (double)p->stats.purged_bytes; }
static double p_updated(const export_snapshot_t *p) { return (double)p->updated_realtime_ns / 1e9; }

/* poold_process_info{pid,comm,allocator}: which allocator published. */
static void process_info(expo_t *e, const processes_view_t *v)
{
    expo_family(e, "poold_process_info", MT_GAUGE,
                "A process exporting its allocator statistics (value 1), and its allocator.");
    for (size_t i = 0; i < v->n; i++) {
        char pid[16];
        snprintf(pid, sizeof pid, "%u", v->procs[i].pid);
        label_t l[3] = { { "pid", pid }, { "comm", v->procs[i].comm },
                         { "allocator", export_allocator_name(v->procs[i].allocator) } };
        expo_f64(e, NULL, l, 3, 1);
    }
}

/* Every family has the labels pid and comm; a process whose allocator does
 * not keep a family's figures (`need`, EXPORT_HAS_*) has no sample in it. */
static void process_families(expo_t *e, const processes_view_t *v)
{
    static const struct {
        const char *name; metric_type_t t; const char *help; figure_fn f; uint32_t need;
    } one[] = {
        { "poold_process_last_update_timestamp_seconds", MT_GAUGE,
          "When the process last published its statistics.", p_updated, 0 },
        { "poold_process_arenas", MT_GAUGE, "Arenas the process has mapped.", p_arenas, 0 },
        { "poold_process_fragmentation_ratio", MT_GAUGE,
          "The process's fragmentation ratio (as poold_fragmentation_ratio).", p_frag, 0 },
        { "poold_process_large_allocations", MT_GAUGE,
          "The process's live blocks above the small-request threshold.", p_large,
          EXPORT_HAS_LARGE },
        { "poold_process_large_bytes", MT_GAUGE, "Usable bytes of the process's live large blocks.",
          p_large_bytes, EXPORT_HAS_LARGE },
        { "poold_process_thread_heaps", MT_GAUGE, "The process's thread heaps.", p_heaps,
          EXPORT_HAS_HEAPS },
        { "poold_process_purged_bytes_total", MT_COUNTER,
          "Bytes of pool pages the process gave back.", p_purged, EXPORT_HAS_PURGE },
    };
    static const struct {
        const char *name; metric_type_t t; const char *help; samples_fn f; uint32_t need;
    } many[] = {
        { "poold_process_arena_bytes", MT_GAUGE, help_bytes, bytes_samples, 0 },
        { "poold_process_pools", MT_GAUGE, help_pools, pools_samples, 0 },
        { "poold_process_size_class_blocks", MT_GAUGE, help_blocks, blocks_samples, 0 },
        { "poold_process_operations_total", MT_COUNTER, help_ops, ops_samples, EXPORT_HAS_OPS },
    };
    if (!v->n)
        return;
    process_info(e, v);
    char pid[16];
    label_t base[2] = { { "pid", pid }, { "comm", NULL } };
    for (size_t f = 0; f < sizeof one / sizeof one[0]; f++) {
        expo_family(e, one[f].name, one[f].t, one[f].help);
        for (size_t i = 0; i < v->n; i++) {
            if ((v->procs[i].has & one[f].need) != one[f].need)
                continue;
            snprintf(pid, sizeof pid, "%u", v->procs[i].pid);
            base[1].value = v->procs[i].comm;
            expo_f64(e, NULL, base, 2, one[f].f(&v->procs[i]));
        }
    }
    for (size_t f = 0; f < sizeof many / sizeof many[0]; f++) {
        expo_family(e, many[f].name, many[f].t, many[f].help);
        for (size_t i = 0; i < v->n; i++) {
            if ((v->procs[i].has & many[f].need) != many[f].need)
                continue;
            snprintf(pid, sizeof pid, "%u", v->procs[i].pid);
            base[1].value = v->procs[i].comm;
            many[f].f(e, &v->procs[i].stats, base, 2);
        }
    }
}

static void processes(expo_t *e, const processes_view_t *v)
{
    if (!v->enabled)
        return;
    one_u64(e, "poold_processes", MT_GAUGE,
            "Processes whose allocator statistics are exported (--collector.processes).", v->n);
    one_u64(e, "poold_processes_dropped", MT_GAUGE,
            "Processes found but not exported, over --collector.processes.max.", v->dropped);
    expo_family(e, "poold_process_segments_skipped_total", MT_COUNTER,
                "Statistics segments not exported, by reason, counted at every scan.");
    for (int r = 1; r < PROCESSES_SKIP_REASONS; r++)
        expo_u64(e, NULL, &(label_t){ "reason", processes_skip_name(r) }, 1, v->skipped[r]);
    process_families(e, v);
}

/* The connection policy at work: an attack shows as closes by deadline or
 * to make room, and as refusals, while the scrapes go on. */
static void http_connections(expo_t *e)
{
    expo_family(e, "poold_http_requests_refused_total", MT_COUNTER,
                "HTTP requests refused, by reason: max_requests (503), body (a body was "
                "announced), unauthorized (401).");
    for (int r = 0; r < REFUSED_REASONS; r++)
        expo_u64(e, NULL, &(label_t){ "reason", http_refusal_names[r] }, 1, http_stats_refusals(r));
    int64_t open = http_stats_conn_open();
    one_u64(e, "poold_http_connections_open", MT_GAUGE, "HTTP connections open now.",
            open > 0 ? (uint64_t)open : 0);
    one_u64(e, "poold_http_connections_accepted_total", MT_COUNTER, "HTTP connections accepted.",
            http_stats_conn_accepted());
    expo_family(e, "poold_http_connections_closed_total", MT_COUNTER,
                "HTTP connections closed, by reason: normal, error, header_timeout, idle_timeout, "
                "write_timeout, evicted (to make room), refused (no room), shutdown.");
    for (int r = 0; r < CLOSE_REASONS; r++)
        expo_u64(e, NULL, &(label_t){ "reason", conn_close_names[r] }, 1, http_stats_conn_closes(r));
}

static void http_and_build(expo_t *e)
{
    expo_family(e, "poold_http_requests_total", MT_COUNTER, "HTTP requests answered, by status code.");
    for (size_t i = 0; i < http_code_count; i++) {
        char code[8];
        snprintf(code, sizeof code, "%u", http_codes[i]);
        expo_u64(e, NULL, &(label_t){ "code", code }, 1, http_stats_requests(i));
    }
    one_u64(e, "poold_http_requests_in_flight", MT_GAUGE,
            "HTTP requests being served, this scrape included.", (uint64_t)http_stats_inflight());
    http_connections(e);
    bool ok;
    double when;
    status_reload_read(&ok, &when);
    one_u64(e, "poold_config_last_reload_successful", MT_GAUGE,
            "1 when the last configuration reload worked.", ok);
    one_f64(e, "poold_config_last_reload_success_timestamp_seconds", MT_GAUGE,
            "When the configuration was last loaded successfully.", when);
    expo_family(e, "poold_build_info", MT_GAUGE, "poold's version (value 1).");
    expo_u64(e, NULL, &(label_t){ "version", POOLD_VERSION }, 1, 1);
    expo_family(e, "poold_allocator_info", MT_GAUGE,
                "The allocator configuration in force, as POOLMALLOC names it (value 1).");
    expo_u64(e, NULL, &(label_t){ "allocators", pool_allocators_name() }, 1, 1);
}

static void process(expo_t *e, const self_process_t *p)
{
    if (p->have_stat) {
        one_f64(e, "process_cpu_seconds_total", MT_COUNTER, "User and system CPU time spent.",
                p->cpu_seconds);
        one_u64(e, "process_resident_memory_bytes", MT_GAUGE, "Resident memory size.",
                p->resident_bytes);
        one_u64(e, "process_virtual_memory_bytes", MT_GAUGE, "Virtual memory size.",
                p->virtual_bytes);
        one_u64(e, "process_threads", MT_GAUGE, "Threads in the process.", p->threads);
    }
    if (p->have_start)
        one_f64(e, "process_start_time_seconds", MT_GAUGE,
                "Start time of the process since the epoch.", p->start_time_seconds);
    if (p->have_fds)
        one_u64(e, "process_open_fds", MT_GAUGE, "Open file descriptors.", p->open_fds);
    if (p->have_max_fds)
        one_u64(e, "process_max_fds", MT_GAUGE, "Limit on open file descriptors.", p->max_fds);
    if (p->have_max_virtual)
        one_u64(e, "process_virtual_memory_max_bytes", MT_GAUGE,
                "Limit on virtual memory size.", p->max_virtual_bytes);
}

void metrics_render(buf_t *out, expo_format_t format)
{
    scrape_t *s = calloc(1, sizeof *s);
    if (!s) {
        out->failed = true;
        return;
    }
    s->started_ns = mono_ns();
    pool_stats_get(&s->pool);
    workload_read(&s->wl);
    replay_stats_read(&s->replay);
    processes_collect(&s->procs, false);
    self_process_read(&s->proc);

    expo_t e;
    expo_init(&e, out, format);
    arenas(&e, &s->pool);
    byte_breakdown(&e, &s->pool);
    size_classes(&e, s);
    size_histogram(&e, &s->pool);
    large_and_ops(&e, &s->pool);
    workload(&e, &s->wl);
    replay(&e, &s->replay);
    processes(&e, &s->procs);
    http_and_build(&e);
    process(&e, &s->proc);
    one_f64(&e, "poold_scrape_duration_seconds", MT_GAUGE,
            "Time this scrape took to collect and encode, up to this line.",
            (double)(mono_ns() - s->started_ns) * 1e-9);
    expo_finish(&e);
    processes_view_free(&s->procs);
    free(s);
}
