/* --web.config.file: the exporter-toolkit web configuration (YAML), so a
 * Prometheus user's existing file works:
 *
 *   tls_server_config: {cert_file, key_file | cert, key, min_version, max_version}
 *   http_server_config: {headers: {allow-listed response headers}}
 *   basic_auth_users: {user: bcrypt hash}
 *
 * Settings poold cannot honour (client certificates, cipher lists, rate
 * limits) are errors, not silently ignored. */
#ifndef POOLD_WEBCONFIG_H
#define POOLD_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct { char *name, *value; } kv_t;

#define WEBCONFIG_MAX_HEADERS 5

typedef struct webconfig {
    bool   tls;
    char  *cert_file, *key_file;   /* as written, relative to the file */
    char  *cert_pem, *key_pem;     /* inline, or read by webconfig_load */
    int    min_version, max_version;   /* 10..13 for TLS 1.0..1.3 */
    kv_t  *users;
    size_t n_users;
    kv_t   headers[WEBCONFIG_MAX_HEADERS];
    size_t n_headers;
} webconfig_t;

/* Parses YAML text; name is used in messages ("web.yml:3: ..."). Does not
 * read the certificate files. Returns 0 or -1 with err. */
int  webconfig_parse(const char *text, size_t len, const char *name, webconfig_t *out,
                     char *err, size_t errlen);
/* Reads and parses path, then the certificate and key it names. An empty
 * path gives an empty configuration (no TLS, no authentication). */
int  webconfig_load(const char *path, webconfig_t *out, char *err, size_t errlen);
void webconfig_free(webconfig_t *wc);
/* The GnuTLS priority string for the configured TLS versions. */
const char *webconfig_tls_priorities(const webconfig_t *wc);

#endif
