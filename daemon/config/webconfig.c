/* The web configuration file, parsed with libyaml's document loader and
 * walked by hand: the structure is small and fixed, so every unknown or
 * misplaced key can be reported with its line. */
#define _GNU_SOURCE
#include "config/webconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

enum { MAX_FILE = 1 << 20, MAX_USERS = 1024 };

typedef struct {
    yaml_document_t *doc;
    const char      *name;
    char            *err;
    size_t           errlen;
} walk_t;

static int fail(walk_t *w, const yaml_node_t *n, const char *fmt, const char *arg)
{
    int len = snprintf(w->err, w->errlen, "%s:%lu: ", w->name,
                       n ? (unsigned long)n->start_mark.line + 1 : 1UL);
    if (len >= 0 && (size_t)len < w->errlen)
        snprintf(w->err + len, w->errlen - (size_t)len, fmt, arg);
    return -1;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A scalar value; NUL bytes inside are refused (they would cut it short). */
static int get_string(walk_t *w, const yaml_node_t *n, const char *key, char **out)
{
    const char *s = scalar(n);
    if (!s || strlen(s) != n->data.scalar.length)
        return fail(w, n, "%s: expected a string", key);
    free(*out);
    if (!(*out = strdup(s)))
        return fail(w, n, "%s: out of memory", key);
    return 0;
}

static int get_tls_version(walk_t *w, const yaml_node_t *n, const char *key, int *out)
{
    static const char *const names[] = { "TLS10", "TLS11", "TLS12", "TLS13" };
    const char *s = scalar(n);
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return *out = 10 + i, 0;
    return fail(w, n, "%s: expected TLS10, TLS11, TLS12 or TLS13", key);
}

typedef int (*pair_fn)(walk_t *w, const char *key, yaml_node_t *k, yaml_node_t *v, webconfig_t *wc);

/* Calls fn for each key of a mapping node (an empty value is an empty map). */
static int each_pair(walk_t *w, yaml_node_t *map, const char *what, pair_fn fn, webconfig_t *wc)
{
    if (map->type == YAML_SCALAR_NODE && map->data.scalar.length == 0)
        return 0;
    if (map->type != YAML_MAPPING_NODE)
        return fail(w, map, "%s: expected a mapping", what);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
        const char *key = scalar(k);
        if (!key || !v)
            return fail(w, k, "%s: keys must be strings", what);
        if (fn(w, key, k, v, wc) != 0)
            return -1;
    }
    return 0;
}

static int tls_pair(walk_t *w, const char *key, yaml_node_t *k, yaml_node_t *v, webconfig_t *wc)
{
    static const char *const unsupported[] = {
        "client_auth_type", "client_ca_file", "client_allowed_sans", "cipher_suites",
        "curve_preferences",
    };
    if (strcmp(key, "cert_file") == 0)
        return get_string(w, v, key, &wc->cert_file);
    if (strcmp(key, "key_file") == 0)
        return get_string(w, v, key, &wc->key_file);
    if (strcmp(key, "cert") == 0)
        return get_string(w, v, key, &wc->cert_pem);
    if (strcmp(key, "key") == 0)
        return get_string(w, v, key, &wc->key_pem);
    if (strcmp(key, "min_version") == 0)
        return get_tls_version(w, v, key, &wc->min_version);
    if (strcmp(key, "max_version") == 0)
        return get_tls_version(w, v, key, &wc->max_version);
    if (strcmp(key, "prefer_server_cipher_suites") == 0)
        return 0;   /* GnuTLS's priority order already is the server's */
    if (strcmp(key, "client_auth_type") == 0 && scalar(v) && strcmp(scalar(v), "NoClientCert") == 0)
        return 0;
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (strcmp(key, unsupported[i]) == 0)
            return fail(w, k, "tls_server_config.%s is not supported by poold", key);
    return fail(w, k, "unknown key \"tls_server_config.%s\"", key);
}

static int header_pair(walk_t *w, const char *key, yaml_node_t *k, yaml_node_t *v, webconfig_t *wc)
{
    static const char *const allowed[] = {
        "Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
        "X-XSS-Protection", "Strict-Transport-Security",
    };
    size_t i = 0;
    while (i < WEBCONFIG_MAX_HEADERS && strcasecmp(key, allowed[i]) != 0)
        i++;
    if (i == WEBCONFIG_MAX_HEADERS)
        return fail(w, k, "header \"%s\" is not one of the allowed response headers", key);
    char *value = NULL;
    if (get_string(w, v, key, &value) != 0)
        return -1;
    if (strpbrk(value, "\r\n") || wc->n_headers == WEBCONFIG_MAX_HEADERS) {
        free(value);
        return fail(w, v, "header \"%s\": bad or repeated value", key);
    }
    wc->headers[wc->n_headers++] = (kv_t){ strdup(allowed[i]), value };
    return wc->headers[wc->n_headers - 1].name ? 0 : fail(w, k, "%s: out of memory", key);
}

static int http_pair(walk_t *w, const char *key, yaml_node_t *k, yaml_node_t *v, webconfig_t *wc)
{
    if (strcmp(key, "headers") == 0)
        return each_pair(w, v, "http_server_config.headers", header_pair, wc);
    if (strcmp(key, "http2") == 0)
        return 0;   /* poold speaks HTTP/1.1 only; accepted for compatibility */
    return fail(w, k, "unknown key \"http_server_config.%s\"", key);
}

static bool is_bcrypt(const char *h)
{
    return strlen(h) == 60 && h[0] == '$' && h[1] == '2' && strchr("aby", h[2]) && h[3] == '$';
}

static int user_pair(walk_t *w, const char *key, yaml_node_t *k, yaml_node_t *v, webconfig_t *wc)
{
    (void)k;
    char *hash = NULL;
    if (get_string(w, v, key, &hash) != 0)
        return -1;
    if (!is_bcrypt(hash)) {
        free(hash);
        return fail(w, v, "basic_auth_users.%s: not a bcrypt hash ($2a$, $2b$ or $2y$)", key);
    }
    kv_t *users = wc->n_users < MAX_USERS ? realloc(wc->users, (wc->n_users + 1) * sizeof *users) : NULL;
    char *name = users ? strdup(key) : NULL;
    if (users)
        wc->users = users;
    if (!name) {
        free(hash);
        return fail(w, k, "basic_auth_users: too many users or out of memory%s", "");
    }
    wc->users[wc->n_users++] = (kv_t){ name, hash };
    return 0;
}

static int top_pair(walk_t *w, const char *key, yaml_node_t *k, yaml_node_t *v, webconfig_t *wc)
{
    if (strcmp(key, "tls_server_config") == 0) {
        wc->tls = true;
        return each_pair(w, v, key, tls_pair, wc);
    }
    if (strcmp(key, "http_server_config") == 0)
        return each_pair(w, v, key, http_pair, wc);
    if (strcmp(key, "basic_auth_users") == 0)
        return each_pair(w, v, key, user_pair, wc);
    if (strcmp(key, "rate_limit") == 0)
        return fail(w, k, "rate_limit is not supported by poold (see --web.max-requests)%s", "");
    return fail(w, k, "unknown key \"%s\"", key);
}

static int check_tls(walk_t *w, webconfig_t *wc)
{
    if (!wc->tls)
        return 0;
    if (!wc->cert_file == !wc->cert_pem || !wc->key_file == !wc->key_pem)
        return fail(w, NULL, "tls_server_config needs one of cert_file or cert, and one of "
                             "key_file or key%s", "");
    if (wc->max_version && (wc->max_version < 12 || wc->max_version < wc->min_version))
        return fail(w, NULL, "tls_server_config: max_version must be TLS12 or TLS13, and not "
                             "below min_version%s", "");
    return 0;
}

int webconfig_parse(const char *text, size_t len, const char *name, webconfig_t *out,
                    char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->min_version = 12;
    yaml_parser_t parser;
    yaml_document_t doc;
    walk_t w = { &doc, name, err, errlen };
    if (!yaml_parser_initialize(&parser))
        return fail(&w, NULL, "out of memory%s", "");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%lu: %s", name, (unsigned long)parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "YAML error");
        yaml_parser_delete(&parser);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int r = root ? each_pair(&w, root, "the file", top_pair, out) : 0;
    if (r == 0)
        r = check_tls(&w, out);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (r != 0)
        webconfig_free(out);
    return r;
}

static char *slurp(const char *path, size_t *len, int *error)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return *error = errno, NULL;
    char *data = malloc(MAX_FILE + 1);
    size_t n = data ? fread(data, 1, MAX_FILE, f) : 0;
    *error = !data ? ENOMEM : ferror(f) ? EIO : 0;
    fclose(f);
    if (*error)
        return free(data), NULL;
    data[n] = '\0';
    *len = n;
    return data;
}

/* A file named in the config, relative to the config file's directory. */
static int read_relative(const char *config, const char *file, char **out, char *err, size_t errlen)
{
    char path[4096];
    const char *slash = strrchr(config, '/');
    if (file[0] == '/' || !slash)
        snprintf(path, sizeof path, "%s", file);
    else
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - config), config, file);
    size_t len;
    int error;
    if (!(*out = slurp(path, &len, &error))) {
        snprintf(err, errlen, "%s: %s: %s", config, path, strerror(error));
        return -1;
    }
    return 0;
}

int webconfig_load(const char *path, webconfig_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!path || !*path)
        return 0;
    size_t len;
    int error;
    char *text = slurp(path, &len, &error);
    if (!text) {
        snprintf(err, errlen, "%s: %s", path, strerror(error));
        return -1;
    }
    int r = webconfig_parse(text, len, path, out, err, errlen);
    free(text);
    if (r == 0 && out->cert_file)
        r = read_relative(path, out->cert_file, &out->cert_pem, err, errlen);
    if (r == 0 && out->key_file)
        r = read_relative(path, out->key_file, &out->key_pem, err, errlen);
    if (r != 0)
        webconfig_free(out);
    return r;
}

static void free_kv(kv_t *kv)
{
    free(kv->name);
    if (kv->value)
        explicit_bzero(kv->value, strlen(kv->value));
    free(kv->value);
}

void webconfig_free(webconfig_t *wc)
{
    for (size_t i = 0; i < wc->n_users; i++)
        free_kv(&wc->users[i]);
    for (size_t i = 0; i < wc->n_headers; i++)
        free_kv(&wc->headers[i]);
    free(wc->users);
    free(wc->cert_file);
    free(wc->key_file);
    free(wc->cert_pem);
    if (wc->key_pem)
        explicit_bzero(wc->key_pem, strlen(wc->key_pem));
    free(wc->key_pem);
    memset(wc, 0, sizeof *wc);
}

const char *webconfig_tls_priorities(const webconfig_t *wc)
{
    /* Index: minimum version 10..13, then whether 1.3 is cut off (max 1.2). */
    static const char *const prio[4][2] = {
        { "NORMAL", "NORMAL:-VERS-TLS1.3" },
        { "NORMAL:-VERS-TLS1.0", "NORMAL:-VERS-TLS1.0:-VERS-TLS1.3" },
        { "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1", "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-TLS1.3" },
        { "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-TLS1.2", "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-TLS1.2" },
    };
    int min = wc->min_version >= 10 && wc->min_version <= 13 ? wc->min_version : 12;
    bool cap12 = wc->max_version && wc->max_version < 13;
    return prio[min - 10][cap12];
}
