/* Unit tests of the query strings poold reads (http/routes.c): offset and
 * limit of /stats/arenas, through route_request with no network. A query
 * value is a non-negative integer or absent; anything else is a 400. */
#include "expose/stats_json.h"
#include "http/routes.h"
#include "tap.h"

#include <cjson/cJSON.h>
#include <poolalloc.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *offset, *limit; } query_t;

static const char *lookup(void *ctx, const char *key)
{
    const query_t *q = ctx;
    return strcmp(key, "offset") == 0 ? q->offset : strcmp(key, "limit") == 0 ? q->limit : NULL;
}

/* GET /stats/arenas?offset=..&limit=..; returns the status, the JSON in *json. */
static unsigned get(const char *offset, const char *limit, cJSON **json)
{
    query_t q = { offset, limit };
    request_t req = { .method = "GET", .path = "/stats/arenas", .query = lookup, .query_ctx = &q };
    routes_config_t cfg = { "/metrics" };
    reply_t rep;
    route_request(&cfg, &req, &rep);
    *json = rep.status == 200 ? cJSON_ParseWithLength(rep.body, rep.len) : NULL;
    unsigned status = rep.status;
    if (status == 400)
        OK(rep.body && strstr(rep.body, "offset and limit must be non-negative integers"),
           "the 400 says what is wrong");
    reply_free(&rep);
    return status;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static int arenas(const cJSON *o)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "arenas"));
}

int main(void)
{
    /* three arenas' worth of small blocks, so there is something to page */
    enum { N = 3 * 4096 };
    void **held = malloc(N * sizeof *held);
    for (int i = 0; i < N; i++)
        held[i] = pool_malloc(256);
    cJSON *j;

    OK(get(NULL, NULL, &j) == 200 && num(j, "offset") == 0 && num(j, "limit") == ARENAS_DEFAULT_LIMIT,
       "no query: offset 0, the default limit");
    double total = num(j, "total");
    OK(total >= 3 && arenas(j) == (int)(total < ARENAS_DEFAULT_LIMIT ? total : ARENAS_DEFAULT_LIMIT),
       "the page holds min(total, limit) arenas (total %.0f)", total);
    cJSON_Delete(j);

    OK(get("", "", &j) == 200 && num(j, "offset") == 0 && num(j, "limit") == ARENAS_DEFAULT_LIMIT,
       "empty values count as absent");
    cJSON_Delete(j);

    OK(get("1", "1", &j) == 200 && num(j, "offset") == 1 && num(j, "limit") == 1 && arenas(j) == 1 &&
           num(j, "next_offset") == 2,
       "offset=1&limit=1: one arena, next_offset 2");
    cJSON_Delete(j);

    OK(get("0", "100000", &j) == 200 && num(j, "limit") == ARENAS_MAX_LIMIT, "a limit above the maximum is capped");
    cJSON_Delete(j);

    OK(get("1000000", NULL, &j) == 200 && arenas(j) == 0 &&
           cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "next_offset")),
       "an offset past the end: no arenas, next_offset null");
    cJSON_Delete(j);

    OK(get("0", "0", &j) == 200 && arenas(j) == 0, "limit=0: an empty page");
    cJSON_Delete(j);

    const char *junk[] = { "-1", "abc", "1.5", " 1", "1 ", "0x10", "+3", "18446744073709551616" };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        OK(get(junk[i], NULL, &j) == 400, "offset=%s is a 400", junk[i]);
        OK(get(NULL, junk[i], &j) == 400, "limit=%s is a 400", junk[i]);
    }

    for (int i = 0; i < N; i++)
        pool_free(held[i]);
    free(held);
    return tap_done();
}
