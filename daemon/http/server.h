/* The HTTP server: one libmicrohttpd daemon (an internal epoll thread) per
 * listening socket, answering through routes.c, with the connection policy
 * of conntrack.h (deadlines, making room), the in-flight cap, basic
 * authentication and TLS on top. */
#ifndef POOLD_SERVER_H
#define POOLD_SERVER_H

#include "config/webconfig.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct server_settings {
    const int        *fds;            /* listening sockets; the server owns them */
    size_t            n_fds;
    const char       *telemetry_path;
    unsigned          max_connections, max_connections_per_ip;
    int64_t           header_timeout_ms, idle_timeout_ms, write_timeout_ms;
    const webconfig_t *web;           /* TLS and extra headers */
} server_settings_t;

/* Returns 0, or -1 with err (the sockets are closed either way on failure). */
int  server_start(const server_settings_t *s, char *err, size_t errlen);
void server_stop(void);
/* --web.max-requests, changeable at run time; 0 = no limit. */
void server_set_max_requests(unsigned n);
/* Sends a request through every server's own polling thread and waits for
 * the answers: true when all of them answered within timeout_ms. */
bool server_probe(int timeout_ms);

#endif
