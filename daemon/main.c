/* poold: start-up, the main loop (signals, status, watchdog) and shutdown.
 *
 * Every signal poold handles is blocked in all threads and taken
 * synchronously here with sigtimedwait, so handlers are ordinary code. The
 * loop wakes a few times a second to sample the workload's progress, to
 * update systemd's STATUS= line and to feed the watchdog. */
#define _GNU_SOURCE
#include "collectors/processes.h"
#include "config/config.h"
#include "config/webconfig.h"
#include "http/auth.h"
#include "http/listen.h"
#include "http/server.h"
#include "service/log.h"
#include "service/sd.h"
#include "service/status.h"
#include "workload/workload.h"

#include <errno.h>
#include <poolalloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS        250
#define STATUS_MS      5000
#define EXIT_USAGE     2

typedef struct {
    int       argc;
    char    **argv;
    options_t opts;
    char      serving[256];      /* the addresses, for STATUS= */
    uint64_t  watchdog_ms;       /* ping interval (half of systemd's), 0: none */
    int64_t   next_ping_ms, next_status_ms;
    uint64_t  progress_at_ping;
} daemon_t;

/* ---- settings applied at start and on reload ----------------------------------------- */

static void apply_logging(const options_t *o)
{
    int format = o->log_format;
    if (!opt_is_explicit(o, "log.format") && log_stderr_is_journal())
        format = LOG_FMT_JOURNAL;
    log_setup(o->log_level, format);
}

/* Every effective setting, at debug level. */
static void log_settings(const options_t *o)
{
    for (size_t i = 0; i < flag_count && log_enabled(LOG_LVL_DEBUG); i++) {
        char value[1024];
        if (flag_table[i].kind == FK_ACTION)
            continue;
        opt_format(o, &flag_table[i], value, sizeof value);
        log_debug("setting", "flag", flag_table[i].name, "value", value,
                  "explicit", opt_is_explicit(o, flag_table[i].name) ? "true" : "false");
    }
}

static workload_config_t workload_config(const options_t *o)
{
    return (workload_config_t){ o->workload, o->workload_threads, o->workload_rate,
                                o->workload_max_bytes, o->workload_trace, o->workload_speed };
}

/* The workload the options ask for can run (a replay's trace reads). */
static int check_workload(const options_t *o, char *err, size_t errlen)
{
    workload_config_t wc = workload_config(o);
    return workload_check(&wc, err, errlen);
}

static void configure_collector(const options_t *o)
{
    processes_configure(o->collector_processes, o->collector_dir, o->collector_max);
    if (o->collector_processes) {
        char max[16];
        snprintf(max, sizeof max, "%u", o->collector_max);
        log_info("process collector on", "dir", o->collector_dir, "max", max);
    }
}

static int start_workload(const options_t *o)
{
    workload_config_t wc = workload_config(o);
    if (workload_start(&wc) != 0) {
        log_error("cannot start the workload", "workload", o->workload);
        return -1;
    }
    workload_stats_t ws;
    workload_read(&ws);
    char threads[16], rate[24], max[24];
    snprintf(threads, sizeof threads, "%u", ws.threads);
    snprintf(rate, sizeof rate, "%llu", (unsigned long long)o->workload_rate);
    snprintf(max, sizeof max, "%llu", (unsigned long long)o->workload_max_bytes);
    log_info("workload started", "workload", o->workload, "threads", threads, "rate", rate,
             "max_bytes", max);
    return 0;
}

static int load_web_config(const options_t *o, webconfig_t *wc, char *err, size_t errlen)
{
    if (webconfig_load(o->web_config_file, wc, err, errlen) != 0)
        return -1;
    if (auth_set_users(wc->users, wc->n_users) != 0) {
        snprintf(err, errlen, "%s: cannot install basic_auth_users", o->web_config_file);
        webconfig_free(wc);
        return -1;
    }
    return 0;
}

/* ---- start-up ------------------------------------------------------------------------- */

static int open_listeners(daemon_t *d, int *fds, size_t *n, char *err, size_t errlen)
{
    const options_t *o = &d->opts;
    *n = 0;
    if (o->systemd_socket) {
        if (opt_is_explicit(o, "web.listen-address"))
            log_info("--web.listen-address is ignored with --web.systemd-socket");
        int got = listen_systemd(fds, MAX_LISTEN, err, errlen);
        if (got < 0)
            return -1;
        *n = (size_t)got;
    } else {
        for (unsigned i = 0; i < o->n_listen; i++, (*n)++)
            if ((fds[i] = listen_open(o->listen[i], err, errlen)) < 0) {
                while (*n)
                    close(fds[--*n]);
                return -1;
            }
    }
    for (size_t i = 0; i < *n; i++) {
        char where[128];
        listen_describe(fds[i], where, sizeof where);
        log_info("listening", "address", where, "systemd_socket", o->systemd_socket ? "true" : "false");
        size_t used = strlen(d->serving);
        snprintf(d->serving + used, sizeof d->serving - used, "%s%s", i ? " " : "", where);
    }
    return 0;
}

/* --web.connection-timeout once meant both "idle" and "stalled"; given
 * alone it still sets both. */
static int64_t timeout_or_legacy(const options_t *o, const char *flag, int64_t value)
{
    if (!opt_is_explicit(o, flag) && opt_is_explicit(o, "web.connection-timeout"))
        return o->connection_timeout_ms;
    return value;
}

static int start_http(daemon_t *d, const webconfig_t *wc)
{
    int fds[MAX_LISTEN];
    size_t n;
    char err[512];
    if (open_listeners(d, fds, &n, err, sizeof err) != 0) {
        log_error("cannot listen", "error", err);
        return -1;
    }
    server_set_max_requests(d->opts.max_requests);
    server_settings_t hs = {
        .fds = fds, .n_fds = n, .telemetry_path = d->opts.telemetry_path,
        .max_connections = d->opts.max_connections,
        .max_connections_per_ip = d->opts.max_connections_per_ip,
        .header_timeout_ms = d->opts.read_header_timeout_ms,
        .idle_timeout_ms = timeout_or_legacy(&d->opts, "web.idle-timeout", d->opts.idle_timeout_ms),
        .write_timeout_ms = timeout_or_legacy(&d->opts, "web.write-timeout", d->opts.write_timeout_ms),
        .web = wc,
    };
    if (server_start(&hs, err, sizeof err) != 0) {
        log_error("cannot start the HTTP server", "error", err);
        return -1;
    }
    return 0;
}

static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, set, NULL);   /* threads created later inherit this */
    signal(SIGPIPE, SIG_IGN);
}

/* ---- status, health, watchdog ----------------------------------------------------------- */

static void status_line(const daemon_t *d, char *out, size_t len)
{
    workload_stats_t w;
    pool_stats_t st;
    workload_read(&w);
    pool_stats_get(&st);
    snprintf(out, len, "Serving %s; workload %s (%u threads), %.1f MiB live in %llu arenas",
             d->serving, w.profile, w.threads, (double)(w.live_bytes > 0 ? w.live_bytes : 0) / 1048576.0,
             (unsigned long long)st.arenas_current);
}

/* Pings only when the workload moved since the last ping (or has no
 * threads by design) and every HTTP server answered a request through its
 * own polling thread: a hung poold stops pinging and systemd restarts it. */
static void feed_watchdog(daemon_t *d, int64_t now)
{
    if (!d->watchdog_ms || now < d->next_ping_ms)
        return;
    d->next_ping_ms = now + (int64_t)d->watchdog_ms;
    uint64_t progress = workload_progress();
    bool workload_ok = workload_idle() || progress != d->progress_at_ping;
    int timeout = d->watchdog_ms / 2 < 1000 ? (int)(d->watchdog_ms / 2) : 1000;
    bool http_ok = server_probe(timeout);
    if (workload_ok && http_ok) {
        d->progress_at_ping = progress;
        sd_tell_watchdog();
    } else {
        log_warn("not feeding the watchdog", "workload_progressing", workload_ok ? "true" : "false",
                 "http_answering", http_ok ? "true" : "false");
    }
}

static void tick(daemon_t *d)
{
    int64_t now = status_now_ms();
    status_tick(workload_progress());
    feed_watchdog(d, now);
    if (now >= d->next_status_ms) {
        char line[512];
        status_line(d, line, sizeof line);
        sd_tell_status(line);
        d->next_status_ms = now + STATUS_MS;
    }
}

/* ---- reload -------------------------------------------------------------------------- */

static void warn_restart_needed(const options_t *old, const options_t *fresh)
{
    for (size_t i = 0; i < flag_count; i++) {
        const flag_t *f = &flag_table[i];
        if (!f->reloadable && f->kind != FK_ACTION && opt_differs(old, fresh, f))
            log_warn("setting changed; it takes effect at the next start", "flag", f->name);
    }
}

/* A replay starts over at every reload: its trace may have been recorded
 * again under the same name. */
static bool workload_changed(const options_t *a, const options_t *b)
{
    static const char *const names[] = { "workload", "workload.threads", "workload.rate",
                                         "workload.max-bytes", "workload.trace",
                                         "workload.speed" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (opt_differs(a, b, flag_find(names[i], strlen(names[i]))))
            return true;
    return strcmp(b->workload, "replay") == 0;
}

/* The configuration a reload would switch to: the file and the flags
 * again, and the web config (whose users it installs). */
static int build_fresh(const daemon_t *d, options_t *fresh, char *err, size_t errlen)
{
    enum config_action action;
    webconfig_t wc;
    if (config_build(d->argc, d->argv, fresh, &action, err, errlen) != 0)
        return -1;
    if (check_workload(fresh, err, errlen) != 0) {
        options_free(fresh);
        return -1;
    }
    if (load_web_config(fresh, &wc, err, errlen) != 0) {
        options_free(fresh);
        return -1;
    }
    webconfig_free(&wc);
    return 0;
}

static void reload(daemon_t *d)
{
    sd_tell_reloading();
    log_info("reloading the configuration");
    options_t fresh;
    char err[512];
    if (build_fresh(d, &fresh, err, sizeof err) != 0) {
        log_error("reload failed; keeping the running configuration", "error", err);
        status_reload_result(false);
    } else {
        warn_restart_needed(&d->opts, &fresh);
        apply_logging(&fresh);
        log_settings(&fresh);
        server_set_max_requests(fresh.max_requests);
        pool_set_purge_delay_ms(fresh.purge_delay_ms);
        configure_collector(&fresh);
        if (workload_changed(&d->opts, &fresh)) {
            workload_stop();
            start_workload(&fresh);
        }
        options_free(&d->opts);
        d->opts = fresh;
        status_reload_result(true);
        log_info("configuration reloaded");
    }
    char line[512];
    status_line(d, line, sizeof line);
    sd_tell_ready(line);
}

/* ---- main ------------------------------------------------------------------------------- */

static int run(daemon_t *d, webconfig_t *wc)
{
    sigset_t set;
    block_signals(&set);
    status_init();
    pool_set_purge_delay_ms(d->opts.purge_delay_ms);
    configure_collector(&d->opts);
    int rc = start_http(d, wc);
    webconfig_free(wc);
    if (rc != 0 || start_workload(&d->opts) != 0) {
        server_stop();
        auth_shutdown();
        processes_shutdown();
        return 1;
    }
    d->watchdog_ms = sd_watchdog_usec() / 2000;
    char line[512];
    status_line(d, line, sizeof line);
    sd_tell_ready(line);
    log_info("ready", "version", POOLD_VERSION);

    for (;;) {
        struct timespec ts = { 0, TICK_MS * 1000000L };
        if (d->watchdog_ms && d->watchdog_ms < 2 * TICK_MS)
            ts.tv_nsec = (long)d->watchdog_ms / 2 * 1000000L;
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP)
            reload(d);
        if (sig == SIGUSR2 && d->opts.debug_wedge_on_sigusr2) {
            log_warn("SIGUSR2: wedging the workload threads (--debug.wedge-on-sigusr2)");
            workload_wedge();
        }
        tick(d);
    }
    sd_tell_stopping();
    log_info("stopping");
    server_stop();
    workload_stop();
    auth_shutdown();
    processes_shutdown();
    log_info("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    daemon_t d = { .argc = argc, .argv = argv };
    enum config_action action;
    webconfig_t wc;
    char err[512];
    if (config_build(argc, argv, &d.opts, &action, err, sizeof err) != 0) {
        fprintf(stderr, "poold: %s\n", err);
        fprintf(stderr, "Try 'poold --help'.\n");
        return EXIT_USAGE;
    }
    if (action == ACTION_RUN && check_workload(&d.opts, err, sizeof err) != 0) {
        fprintf(stderr, "poold: %s\n", err);
        options_free(&d.opts);
        return EXIT_USAGE;
    }
    if (action == ACTION_RUN && load_web_config(&d.opts, &wc, err, sizeof err) != 0) {
        fprintf(stderr, "poold: --web.config.file: %s\n", err);
        options_free(&d.opts);
        return EXIT_USAGE;
    }
    if (action == ACTION_HELP) {
        config_print_help(argv[0]);
    } else if (action == ACTION_VERSION) {
        printf("poold version %s (poolalloc %s)\n", POOLD_VERSION, POOLALLOC_VERSION);
    } else {
        apply_logging(&d.opts);
        log_info("starting poold", "version", POOLD_VERSION, "config", d.opts.config_file,
                 "allocators", pool_allocators_name());
        if (geteuid() == 0)
            log_warn("running as root; poold needs no privileges");
        log_settings(&d.opts);
        int rc = run(&d, &wc);
        options_free(&d.opts);
        return rc;
    }
    options_free(&d.opts);
    return 0;
}
