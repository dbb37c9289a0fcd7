/* libmicrohttpd glue. Every request is answered on the first call of the
 * access handler (when the headers are in): poold takes no request bodies,
 * and answering before a body is read makes MHD drop the body and close
 * the connection, which is what a refusal should do. */
#define _GNU_SOURCE
#include "http/server.h"
#include "collectors/http_stats.h"
#include "config/options.h"
#include "http/auth.h"
#include "http/listen.h"
#include "http/routes.h"
#include "service/log.h"

#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define REALM "poold"
/* Per-connection kernel send buffer (the kernel doubles it): room for a
 * gzipped scrape many times over, and for a plain one on a fast network. */
#define SEND_BUFFER_BYTES (64 * 1024)

static struct MHD_Daemon *daemons[MAX_LISTEN];
static bool daemon_tls[MAX_LISTEN];
static size_t n_daemons;
static routes_config_t routes;
static kv_t extra_headers[WEBCONFIG_MAX_HEADERS];
static size_t n_extra_headers;
static _Atomic unsigned max_requests;

/* Per-request states kept in MHD's *con_cls. "counted" requests hold an
 * in-flight slot until MHD reports them complete. */
static char mark_counted, mark_counted_answered;
static char mark_probe_request, mark_answered;
/* Per-connection marker (socket context) of the self-probe. */
static char mark_probe;
static _Atomic int probe_fd = -1;
/* Connections closed, any reason: the servers' own progress marker, for
 * when a probe cannot get in because every connection slot is taken. */
static _Atomic uint64_t connections_closed;

void server_set_max_requests(unsigned n) { atomic_store(&max_requests, n); }

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_debug("libmicrohttpd", "message", msg);
}

/* ---- answering -------------------------------------------------------------------- */

static enum MHD_Result send_reply(struct MHD_Connection *c, reply_t *rep, bool challenge, bool count)
{
    struct MHD_Response *r = rep->body
        ? MHD_create_response_from_buffer(rep->len, rep->body, MHD_RESPMEM_MUST_FREE)
        : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        reply_free(rep);
        return MHD_NO;
    }
    rep->body = NULL;                /* MHD frees it now */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rep->content_type);
    if (rep->allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rep->allow);
    if (rep->gzip)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (rep->vary)
        MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    for (size_t i = 0; i < n_extra_headers; i++)
        MHD_add_response_header(r, extra_headers[i].name, extra_headers[i].value);
    enum MHD_Result ret = challenge ? MHD_queue_basic_auth_fail_response(c, REALM, r)
                                    : MHD_queue_response(c, rep->status, r);
    MHD_destroy_response(r);
    if (count)
        http_stats_count(rep->status);
    reply_free(rep);
    return ret;
}

static bool is_probe(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci && ci->socket_context == &mark_probe;
}

static bool authorized(struct MHD_Connection *c)
{
    if (!auth_enabled())
        return true;
    char *password = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &password);
    bool ok = auth_check(user, password);
    if (password) {
        explicit_bzero(password, strlen(password));
        MHD_free(password);
    }
    if (user)
        MHD_free(user);
    return ok;
}

static const char *query_arg(void *ctx, const char *key)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result answer(struct MHD_Connection *c, const char *url, const char *method, bool count)
{
    reply_t rep;
    if (count && !authorized(c)) {
        reply_text(&rep, 401, "401 unauthorized\n");
        return send_reply(c, &rep, true, true);
    }
    request_t req = {
        .method = method,
        .path = url,
        .accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT),
        .accept_encoding = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_ACCEPT_ENCODING),
        .content_length = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_CONTENT_LENGTH),
        .transfer_encoding = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_TRANSFER_ENCODING),
        .query = query_arg,
        .query_ctx = c,
    };
    route_request(&routes, &req, &rep);
    return send_reply(c, &rep, false, count);
}

/* True when the request announces a body: it is answered (refused) at
 * once, which makes MHD skip the body and close the connection. */
static bool announces_body(struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
           (cl && strspn(cl, "0") != strlen(cl));
}

/* First call (headers in): take an in-flight slot or answer 503. Requests
 * without a body are answered on the second call, which lets MHD keep the
 * connection alive. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    (void)upload_data;
    if (*con_cls == &mark_answered) {   /* refused early: drop the body */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*con_cls) {
        bool counted = *con_cls == &mark_counted;
        *con_cls = counted ? (void *)&mark_counted_answered : (void *)&mark_answered;
        return answer(c, url, method, counted);
    }
    if (is_probe(c)) {
        *con_cls = &mark_probe_request;
        return MHD_YES;
    }
    unsigned limit = atomic_load(&max_requests);
    int now = http_stats_inflight_add(1);
    if (limit && (unsigned)now > limit) {
        http_stats_inflight_add(-1);
        *con_cls = &mark_answered;
        char msg[96];
        snprintf(msg, sizeof msg, "Limit of concurrent requests reached (%u), try again later.\n", limit);
        reply_t rep;
        reply_text(&rep, 503, msg);
        return send_reply(c, &rep, false, true);
    }
    *con_cls = &mark_counted;
    if (!announces_body(c))
        return MHD_YES;
    *con_cls = &mark_counted_answered;
    return answer(c, url, method, true);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    if (*con_cls == &mark_counted || *con_cls == &mark_counted_answered)
        http_stats_inflight_add(-1);
    *con_cls = NULL;
}

/* A new connection. Its send buffer is capped, so a client that stops
 * reading holds its request (and in-flight slot) until the connection
 * timeout instead of parking megabytes in the kernel. The probe's
 * connection is marked: the first connection that starts on the armed
 * descriptor takes the mark, and only that one. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        atomic_fetch_add_explicit(&connections_closed, 1, memory_order_relaxed);
    if (code != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = ci ? ci->connect_fd : -1;
    int sndbuf = SEND_BUFFER_BYTES;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (fd >= 0 && atomic_compare_exchange_strong(&probe_fd, &fd, -1))
        *socket_context = &mark_probe;
}

/* ---- starting and stopping -------------------------------------------------------- */

static struct MHD_Daemon *start_one(const server_settings_t *s, int fd)
{
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    const webconfig_t *w = s->web;
    struct MHD_OptionItem tls[] = {
        { MHD_OPTION_HTTPS_MEM_CERT, 0, w ? w->cert_pem : NULL },
        { MHD_OPTION_HTTPS_MEM_KEY, 0, w ? w->key_pem : NULL },
        { MHD_OPTION_HTTPS_PRIORITIES, 0, w ? (void *)webconfig_tls_priorities(w) : NULL },
        { MHD_OPTION_END, 0, NULL },
    };
    bool use_tls = w && w->tls;
    if (use_tls)
        flags |= MHD_USE_TLS;
    /* The logger goes first so MHD's early messages use it too. The port is
     * 0 because the socket is already bound. */
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_CONNECTION_LIMIT, s->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, s->timeout_seconds,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
        MHD_OPTION_ARRAY, use_tls ? tls : &tls[3],
        MHD_OPTION_END);
}

static void copy_headers(const webconfig_t *w)
{
    for (size_t i = 0; w && i < w->n_headers; i++) {
        extra_headers[i].name = strdup(w->headers[i].name);
        extra_headers[i].value = strdup(w->headers[i].value);
        if (extra_headers[i].name && extra_headers[i].value)
            n_extra_headers = i + 1;
    }
}

int server_start(const server_settings_t *s, char *err, size_t errlen)
{
    if (s->web && s->web->tls && !MHD_is_feature_supported(MHD_FEATURE_TLS)) {
        snprintf(err, errlen, "TLS was configured but libmicrohttpd was built without it");
        goto fail;
    }
    routes.telemetry_path = strdup(s->telemetry_path);
    copy_headers(s->web);
    for (size_t i = 0; i < s->n_fds; i++) {
        struct MHD_Daemon *d = start_one(s, s->fds[i]);
        if (!d) {
            char where[128];
            listen_describe(s->fds[i], where, sizeof where);
            snprintf(err, errlen, "cannot start the HTTP server on %s (%s)", where,
                     errno ? strerror(errno) : "libmicrohttpd refused the settings");
            for (size_t j = i; j < s->n_fds; j++)
                close(s->fds[j]);
            server_stop();
            return -1;
        }
        daemon_tls[n_daemons] = s->web && s->web->tls;
        daemons[n_daemons++] = d;
    }
    return 0;
fail:
    for (size_t j = 0; j < s->n_fds; j++)
        close(s->fds[j]);
    return -1;
}

void server_stop(void)
{
    for (size_t i = 0; i < n_daemons; i++)
        MHD_stop_daemon(daemons[i]);   /* closes the listening socket too */
    n_daemons = 0;
    for (size_t i = 0; i < n_extra_headers; i++) {
        free(extra_headers[i].name);
        free(extra_headers[i].value);
    }
    n_extra_headers = 0;
    free((char *)routes.telemetry_path);
    routes.telemetry_path = NULL;
}

/* ---- the self-probe ------------------------------------------------------------------ */

/* One request over a socketpair handed to the daemon as if it had accepted
 * it: proves its polling thread runs and answers, with no network access
 * (works under PrivateNetwork= and RestrictAddressFamilies=AF_UNIX). A TLS
 * daemon cannot read a plain request; there the probe only hangs up, and
 * the daemon closing its end in turn is the proof. */
static bool probe_one(struct MHD_Daemon *d, bool tls, int timeout_ms, bool *refused)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return false;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    atomic_store(&probe_fd, sv[1]);
    if (MHD_add_connection(d, sv[1], (struct sockaddr *)&addr, sizeof addr) != MHD_YES) {
        atomic_store(&probe_fd, -1);
        close(sv[0]);
        *refused = true;  /* MHD closed sv[1]; typically all slots are taken */
        return false;
    }
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: poold\r\nConnection: close\r\n\r\n";
    bool ok = tls ? shutdown(sv[0], SHUT_WR) == 0
                  : write(sv[0], req, sizeof req - 1) == (ssize_t)(sizeof req - 1);
    char resp[16] = "";
    size_t got = 0;
    bool closed = false;
    struct pollfd p = { sv[0], POLLIN, 0 };
    while (ok && got < 9 && poll(&p, 1, timeout_ms) == 1) {
        ssize_t n = read(sv[0], resp + got, 9 - got);
        if (n <= 0) {
            closed = n == 0;
            break;
        }
        got += (size_t)n;
    }
    atomic_store(&probe_fd, -1);
    close(sv[0]);
    if (tls)
        return ok && closed;
    return ok && got == 9 && strncmp(resp, "HTTP/1.1 ", 9) == 0;
}

/* A server whose every slot is taken (a flood of connections) cannot take
 * the probe; it still counts as working when connections were closed since
 * the last probe, since only its polling thread closes them. */
bool server_probe(int timeout_ms)
{
    static uint64_t closed_before;
    uint64_t closed = atomic_load(&connections_closed);
    bool ok = true;
    for (size_t i = 0; i < n_daemons; i++) {
        bool refused = false;
        if (!probe_one(daemons[i], daemon_tls[i], timeout_ms, &refused))
            ok &= refused && closed != closed_before;
    }
    closed_before = closed;
    return ok;
}
