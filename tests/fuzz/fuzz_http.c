/* libFuzzer target: request handling without the network. The input is
 * newline-separated fields: method, path, Accept, Accept-Encoding,
 * Content-Length, Transfer-Encoding, ?offset, ?limit, ?order (an empty field is an
 * absent header). Checks the invariants every reply must keep. */
#include "http/negotiate.h"
#include "http/routes.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_METHOD, F_PATH, F_ACCEPT, F_ENCODING, F_LENGTH, F_TRANSFER, F_OFFSET, F_LIMIT, F_ORDER,
       F_COUNT };

static const char *query(void *ctx, const char *key)
{
    char **f = ctx;
    return strcmp(key, "offset") == 0 ? f[F_OFFSET] : strcmp(key, "limit") == 0 ? f[F_LIMIT]
         : strcmp(key, "order") == 0 ? f[F_ORDER] : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *f[F_COUNT] = { 0 }, *p = copy;
    for (int i = 0; i < F_COUNT && p; i++) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        f[i] = *p ? p : NULL;
        p = nl ? nl + 1 : NULL;
    }
    request_t req = {
        .method = f[F_METHOD] ? f[F_METHOD] : "GET", .path = f[F_PATH] ? f[F_PATH] : "/",
        .accept = f[F_ACCEPT], .accept_encoding = f[F_ENCODING],
        .content_length = f[F_LENGTH], .transfer_encoding = f[F_TRANSFER],
        .query = query, .query_ctx = f,
    };
    routes_config_t cfg = { "/metrics" };
    reply_t rep;
    route_request(&cfg, &req, &rep);
    if (!rep.content_type || rep.status < 200 || rep.status > 599 || (rep.len && !rep.body))
        abort();
    if (rep.status == 405 && !rep.allow)
        abort();
    negotiated_t n = negotiate_format(req.accept);
    if (rep.status == 200 && strcmp(req.path, "/metrics") == 0 && !rep.gzip) {
        const char *eof = "# EOF\n";
        bool has_eof = rep.len >= 6 && memcmp(rep.body + rep.len - 6, eof, 6) == 0;
        if (has_eof != (n.format == EXPO_OPENMETRICS) || strcmp(rep.content_type, n.content_type) != 0)
            abort();
    }
    reply_free(&rep);
    free(copy);
    return 0;
}
