/* Accept / Accept-Encoding parsing. Entries are "type;param=value;q=0.5",
 * separated by commas; they are tried in order of q (ties keep their
 * order), and q=0 means "not this". At most MAX_ITEMS entries are looked at,
 * which bounds the work a hostile header can cause. */
#include "http/negotiate.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { MAX_ITEMS = 32 };

typedef struct {
    const char *token, *params;   /* params: from the first ';', may be empty */
    size_t      token_len, params_len;
    double      q;
} item_t;

static const char *skip_ws(const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

static const char *trim_end(const char *s, const char *e)
{
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return e;
}

/* Finds parameter name in params; copies its value (quotes removed). */
static bool param(const item_t *it, const char *name, char *out, size_t outlen)
{
    const char *p = it->params, *end = it->params + it->params_len;
    size_t nlen = strlen(name);
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *pe = semi ? semi : end;
        const char *k = skip_ws(p, pe), *eq = memchr(k, '=', (size_t)(pe - k));
        if (eq && (size_t)(trim_end(k, eq) - k) == nlen && strncasecmp(k, name, nlen) == 0) {
            const char *v = skip_ws(eq + 1, pe), *ve = trim_end(v, pe);
            if (ve - v >= 2 && *v == '"' && ve[-1] == '"')
                v++, ve--;
            size_t n = (size_t)(ve - v) < outlen - 1 ? (size_t)(ve - v) : outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return true;
        }
        p = semi ? semi + 1 : end;
    }
    return false;
}

static double quality(const item_t *it)
{
    char q[16];
    if (!param(it, "q", q, sizeof q))
        return 1;
    char *end;
    double v = strtod(q, &end);
    return (*end || !(v >= 0 && v <= 1)) ? 0 : v;   /* a bad q counts as q=0 */
}

static size_t split(const char *h, item_t *items)
{
    size_t n = 0;
    const char *p = h, *end = h + strlen(h);
    while (p < end && n < MAX_ITEMS) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *ie = comma ? comma : end;
        const char *s = skip_ws(p, ie);
        const char *semi = s < ie ? memchr(s, ';', (size_t)(ie - s)) : NULL;
        const char *te = trim_end(s, semi ? semi : ie);
        if (te > s) {
            item_t *it = &items[n++];
            it->token = s;
            it->token_len = (size_t)(te - s);
            it->params = semi ? semi + 1 : ie;
            it->params_len = semi ? (size_t)(ie - semi - 1) : 0;
            it->q = quality(it);
        }
        p = comma ? comma + 1 : end;
    }
    return n;
}

/* Stable sort by q, highest first (insertion sort: n <= MAX_ITEMS). */
static void sort_by_q(item_t *items, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        item_t it = items[i];
        size_t j = i;
        while (j > 0 && items[j - 1].q < it.q) {
            items[j] = items[j - 1];
            j--;
        }
        items[j] = it;
    }
}

static bool token_is(const item_t *it, const char *s)
{
    return it->token_len == strlen(s) && strncasecmp(it->token, s, it->token_len) == 0;
}

/* What poold would serve for one Accept entry; false if it cannot. */
static bool serves(const item_t *it, negotiated_t *out)
{
    char version[16];
    bool has_version = param(it, "version", version, sizeof version);
    if (token_is(it, "application/openmetrics-text")) {
        if (has_version && strcmp(version, "1.0.0") == 0)
            *out = (negotiated_t){ EXPO_OPENMETRICS, CONTENT_TYPE_OM_100 };
        else if (!has_version || strcmp(version, "0.0.1") == 0)
            *out = (negotiated_t){ EXPO_OPENMETRICS, CONTENT_TYPE_OM_001 };
        else
            return false;
        return true;
    }
    if (token_is(it, "text/plain") && (!has_version || strcmp(version, "0.0.4") == 0)) {
        *out = (negotiated_t){ EXPO_TEXT, CONTENT_TYPE_TEXT };
        return true;
    }
    if (token_is(it, "*/*") || token_is(it, "text/*")) {
        *out = (negotiated_t){ EXPO_TEXT, CONTENT_TYPE_TEXT };
        return true;
    }
    return false;
}

negotiated_t negotiate_format(const char *accept)
{
    negotiated_t r = { EXPO_TEXT, CONTENT_TYPE_TEXT };
    if (!accept)
        return r;
    item_t items[MAX_ITEMS];
    size_t n = split(accept, items);
    sort_by_q(items, n);
    for (size_t i = 0; i < n && items[i].q > 0; i++)
        if (serves(&items[i], &r))
            return r;
    return (negotiated_t){ EXPO_TEXT, CONTENT_TYPE_TEXT };
}

bool negotiate_gzip(const char *accept_encoding)
{
    if (!accept_encoding)
        return false;
    item_t items[MAX_ITEMS];
    size_t n = split(accept_encoding, items);
    bool star = false;
    for (size_t i = 0; i < n; i++) {
        if (token_is(&items[i], "gzip") || token_is(&items[i], "x-gzip"))
            return items[i].q > 0;
        if (token_is(&items[i], "*"))
            star = items[i].q > 0;
    }
    return star;
}
