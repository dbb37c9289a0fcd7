/* libmicrohttpd glue. Every request is answered on the first call of the
 * access handler (when the headers are in): poold takes no request bodies,
 * and answering before a body is read makes MHD drop the body and close
 * the connection, which is what a refusal should do. */
#define _GNU_SOURCE
#include "http/server.h"
#include "collectors/http_stats.h"
#include "config/options.h"
#include "http/auth.h"
#include "http/conntrack.h"
#include "http/listen.h"
#include "http/reaper.h"
#include "http/routes.h"
#include "http/slots.h"
#include "service/log.h"

#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define REALM "poold"
/* Per-connection kernel send buffer (the kernel doubles it): room for a
 * gzipped scrape many times over, and for a plain one on a fast network. */
#define SEND_BUFFER_BYTES (64 * 1024)
/* Descriptors kept for everything but connections (logs, /proc, segments). */
#define SPARE_FDS 64

/* One per listening socket: its libmicrohttpd daemon and its connections. */
typedef struct server {
    struct MHD_Daemon *mhd;
    bool               tls;
    conntab_t          conns;
} server_t;

static server_t servers[MAX_LISTEN];
static conntab_t *tables[MAX_LISTEN];     /* servers[i].conns, for slots and the reaper */
/* Atomic: a server's polling thread looks at the others' connections
 * (slots_take) while later servers are still being started. */
static _Atomic size_t n_servers;
static atomic_bool stopping;
static routes_config_t routes;
static kv_t extra_headers[WEBCONFIG_MAX_HEADERS];
static size_t n_extra_headers;

/* Per-request states kept in MHD's *con_cls: counted (a client's request,
 * not answered yet), the probe's, answered. Which request holds an
 * in-flight slot is the connection's business (conn_t.slot). */
static char mark_counted, mark_probe_request, mark_answered;
static _Atomic int probe_fd = -1;
/* Connections closed, any reason: the servers' own progress marker, for
 * when a probe cannot get in because every connection slot is taken. */
static _Atomic uint64_t connections_closed;

void server_set_max_requests(unsigned n) { slots_set_limit(n); }

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
    if (rep->csp)
        MHD_add_response_header(r, "Content-Security-Policy", PAGE_CSP);
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

static conn_t *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
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
        http_stats_refused(REFUSED_UNAUTHORIZED);
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

static enum MHD_Result refuse_busy(struct MHD_Connection *c, int cls)
{
    unsigned limit = slots_limit(cls);
    char msg[96];
    snprintf(msg, sizeof msg, "Limit of concurrent requests reached (%u), try again later.\n", limit);
    reply_t rep;
    reply_text(&rep, 503, msg);
    http_stats_refused(REFUSED_MAX_REQUESTS);
    return send_reply(c, &rep, false, true);
}

/* First call (headers in): the request is complete, so its connection is
 * being answered from now on; take an in-flight slot or answer 503.
 * Requests without a body are answered on the second call, which lets MHD
 * keep the connection alive. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    server_t *sv = cls;
    (void)version;
    (void)upload_data;
    if (*con_cls == &mark_answered) {   /* refused early: drop the body */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*con_cls) {
        bool counted = *con_cls == &mark_counted;
        *con_cls = &mark_answered;
        return answer(c, url, method, counted);
    }
    conn_t *cn = conn_of(c);
    if (cn && cn->probe) {
        *con_cls = &mark_probe_request;
        conntab_answering(&sv->conns, cn, -1, conn_now_ms());
        return MHD_YES;
    }
    int kind = slots_class(url, routes.telemetry_path);
    bool slot = slots_take(kind, tables, atomic_load(&n_servers), conn_now_ms());
    if (cn)
        conntab_answering(&sv->conns, cn, slot ? kind : -1, conn_now_ms());
    else if (slot)
        slots_release(kind, false);     /* untracked: nothing would give it back */
    if (!slot) {
        *con_cls = &mark_answered;
        return refuse_busy(c, kind);
    }
    *con_cls = &mark_counted;
    if (!announces_body(c))
        return MHD_YES;
    *con_cls = &mark_answered;
    http_stats_refused(REFUSED_BODY);
    return answer(c, url, method, true);
}

/* The request line of a request has come (its header may not have): a
 * connection that was idle starts its header deadline now. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *c)
{
    server_t *sv = cls;
    (void)uri;
    conn_t *cn = conn_of(c);
    if (cn)
        conntab_request_line(&sv->conns, cn, conn_now_ms());
    return NULL;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    server_t *sv = cls;
    conn_t *cn = conn_of(c);
    bool error = toe == MHD_REQUEST_TERMINATED_WITH_ERROR || toe == MHD_REQUEST_TERMINATED_READ_ERROR ||
                 toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED;
    bool was_parked = false;
    if (cn)
        slots_release(conntab_done(&sv->conns, cn, error, conn_now_ms(), &was_parked), was_parked);
    *con_cls = NULL;
}

static void shut_now(int fd)
{
    struct linger lg = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    shutdown(fd, SHUT_RDWR);
}

/* A new connection: tracked (conntrack.h), or refused when the listener is
 * full of connections being answered. Its send buffer is capped, so a
 * client that stops reading parks little in the kernel. The probe's
 * connection is marked: the first connection that starts on the armed
 * descriptor takes the mark, and only that one. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    server_t *sv = cls;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_add_explicit(&connections_closed, 1, memory_order_relaxed);
        conn_t *cn = *socket_context;
        *socket_context = NULL;
        bool probe = cn && cn->probe, was_parked = false;
        int slot = -1;
        int why = cn ? conntab_close(&sv->conns, cn, atomic_load(&stopping), &slot, &was_parked)
                     : CLOSE_REFUSED;
        slots_release(slot, was_parked);
        if (!probe)
            http_stats_conn_closed(why);
        return;
    }
    if (code != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = ci ? ci->connect_fd : -1;
    int sndbuf = SEND_BUFFER_BYTES;
    if (fd < 0)
        return;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    int expect = fd;
    bool probe = atomic_compare_exchange_strong(&probe_fd, &expect, -1);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        sl = 0;
    if (!probe)
        http_stats_conn_opened();
    *socket_context = conntab_open(&sv->conns, fd, &ss, sl, probe, conn_now_ms());
    if (!*socket_context)
        shut_now(fd);
}

/* ---- starting and stopping -------------------------------------------------------- */

/* libmicrohttpd's own limits sit above poold's: its connection limit
 * leaves room for connections already shut but not yet closed (past it,
 * it stops accepting and the kernel queues newcomers), and its inactivity
 * timeout only backs up the deadlines, which come first. */
static unsigned mhd_connection_limit(unsigned max_connections)
{
    return max_connections + max_connections / 4 + 8;
}

static unsigned backstop_seconds(const server_settings_t *s)
{
    int64_t ms = s->header_timeout_ms;
    if (s->idle_timeout_ms > ms)
        ms = s->idle_timeout_ms;
    if (s->write_timeout_ms > ms)
        ms = s->write_timeout_ms;
    return (unsigned)(ms / 1000 + 5);
}

static struct MHD_Daemon *start_one(const server_settings_t *s, server_t *sv, int fd,
                                    unsigned max_connections)
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
    conn_limits_t lim = {
        .max_connections = max_connections,
        .max_per_address = s->max_connections_per_ip,
        .header_ms = s->header_timeout_ms,
        .idle_ms = s->idle_timeout_ms,
        .write_ms = s->write_timeout_ms,
    };
    unsigned hard = mhd_connection_limit(max_connections);
    if (conntab_init(&sv->conns, &lim, hard + 2) != 0)   /* + the probe */
        return NULL;
    /* The logger goes first so MHD's early messages use it too. The port is
     * 0 because the socket is already bound. */
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, sv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_CONNECTION_LIMIT, hard,
        MHD_OPTION_CONNECTION_TIMEOUT, backstop_seconds(s),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, sv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, sv,
        MHD_OPTION_URI_LOG_CALLBACK, on_request_line, sv,
        MHD_OPTION_ARRAY, use_tls ? tls : &tls[3],
        MHD_OPTION_END);
    if (!d)
        conntab_destroy(&sv->conns);
    return d;
}

/* Every connection is a descriptor: the soft limit goes up to the hard
 * one (as Go does for its servers), and when even that cannot hold every
 * listener's connections, the connection limit shrinks to fit (logged). */
static unsigned fit_descriptors(unsigned max_connections, size_t n_listeners)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return max_connections;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = { rl.rlim_max, rl.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    rlim_t per = rl.rlim_cur > SPARE_FDS ? (rl.rlim_cur - SPARE_FDS) / n_listeners : 1;
    unsigned fit = max_connections;
    while (fit > 1 && mhd_connection_limit(fit) > per)
        fit--;
    if (fit < max_connections) {
        char want[16], got[16], lim[24];
        snprintf(want, sizeof want, "%u", max_connections);
        snprintf(got, sizeof got, "%u", fit);
        snprintf(lim, sizeof lim, "%llu", (unsigned long long)rl.rlim_cur);
        log_warn("too few descriptors for --web.max-connections; lowered", "wanted", want,
                 "max_connections", got, "fd_limit", lim);
    }
    return fit;
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
    atomic_store(&stopping, false);
    routes.telemetry_path = strdup(s->telemetry_path);
    copy_headers(s->web);
    unsigned max_connections = fit_descriptors(s->max_connections, s->n_fds ? s->n_fds : 1);
    for (size_t i = 0; i < s->n_fds; i++) {
        server_t *sv = &servers[n_servers];
        sv->mhd = start_one(s, sv, s->fds[i], max_connections);
        if (!sv->mhd) {
            char where[128];
            listen_describe(s->fds[i], where, sizeof where);
            snprintf(err, errlen, "cannot start the HTTP server on %s (%s)", where,
                     errno ? strerror(errno) : "libmicrohttpd refused the settings");
            for (size_t j = i; j < s->n_fds; j++)
                close(s->fds[j]);
            server_stop();
            return -1;
        }
        sv->tls = s->web && s->web->tls;
        tables[n_servers] = &sv->conns;
        n_servers++;
    }
    if (reaper_start(tables, atomic_load(&n_servers)) != 0) {
        snprintf(err, errlen, "cannot start the connection reaper thread");
        server_stop();
        return -1;
    }
    return 0;
fail:
    for (size_t j = 0; j < s->n_fds; j++)
        close(s->fds[j]);
    return -1;
}

void server_stop(void)
{
    atomic_store(&stopping, true);
    reaper_stop();
    size_t n = atomic_load(&n_servers);
    /* Every polling thread stops before any table goes: they look into
     * each other's. */
    for (size_t i = 0; i < n; i++)
        MHD_stop_daemon(servers[i].mhd);   /* closes the listening socket too */
    for (size_t i = 0; i < n; i++)
        conntab_destroy(&servers[i].conns);
    atomic_store(&n_servers, 0);
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
    for (size_t i = 0; i < n_servers; i++) {
        bool refused = false;
        if (!probe_one(servers[i].mhd, servers[i].tls, timeout_ms, &refused))
            ok &= refused && closed != closed_before;
    }
    closed_before = closed;
    return ok;
}
