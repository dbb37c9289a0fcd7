/* Routing: which path is which page, what methods it allows, and the
 * refusals (404, 405, 413, 400). */
#define _GNU_SOURCE
#include "http/routes.h"
#include "config/parse.h"
#include "expose/metrics.h"
#include "expose/stats_json.h"
#include "http/gzip.h"
#include "http/negotiate.h"
#include "http/page.h"
#include "service/buf.h"
#include "service/status.h"
#include "workload/workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALLOW_GET "GET, HEAD"
/* Below this size gzip costs more than it saves. */
#define GZIP_MIN_BYTES 1024

void reply_free(reply_t *rep)
{
    free(rep->body);
    memset(rep, 0, sizeof *rep);
}

void reply_body(reply_t *rep, unsigned status, const char *type, char *body, size_t len)
{
    memset(rep, 0, sizeof *rep);
    rep->status = status;
    rep->content_type = type;
    rep->body = body;
    rep->len = len;
    if (!body && len) {       /* out of memory on the way */
        rep->status = 500;
        rep->len = 0;
    }
}

void reply_text(reply_t *rep, unsigned status, const char *text)
{
    char *body = strdup(text);
    reply_body(rep, status, TYPE_TEXT, body, strlen(text));
}

void reply_gzip(const request_t *req, reply_t *rep)
{
    rep->vary = true;
    if (rep->len < GZIP_MIN_BYTES || !negotiate_gzip(req->accept_encoding))
        return;
    size_t zlen;
    char *z = gzip_compress(rep->body, rep->len, &zlen);
    if (!z)
        return;       /* send it uncompressed rather than fail */
    free(rep->body);
    rep->body = z;
    rep->len = zlen;
    rep->gzip = true;
}

static void page_metrics(const routes_config_t *cfg, const request_t *req, reply_t *rep)
{
    (void)cfg;
    negotiated_t n = negotiate_format(req->accept);
    buf_t b;
    buf_init(&b);
    metrics_render(&b, n.format);
    size_t len;
    char *body = buf_take(&b, &len);
    if (!body)
        return reply_text(rep, 500, "out of memory\n");
    reply_body(rep, 200, n.content_type, body, len);
    reply_gzip(req, rep);
}

static void page_stats(const routes_config_t *cfg, const request_t *req, reply_t *rep)
{
    (void)cfg;
    size_t len = 0;
    char *body = stats_json_full(&len);
    if (!body)
        return reply_text(rep, 500, "out of memory\n");
    reply_body(rep, 200, TYPE_JSON, body, len);
    reply_gzip(req, rep);
}

int request_count(const request_t *req, const char *key, size_t def, size_t *out)
{
    const char *v = req->query ? req->query(req->query_ctx, key) : NULL;
    uint64_t n;
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    if (parse_u64(v, &n) != 0)
        return -1;
    *out = (size_t)n;
    return 0;
}

static void page_arenas(const routes_config_t *cfg, const request_t *req, reply_t *rep)
{
    (void)cfg;
    size_t offset, limit, len = 0;
    if (request_count(req, "offset", 0, &offset) || request_count(req, "limit", ARENAS_DEFAULT_LIMIT, &limit))
        return reply_text(rep, 400, "offset and limit must be non-negative integers\n");
    char *body = stats_json_arenas(offset, limit, &len);
    if (!body)
        return reply_text(rep, 500, "out of memory\n");
    reply_body(rep, 200, TYPE_JSON, body, len);
    reply_gzip(req, rep);
}

static void page_health(const routes_config_t *cfg, const request_t *req, reply_t *rep)
{
    (void)cfg;
    (void)req;
    char why[160], msg[200];
    if (status_workload_healthy(workload_idle(), why, sizeof why))
        return reply_text(rep, 200, "ok\n");
    snprintf(msg, sizeof msg, "unhealthy: %s\n", why);
    reply_text(rep, 503, msg);
}

static page_fn find_page(const routes_config_t *cfg, const char *path)
{
    static const struct { const char *path; page_fn fn; } pages[] = {
        { "/", page_live },               { "/stats", page_stats },
        { "/stats/arenas", page_arenas }, { "/healthz", page_health },
        { "/stats/map", page_map },       { "/app.js", page_asset },
        { "/app.css", page_asset },       { "/favicon.svg", page_asset },
    };
    if (strcmp(path, cfg->telemetry_path) == 0)
        return page_metrics;
    if (strncmp(path, "/process/", 9) == 0)
        return page_process;
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        if (strcmp(path, pages[i].path) == 0)
            return pages[i].fn;
    return NULL;
}

/* 0: no body; 413: a body (poold never takes one); 400: a Content-Length
 * that is not a number. */
static unsigned body_verdict(const request_t *req)
{
    const char *cl = req->content_length;
    if (cl && (!*cl || strspn(cl, "0123456789") != strlen(cl)))
        return 400;
    if (req->transfer_encoding || (cl && strspn(cl, "0") != strlen(cl)))
        return 413;
    return 0;
}

void route_request(const routes_config_t *cfg, const request_t *req, reply_t *rep)
{
    memset(rep, 0, sizeof *rep);
    page_fn page = find_page(cfg, req->path);
    if (!page)
        return reply_text(rep, 404, "404 page not found\n");
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        reply_text(rep, 405, "405 method not allowed\n");
        rep->allow = ALLOW_GET;
        return;
    }
    switch (body_verdict(req)) {
    case 400: return reply_text(rep, 400, "400 bad Content-Length\n");
    case 413: return reply_text(rep, 413, "413 request bodies are not accepted\n");
    }
    page(cfg, req, rep);
}
