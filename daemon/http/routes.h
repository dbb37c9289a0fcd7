/* The request handling that does not depend on libmicrohttpd: a request
 * (method, path, the headers that matter, query lookup) goes in, a reply
 * (status, type, body, extra headers) comes out. server.c feeds it from MHD;
 * the fuzz target feeds it directly. */
#ifndef POOLD_ROUTES_H
#define POOLD_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#define TYPE_TEXT "text/plain; charset=utf-8"
#define TYPE_HTML "text/html; charset=utf-8"
#define TYPE_JSON "application/json"

typedef struct request {
    const char *method, *path;
    const char *accept, *accept_encoding;
    const char *content_length, *transfer_encoding;
    /* query-string lookup: the value of key, or NULL */
    const char *(*query)(void *ctx, const char *key);
    void       *query_ctx;
} request_t;

typedef struct reply {
    unsigned    status;
    const char *content_type;
    char       *body;          /* malloc'd; may be NULL when len is 0 */
    size_t      len;
    const char *allow;         /* Allow: (405) */
    bool        gzip;          /* Content-Encoding: gzip */
    bool        vary;          /* Vary: Accept-Encoding */
    bool        csp;           /* the live page's Content-Security-Policy */
} reply_t;

/* The live page's policy: its own script, style and data only. */
#define PAGE_CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " \
                 "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

typedef struct routes_config {
    const char *telemetry_path;
} routes_config_t;

typedef void (*page_fn)(const routes_config_t *, const request_t *, reply_t *);

/* A query parameter as a count: absent gives def; 0, or -1 for junk. */
int request_count(const request_t *req, const char *key, size_t def, size_t *out);

/* Fills rep (which the caller releases with reply_free). */
void route_request(const routes_config_t *cfg, const request_t *req, reply_t *rep);
/* A plain-text reply with a fixed message (errors, 503, 401). */
void reply_text(reply_t *rep, unsigned status, const char *text);
/* A reply owning body (malloc'd; NULL means out of memory: 500). */
void reply_body(reply_t *rep, unsigned status, const char *type, char *body, size_t len);
/* gzip the body when the client takes it and it is worth it. */
void reply_gzip(const request_t *req, reply_t *rep);
void reply_free(reply_t *rep);

#endif
