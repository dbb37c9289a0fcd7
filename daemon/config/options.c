/* The flag table, and setting options from it by kind (see options.h). */
#define _GNU_SOURCE
#include "config/options.h"
#include "config/parse.h"
#include "service/log.h"
#include "workload/workload.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OFF(field) offsetof(options_t, field)
#define MS_PER_DAY (86400ULL * 1000)

const flag_t flag_table[] = {
    { "web.listen-address", FK_LIST, OFF(listen), 0, 0, "127.0.0.1:19180",
      "Address to listen on, HOST:PORT, [IPV6]:PORT or :PORT (all interfaces). "
      "Repeat for more than one.", false, false },
    { "web.telemetry-path", FK_PATH, OFF(telemetry_path), 0, 0, "/metrics",
      "Path under which to expose metrics.", false, false },
    { "web.systemd-socket", FK_BOOL, OFF(systemd_socket), 0, 0, "false",
      "Use the sockets passed by systemd socket activation instead of listening.",
      false, false },
    { "web.max-requests", FK_UINT, OFF(max_requests), 0, 100000, "40",
      "Maximum number of scrapes (the telemetry path) served at once; past it poold answers "
      "503. The other pages share an eighth of it (at least 1). 0 = no limit.",
      false, true },
    { "web.max-connections", FK_UINT, OFF(max_connections), 1, 1000000, "1024",
      "Maximum number of open connections per listening address; when it is reached, idle "
      "keep-alive connections and those that have not sent a complete request are closed "
      "first to make room.", false, false },
    { "web.max-connections-per-ip", FK_UINT, OFF(max_connections_per_ip), 0, 1000000, "32",
      "Maximum number of open connections from one remote client address; loopback and "
      "local-socket clients share their address and are not limited by it. 0 = no limit.",
      false, false },
    { "web.read-header-timeout", FK_DURATION, OFF(read_header_timeout_ms), 100, MS_PER_DAY, "5s",
      "Close a connection whose request header is not complete this long after it connected "
      "(or after the request line of a later request); sending slowly does not extend it.",
      false, false },
    { "web.idle-timeout", FK_DURATION, OFF(idle_timeout_ms), 100, MS_PER_DAY, "2m",
      "Close a keep-alive connection that sends no new request for this long.", false, false },
    { "web.write-timeout", FK_DURATION, OFF(write_timeout_ms), 100, MS_PER_DAY, "10s",
      "Close a connection whose answer is not delivered this long after its request header "
      "was complete (a client that does not read).", false, false },
    { "web.connection-timeout", FK_DURATION, OFF(connection_timeout_ms), 1000, MS_PER_DAY, "10s",
      "Deprecated (use --web.idle-timeout and --web.write-timeout): when given, sets those of "
      "the two that are not given.",
      false, false },
    { "web.config.file", FK_PATH, OFF(web_config_file), 0, 0, "",
      "Path to a web configuration file (TLS and basic authentication, exporter-toolkit format).",
      false, true },
    { "log.level", FK_LOG_LEVEL, OFF(log_level), 0, 0, "info",
      "Only log messages with this severity or above: debug, info, warn, error.", false, true },
    { "log.format", FK_LOG_FORMAT, OFF(log_format), 0, 0, "logfmt",
      "Log format: logfmt, json or journal (default: journal when stderr is the journal).",
      false, true },
    { "workload", FK_WORKLOAD, OFF(workload), 0, 0, "python",
      "Workload to run through the allocator: python, steady, fragmenter, burst, replay "
      "(a trace, --workload.trace) or idle.", false, true },
    { "workload.threads", FK_UINT, OFF(workload_threads), 1, 64, "2",
      "Number of workload threads.", false, true },
    { "workload.rate", FK_U64, OFF(workload_rate), 0, 1000000000, "50000",
      "Allocator operations per second, all threads together. 0 = as fast as possible.",
      false, true },
    { "workload.max-bytes", FK_BYTES, OFF(workload_max_bytes), 4096, 1ULL << 40, "64MiB",
      "Hard cap on the bytes the workload holds at once (e.g. 64MiB, 1GiB).", false, true },
    { "workload.trace", FK_PATH, OFF(workload_trace), 0, 0, "",
      "Trace to replay with --workload=replay (recorded with POOLMALLOCTRACE=FILE and the "
      "preload shim); read again at every reload.", false, true },
    { "workload.speed", FK_FACTOR, OFF(workload_speed), 0, 1000000, "1",
      "Replay pace: 1 = as recorded, 2 = twice as fast, 0 = as fast as --workload.rate allows.",
      false, true },
    { "collector.processes", FK_BOOL, OFF(collector_processes), 0, 0, "false",
      "Export the allocator statistics of processes running on the preload shim with "
      "POOLMALLOC_EXPORT (their segments in --collector.processes.dir).", false, true },
    { "collector.processes.dir", FK_PATH, OFF(collector_dir), 0, 0, "/dev/shm",
      "Where the processes' statistics segments (poolmalloc.<pid>) are.", false, true },
    { "collector.processes.max", FK_UINT, OFF(collector_max), 1, 1024, "32",
      "Most processes exported at once; the others are counted and logged.", false, true },
    { "allocator.purge-delay", FK_PURGE_DELAY, OFF(purge_delay_ms), 0, MS_PER_DAY, "100ms",
      "How long an empty pool stays resident before its pages go back to the kernel; "
      "\"never\" keeps them.", false, true },
    { "debug.wedge-on-sigusr2", FK_BOOL, OFF(debug_wedge_on_sigusr2), 0, 0, "false",
      "Testing aid: SIGUSR2 stops the workload threads for good (the watchdog then fails).",
      false, false },
    { "config", FK_PATH, OFF(config_file), 0, 0, DEFAULT_CONFIG_FILE,
      "Config file of key = value lines (keys are these flag names); optional at the "
      "default path. Flags override it.", true, false },
    { "version", FK_ACTION, 0, 0, 0, NULL, "Print the version and exit.", true, false },
    { "help", FK_ACTION, 0, 0, 0, NULL, "Print this help and exit.", true, false },
};
const size_t flag_count = sizeof flag_table / sizeof flag_table[0];

const flag_t *flag_find(const char *name, size_t len)
{
    for (size_t i = 0; i < flag_count; i++)
        if (strlen(flag_table[i].name) == len && memcmp(flag_table[i].name, name, len) == 0)
            return &flag_table[i];
    return NULL;
}

size_t flag_index(const flag_t *f) { return (size_t)(f - flag_table); }

static int parse_enum(const char *s, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return *out = i, 0;
    return -1;
}

static const char *const log_levels[] = { "debug", "info", "warn", "error" };
static const char *const log_formats[] = { "logfmt", "json", "journal" };

/* ---- setting a flag ------------------------------------------------------ */

static int set_string(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

static int add_listen(options_t *o, const char *value, enum opt_source src, char *err,
                      size_t errlen)
{
    if (o->listen_source != (int)src) {     /* a new source replaces the list */
        for (unsigned i = 0; i < o->n_listen; i++)
            free(o->listen[i]);
        o->n_listen = 0;
        o->listen_source = (int)src;
    }
    char host[256], port[8];
    if (parse_listen_address(value, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen, "invalid value \"%s\": expected HOST:PORT, [IPV6]:PORT or :PORT "
                 "(port 0-65535)", value);
        return -1;
    }
    if (o->n_listen == MAX_LISTEN) {
        snprintf(err, errlen, "too many addresses (at most %d)", MAX_LISTEN);
        return -1;
    }
    if (!(o->listen[o->n_listen] = strdup(value)))
        return -1;
    o->n_listen++;
    return 0;
}

/* ---- the kinds of flag ------------------------------------------------------
 * One row per enum flag_kind: how a value is read into the option's slot
 * (0, -1 out of memory or with err written, -2 a bad value), how the slot
 * is written back as text (--help, logs, opt_differs), and what a bad value
 * is told it should have looked like. */

/* What setting one flag from text needs. */
typedef struct {
    options_t      *o;
    const flag_t   *f;
    const char     *v;
    enum opt_source src;
    char           *err;
    size_t          errlen;
} set_args_t;

typedef int (*kind_set_fn)(const set_args_t *a);
typedef void (*kind_show_fn)(const options_t *o, const flag_t *f, char *out, size_t len);
typedef void (*kind_expect_fn)(const flag_t *f, char *out, size_t len);

#define SLOT(a, type) ((type *)((char *)(a)->o + (a)->f->offset))
#define CSLOT(o, f, type) ((const type *)((const char *)(o) + (f)->offset))

static int set_list(const set_args_t *a) { return add_listen(a->o, a->v, a->src, a->err, a->errlen); }

static int set_text(const set_args_t *a) { return set_string(SLOT(a, char *), a->v); }

static int set_path(const set_args_t *a)
{
    if (strlen(a->v) > 4096 || (a->f->offset == OFF(telemetry_path) && a->v[0] != '/'))
        return -2;
    return set_text(a);
}

static int set_workload(const set_args_t *a)
{
    return workload_profile_find(a->v) ? set_text(a) : -2;
}

static int set_bool(const set_args_t *a) { return parse_bool(a->v, SLOT(a, bool)) == 0 ? 0 : -2; }

/* An integer within the flag's bounds, or -1. */
static int ranged(const set_args_t *a, uint64_t *u)
{
    return parse_u64(a->v, u) || *u < a->f->min || *u > a->f->max ? -1 : 0;
}

static int set_uint(const set_args_t *a)
{
    uint64_t u;
    return ranged(a, &u) ? -2 : (*SLOT(a, unsigned) = (unsigned)u, 0);
}

static int set_u64(const set_args_t *a)
{
    uint64_t u;
    return ranged(a, &u) ? -2 : (*SLOT(a, uint64_t) = u, 0);
}

static int set_bytes(const set_args_t *a)
{
    uint64_t u;
    if (parse_bytes(a->v, &u) || u < a->f->min || u > a->f->max)
        return -2;
    return *SLOT(a, uint64_t) = u, 0;
}

static int set_duration(const set_args_t *a)
{
    int64_t d;
    if (parse_duration_ms(a->v, &d) || (uint64_t)d < a->f->min || (uint64_t)d > a->f->max)
        return -2;
    return *SLOT(a, int64_t) = d, 0;
}

static int set_purge_delay(const set_args_t *a)
{
    int64_t d;
    if (strcmp(a->v, "never") == 0 || strcmp(a->v, "-1") == 0)
        return *SLOT(a, int64_t) = -1, 0;
    if (parse_duration_ms(a->v, &d) || (uint64_t)d > a->f->max)
        return -2;
    return *SLOT(a, int64_t) = d, 0;
}

static int set_factor(const set_args_t *a)
{
    char *end;
    errno = 0;
    double x = strtod(a->v, &end);
    if (!isdigit((unsigned char)*a->v) || errno || *end || !(x >= (double)a->f->min) ||
        !(x <= (double)a->f->max))
        return -2;
    return *SLOT(a, double) = x, 0;
}

static int set_log_level(const set_args_t *a)
{
    return parse_enum(a->v, log_levels, 4, SLOT(a, int)) == 0 ? 0 : -2;
}

static int set_log_format(const set_args_t *a)
{
    return parse_enum(a->v, log_formats, 3, SLOT(a, int)) == 0 ? 0 : -2;
}

/* --help and --version take no value. */
static int set_action(const set_args_t *a) { return (void)a, -2; }

static void show_list(const options_t *o, const flag_t *f, char *out, size_t len)
{
    (void)f;
    for (unsigned i = 0; i < o->n_listen; i++) {
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%s", i ? "," : "", o->listen[i]);
    }
}

static void show_text(const options_t *o, const flag_t *f, char *out, size_t len)
{
    const char *v = *CSLOT(o, f, char *);
    snprintf(out, len, "%s", v ? v : "");
}

static void show_bool(const options_t *o, const flag_t *f, char *out, size_t len)
{
    snprintf(out, len, "%s", *CSLOT(o, f, bool) ? "true" : "false");
}

static void show_uint(const options_t *o, const flag_t *f, char *out, size_t len)
{
    snprintf(out, len, "%u", *CSLOT(o, f, unsigned));
}

static void show_u64(const options_t *o, const flag_t *f, char *out, size_t len)
{
    snprintf(out, len, "%" PRIu64, *CSLOT(o, f, uint64_t));
}

static void duration_text(int64_t ms, char *out, size_t len)
{
    if (ms % 1000 == 0)
        snprintf(out, len, "%llds", (long long)(ms / 1000));
    else
        snprintf(out, len, "%lldms", (long long)ms);
}

static void show_duration(const options_t *o, const flag_t *f, char *out, size_t len)
{
    duration_text(*CSLOT(o, f, int64_t), out, len);
}

static void show_purge_delay(const options_t *o, const flag_t *f, char *out, size_t len)
{
    if (*CSLOT(o, f, int64_t) < 0)
        snprintf(out, len, "never");
    else
        show_duration(o, f, out, len);
}

static void show_factor(const options_t *o, const flag_t *f, char *out, size_t len)
{
    snprintf(out, len, "%g", *CSLOT(o, f, double));
}

static void show_log_level(const options_t *o, const flag_t *f, char *out, size_t len)
{
    snprintf(out, len, "%s", log_levels[*CSLOT(o, f, int)]);
}

static void show_log_format(const options_t *o, const flag_t *f, char *out, size_t len)
{
    snprintf(out, len, "%s", log_formats[*CSLOT(o, f, int)]);
}

static void show_nothing(const options_t *o, const flag_t *f, char *out, size_t len)
{
    (void)o, (void)f, (void)out, (void)len;
}

static void expect_integer(const flag_t *f, char *out, size_t len)
{
    snprintf(out, len, "expected an integer from %" PRIu64 " to %" PRIu64, f->min, f->max);
}

static void expect_workload(const flag_t *f, char *out, size_t len)
{
    (void)f;
    snprintf(out, len, "expected one of: %s", workload_profile_list());
}

static void expect_factor(const flag_t *f, char *out, size_t len)
{
    snprintf(out, len, "expected a number from %" PRIu64 " to %" PRIu64 " (e.g. 0.5, 1, 10)",
             f->min, f->max);
}

static void expect_duration(const flag_t *f, char *out, size_t len)
{
    char least[32];
    duration_text((int64_t)f->min, least, sizeof least);
    snprintf(out, len, "expected a duration such as 10s or 1m30s, at least %s", least);
}

static const struct {
    kind_set_fn    set;
    kind_show_fn   show;
    const char    *expect;      /* what a good value looks like ... */
    kind_expect_fn expect_fn;   /* ... when it depends on the flag */
} kinds[] = {
    [FK_STRING]      = { set_text, show_text, "unexpected value", NULL },
    [FK_LIST]        = { set_list, show_list, "unexpected value", NULL },
    [FK_BOOL]        = { set_bool, show_bool, "expected true or false", NULL },
    [FK_UINT]        = { set_uint, show_uint, NULL, expect_integer },
    [FK_U64]         = { set_u64, show_u64, NULL, expect_integer },
    [FK_BYTES]       = { set_bytes, show_u64,
                         "expected a size such as 1048576, 64MiB or 1GiB, at least 4096", NULL },
    [FK_DURATION]    = { set_duration, show_duration, NULL, expect_duration },
    [FK_PURGE_DELAY] = { set_purge_delay, show_purge_delay,
                         "expected a duration such as 100ms, 0, or never", NULL },
    [FK_LOG_LEVEL]   = { set_log_level, show_log_level, "expected debug, info, warn or error", NULL },
    [FK_LOG_FORMAT]  = { set_log_format, show_log_format, "expected logfmt, json or journal", NULL },
    [FK_WORKLOAD]    = { set_workload, show_text, NULL, expect_workload },
    [FK_PATH]        = { set_path, show_text, "expected a path", NULL },
    [FK_ACTION]      = { set_action, show_nothing, "unexpected value", NULL },
    [FK_FACTOR]      = { set_factor, show_factor, NULL, expect_factor },
};
_Static_assert(sizeof kinds / sizeof kinds[0] == FK_FACTOR + 1, "a row for every flag kind");

static const char *expectation(const flag_t *f, char *tmp, size_t len)
{
    if (kinds[f->kind].expect)
        return kinds[f->kind].expect;
    kinds[f->kind].expect_fn(f, tmp, len);
    return tmp;
}

int opt_set(options_t *o, const flag_t *f, const char *value, enum opt_source src,
            char *err, size_t errlen)
{
    err[0] = '\0';
    int r = kinds[f->kind].set(&(set_args_t){ o, f, value, src, err, errlen });
    if (r == 0) {
        if (src != SRC_DEFAULT)
            o->explicit_set |= 1ULL << flag_index(f);
        return 0;
    }
    if (!err[0]) {
        char tmp[160];
        if (r == -1)
            snprintf(err, errlen, "out of memory");
        else
            snprintf(err, errlen, "invalid value \"%.80s\": %s", value, expectation(f, tmp, sizeof tmp));
    }
    return -1;
}

bool opt_is_explicit(const options_t *o, const char *name)
{
    const flag_t *f = flag_find(name, strlen(name));
    return f && (o->explicit_set >> flag_index(f) & 1);
}

/* ---- the options as a whole ----------------------------------------------- */

void options_init(options_t *o)
{
    char err[256];
    memset(o, 0, sizeof *o);
    o->listen_source = -1;
    for (size_t i = 0; i < flag_count; i++)
        if (flag_table[i].defval && opt_set(o, &flag_table[i], flag_table[i].defval,
                                            SRC_DEFAULT, err, sizeof err) != 0)
            abort();    /* a bad default is a programming error */
}

void options_free(options_t *o)
{
    for (unsigned i = 0; i < o->n_listen; i++)
        free(o->listen[i]);
    free(o->telemetry_path);
    free(o->web_config_file);
    free(o->workload);
    free(o->workload_trace);
    free(o->collector_dir);
    free(o->config_file);
    memset(o, 0, sizeof *o);
}

void opt_format(const options_t *o, const flag_t *f, char *out, size_t len)
{
    out[0] = '\0';
    kinds[f->kind].show(o, f, out, len);
}

bool opt_differs(const options_t *a, const options_t *b, const flag_t *f)
{
    char x[1024], y[1024];
    opt_format(a, f, x, sizeof x);
    opt_format(b, f, y, sizeof y);
    return strcmp(x, y) != 0;
}
