/* The request handling that does not depend on libmicrohttpd: a request
 * (method, path, the headers that matter, query lookup) goes in, a reply
 * (status, type, body, extra headers) comes out. server.c feeds it from MHD;
 * the fuzz target feeds it directly. */
#ifndef POOLD_ROUTES_H
#define POOLD_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

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
} reply_t;

typedef struct routes_config {
    const char *telemetry_path;
} routes_config_t;

/* Fills rep (which the caller releases with reply_free). */
void route_request(const routes_config_t *cfg, const request_t *req, reply_t *rep);
/* A plain-text reply with a fixed message (errors, 503, 401). */
void reply_text(reply_t *rep, unsigned status, const char *text);
void reply_free(reply_t *rep);

#endif
