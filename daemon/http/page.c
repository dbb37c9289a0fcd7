/* The live page; see page.h and docs/page.md. */
#define _GNU_SOURCE
#include "http/page.h"
#include "collectors/processes.h"
#include "expose/map_json.h"
#include "expose/stats_json.h"
#include "service/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* asset_index_html, asset_app_js, asset_app_css: the files of
 * daemon/http/page/ as byte arrays (made by daemon/http/page/embed.sh). */
#include "page_assets.inc"

/* ---- the headline figures: one table, rendered here, kept current by app.js ------- */

/* What a figure shows: its /stats path (dotted from the root of the JSON the
 * page reads), its label, and how app.js formats it. */
typedef struct { const char *path, *label, *format; } figure_t;

/* Both views start with the allocator's figures, then their own. */
static const figure_t allocator_figures[] = {
    { "allocator.arenas.mapped_bytes", "Mapped arena bytes", "bytes" },
    { "allocator.bytes.allocated", "In allocated blocks", "bytes" },
    { "allocator.utilisation", "Utilisation", "percent" },
    { "allocator.fragmentation_ratio", "Fragmentation ratio", "ratio" },
    { "allocator.arenas.current", "Arenas now", "count" },
    { "allocator.arenas.highwater", "Arenas high-water", "count" },
    { "process.resident_memory_bytes", "Process RSS", "bytes" },
};

static const figure_t own_figures[] = {
    { "workload.profile", "Workload", "text" },
    { "workload.operations", "Workload operations per second", "rate" },
};

/* the last only when the allocator counts its operations */
static const figure_t process_figures[] = {
    { "comm", "Program", "text" },
    { "allocator_name", "Allocator", "text" },
    { "allocator.operations.malloc", "Mallocs per second", "rate" },
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void html_escape(buf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '&': buf_puts(b, "&amp;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        case '\'': buf_puts(b, "&#39;"); break;
        default: buf_putc(b, *s);
        }
    }
}

/* The item at a dotted path, or NULL. */
static const cJSON *at_path(const cJSON *root, const char *path)
{
    char key[64];
    while (root && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        root = cJSON_GetObjectItemCaseSensitive(root, key);
        path += n + (path[n] == '.');
    }
    return root;
}

/* The value as plain text: what the page shows before (or without) app.js. */
static void put_value(buf_t *b, const cJSON *v, const char *format)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    if (cJSON_IsString(v)) {
        html_escape(b, v->valuestring);
    } else if (!cJSON_IsNumber(v) || strcmp(format, "rate") == 0) {
        buf_puts(b, "&#8212;");         /* a rate needs two looks: app.js */
    } else if (strcmp(format, "bytes") == 0) {
        double x = v->valuedouble;
        unsigned u = 0;
        while (x >= 1024 && u + 1 < sizeof units / sizeof units[0])
            x /= 1024, u++;
        buf_printf(b, u ? "%.1f %s" : "%.0f %s", x, units[u]);
    } else if (strcmp(format, "percent") == 0) {
        buf_printf(b, "%.1f %%", v->valuedouble * 100);
    } else if (strcmp(format, "ratio") == 0) {
        buf_printf(b, "%.2f", v->valuedouble);
    } else {
        buf_printf(b, "%.0f", v->valuedouble);
    }
}

static void headline(buf_t *b, const cJSON *root, const figure_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cJSON *v = at_path(root, f[i].path);
        buf_printf(b, "<tr><th scope=\"row\">%s</th><td data-stat=\"%s\" data-format=\"%s\" "
                      "data-value=\"", f[i].label, f[i].path, f[i].format);
        if (cJSON_IsNumber(v))
            buf_printf(b, "%.17g", v->valuedouble);
        else if (cJSON_IsString(v))
            html_escape(b, v->valuestring);
        buf_puts(b, "\">");
        put_value(b, v, f[i].format);
        buf_puts(b, "</td></tr>\n");
    }
}

/* ---- the HTML: daemon/http/page/index.html with its @NAME@ fields filled ---------- */

typedef struct {
    const char *title, *kind, *stats_url, *map_url, *metrics;
    const buf_t *headline;
} view_t;

static void put_field(buf_t *b, const view_t *v, const char *name, size_t n)
{
    const struct { const char *name; const char *value; } text[] = {
        { "TITLE", v->title }, { "KIND", v->kind }, { "STATS_URL", v->stats_url },
        { "MAP_URL", v->map_url }, { "METRICS", v->metrics }, { "VERSION", POOLD_VERSION },
    };
    if (n == 8 && strncmp(name, "HEADLINE", 8) == 0) {
        buf_add(b, v->headline->data, v->headline->len);
        return;
    }
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        if (strlen(text[i].name) == n && strncmp(name, text[i].name, n) == 0)
            return html_escape(b, text[i].value);
    buf_add(b, name - 1, n + 2);       /* not a field: as written */
}

static void render(buf_t *b, const view_t *v)
{
    const char *t = (const char *)asset_index_html, *end = t + sizeof asset_index_html;
    while (t < end) {
        const char *at = memchr(t, '@', (size_t)(end - t));
        const char *close = at ? memchr(at + 1, '@', (size_t)(end - at - 1)) : NULL;
        if (!close) {
            buf_add(b, t, (size_t)(end - t));
            break;
        }
        buf_add(b, t, (size_t)(at - t));
        put_field(b, v, at + 1, (size_t)(close - at - 1));
        t = close + 1;
    }
}

static void reply_view(const request_t *req, reply_t *rep, const view_t *v)
{
    buf_t b;
    buf_init(&b);
    render(&b, v);
    size_t len;
    char *body = buf_take(&b, &len);
    reply_body(rep, 200, TYPE_HTML, body, len);
    rep->csp = true;
    reply_gzip(req, rep);
}

void page_live(const routes_config_t *cfg, const request_t *req, reply_t *rep)
{
    cJSON *root = stats_json_tree();
    buf_t h;
    buf_init(&h);
    headline(&h, root, allocator_figures, N_OF(allocator_figures));
    headline(&h, root, own_figures, N_OF(own_figures));
    cJSON_Delete(root);
    view_t v = { "poold", "poold", "/stats", "/stats/map", cfg->telemetry_path, &h };
    reply_view(req, rep, &v);
    buf_free(&h);
}

/* ---- app.js and app.css ----------------------------------------------------------------- */

void page_asset(const routes_config_t *cfg, const request_t *req, reply_t *rep)
{
    (void)cfg;
    static const struct { const char *path, *type; const unsigned char *data; size_t len; } assets[] = {
        { "/app.js", "text/javascript; charset=utf-8", asset_app_js, sizeof asset_app_js },
        { "/app.css", "text/css; charset=utf-8", asset_app_css, sizeof asset_app_css },
        { "/favicon.svg", "image/svg+xml", asset_favicon_svg, sizeof asset_favicon_svg },
    };
    for (size_t i = 0; i < N_OF(assets); i++) {
        if (strcmp(req->path, assets[i].path) != 0)
            continue;
        char *body = malloc(assets[i].len);
        if (body)
            memcpy(body, assets[i].data, assets[i].len);
        reply_body(rep, 200, assets[i].type, body, assets[i].len);
        return reply_gzip(req, rep);
    }
    reply_text(rep, 404, "404 page not found\n");
}

/* ---- the map ----------------------------------------------------------------------------- */

/* ?offset=&limit=&order=address|fullest; false for junk (400). */
static bool map_query(const request_t *req, map_query_t *q)
{
    const char *order = req->query ? req->query(req->query_ctx, "order") : NULL;
    q->fullest = order && strcmp(order, "fullest") == 0;
    if (order && *order && !q->fullest && strcmp(order, "address") != 0)
        return false;
    return request_count(req, "offset", 0, &q->offset) == 0 &&
           request_count(req, "limit", MAP_DEFAULT_LIMIT, &q->limit) == 0;
}

static void reply_map(const request_t *req, reply_t *rep, pool_arena_info_t *map, size_t n,
                      size_t total)
{
    map_query_t q;
    if (!map_query(req, &q))
        return reply_text(rep, 400, "offset and limit must be non-negative integers, "
                                    "order address or fullest\n");
    size_t len = 0;
    char *body = map_json(map, n, total, &q, &len);
    reply_body(rep, 200, TYPE_JSON, body, len);
    reply_gzip(req, rep);
}

void page_map(const routes_config_t *cfg, const request_t *req, reply_t *rep)
{
    (void)cfg;
    size_t n = 0, total = 0;
    pool_arena_info_t *map = map_own(&n, &total);
    if (!map)
        return reply_text(rep, 500, "out of memory\n");
    reply_map(req, rep, map, n, total);
    free(map);
}

/* ---- /process/PID[/stats|/map] -------------------------------------------------------- */

/* The pid and what follows it in path, or 0. */
static uint32_t process_path(const char *path, const char **rest)
{
    const char *s = path + strlen("/process/");
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 10 || s[0] == '0')
        return 0;
    unsigned long v = strtoul(s, NULL, 10);
    *rest = s + n;
    return v <= 0x7fffffff ? (uint32_t)v : 0;
}

static void process_view(const routes_config_t *cfg, const request_t *req, reply_t *rep,
                         const export_snapshot_t *p)
{
    char title[64], stats[48], map[48];
    snprintf(title, sizeof title, "%s (pid %u)", p->comm, p->pid);
    snprintf(stats, sizeof stats, "/process/%u/stats", p->pid);
    snprintf(map, sizeof map, "/process/%u/map", p->pid);
    cJSON *root = stats_json_process_tree(p);
    buf_t h;
    buf_init(&h);
    size_t nf = N_OF(process_figures);
    headline(&h, root, allocator_figures, N_OF(allocator_figures));
    headline(&h, root, process_figures, (p->has & EXPORT_HAS_OPS) ? nf : nf - 1);
    cJSON_Delete(root);
    view_t v = { title, "process", stats, map, cfg->telemetry_path, &h };
    reply_view(req, rep, &v);
    buf_free(&h);
}

void page_process(const routes_config_t *cfg, const request_t *req, reply_t *rep)
{
    const char *rest = "";
    uint32_t pid = process_path(req->path, &rest);
    bool html = pid && !*rest, stats = pid && strcmp(rest, "/stats") == 0,
         map = pid && strcmp(rest, "/map") == 0;
    if (!html && !stats && !map)
        return reply_text(rep, 404, "404 page not found\n");
    export_snapshot_t p;
    if (processes_find(pid, &p) != 0)
        return reply_text(rep, 404, "404 no such exported process (see --collector.processes)\n");
    if (html) {
        process_view(cfg, req, rep, &p);
    } else if (stats) {
        size_t len = 0;
        char *body = stats_json_finish(stats_json_process_tree(&p), &len);
        reply_body(rep, 200, TYPE_JSON, body, len);
        reply_gzip(req, rep);
    } else {
        reply_map(req, rep, p.map, p.map_records, p.map ? p.map_total : p.stats.arenas_current);
    }
    export_snapshot_free(&p);
}
