/* Structured logging. Lines are built in a local buffer and written with
 * one write(2), so lines from different threads never interleave. The
 * journal gets MESSAGE (the text plus the pairs in logfmt, readable in
 * `journalctl` as is), PRIORITY and one POOLD_<KEY> field per pair. */
#define _GNU_SOURCE
#include "service/log.h"
#include "service/buf.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#define SD_JOURNAL_SUPPRESS_LOCATION   /* it would always be this file */
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

enum { MAX_PAIRS = 16 };

static _Atomic int cur_level = LOG_LVL_INFO;
static _Atomic int cur_format = LOG_FMT_LOGFMT;

static const char *const level_names[] = { "debug", "info", "warn", "error" };
static const int level_prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };

/* sd_journal_send() reports success when journald is absent (it drops the
 * message), so the socket is looked for once, up front. */
static bool journald_reachable(void)
{
    struct stat st;
    return stat("/run/systemd/journal/socket", &st) == 0 && S_ISSOCK(st.st_mode);
}

static _Atomic bool journal_ok;

void log_setup(enum log_level level, enum log_format format)
{
    atomic_store(&cur_level, (int)level);
    atomic_store(&cur_format, (int)format);
    if (format == LOG_FMT_JOURNAL)
        atomic_store(&journal_ok, journald_reachable());
}

bool log_enabled(enum log_level level) { return (int)level >= atomic_load(&cur_level); }

bool log_stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static void put_timestamp(buf_t *b)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
               tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static bool logfmt_needs_quotes(const char *v)
{
    if (!*v)
        return true;
    for (; *v; v++)
        if ((unsigned char)*v <= ' ' || *v == '=' || *v == '"' || *v == '\\' || *v == 0x7f)
            return true;
    return false;
}

/* Quoted strings use the escapes logfmt and JSON share. */
static void put_quoted(buf_t *b, const char *v)
{
    buf_putc(b, '"');
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (c == '"' || c == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)c);
        } else if (c == '\n') {
            buf_puts(b, "\\n");
        } else if (c == '\t') {
            buf_puts(b, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            buf_printf(b, "\\u%04x", c);
        } else {
            buf_putc(b, (char)c);
        }
    }
    buf_putc(b, '"');
}

static void put_logfmt_value(buf_t *b, const char *v)
{
    if (logfmt_needs_quotes(v))
        put_quoted(b, v);
    else
        buf_puts(b, v);
}

static void format_logfmt(buf_t *b, bool with_ts, int level, const char *msg,
                          const char **kv, int n)
{
    if (with_ts) {
        buf_puts(b, "ts=");
        put_timestamp(b);
        buf_putc(b, ' ');
    }
    buf_printf(b, "level=%s msg=", level_names[level]);
    put_logfmt_value(b, msg);
    for (int i = 0; i < n; i += 2) {
        buf_printf(b, " %s=", kv[i]);
        put_logfmt_value(b, kv[i + 1]);
    }
}

static void format_json(buf_t *b, int level, const char *msg, const char **kv, int n)
{
    buf_puts(b, "{\"ts\":\"");
    put_timestamp(b);
    buf_printf(b, "\",\"level\":\"%s\",\"msg\":", level_names[level]);
    put_quoted(b, msg);
    for (int i = 0; i < n; i += 2) {
        buf_putc(b, ',');
        put_quoted(b, kv[i]);
        buf_putc(b, ':');
        put_quoted(b, kv[i + 1]);
    }
    buf_putc(b, '}');
}

static void write_line(buf_t *b)
{
    buf_putc(b, '\n');
    if (b->failed)
        return;
    ssize_t w = write(STDERR_FILENO, b->data, b->len);
    (void)w;
}

/* Journal field names: POOLD_ plus the key upper-cased, other characters as _. */
static void journal_field(buf_t *b, const char *key, const char *value)
{
    buf_puts(b, "POOLD_");
    for (const char *k = key; *k; k++) {
        char c = *k;
        buf_putc(b, (c >= 'a' && c <= 'z') ? (char)(c - 32)
                    : ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? c : '_');
    }
    buf_putc(b, '=');
    buf_puts(b, value);
}

static bool send_journal(int level, const char *msg, const char **kv, int n)
{
    buf_t f[3 + MAX_PAIRS / 2];
    struct iovec iov[3 + MAX_PAIRS / 2];
    int nf = 0;
    for (int i = 0; i < 3 + n / 2; i++)
        buf_init(&f[i]);
    buf_puts(&f[nf], "MESSAGE=");
    format_logfmt(&f[nf++], false, level, msg, kv, n);
    buf_printf(&f[nf++], "PRIORITY=%d", level_prio[level]);
    buf_puts(&f[nf++], "SYSLOG_IDENTIFIER=poold");
    for (int i = 0; i < n; i += 2)
        journal_field(&f[nf++], kv[i], kv[i + 1]);
    bool ok = true;
    for (int i = 0; i < nf; i++) {
        ok &= !f[i].failed;
        iov[i] = (struct iovec){ f[i].data, f[i].len };
    }
    ok = ok && sd_journal_sendv(iov, nf) >= 0;
    for (int i = 0; i < nf; i++)
        buf_free(&f[i]);
    return ok;
}

void log_msg(enum log_level level, const char *msg, ...)
{
    if (!log_enabled(level))
        return;
    const char *kv[MAX_PAIRS];
    int n = 0;
    va_list ap;
    va_start(ap, msg);
    for (const char *k; n < MAX_PAIRS && (k = va_arg(ap, const char *));) {
        const char *v = va_arg(ap, const char *);
        kv[n++] = k;
        kv[n++] = v ? v : "";
    }
    va_end(ap);

    int format = atomic_load(&cur_format);
    if (format == LOG_FMT_JOURNAL && atomic_load(&journal_ok) && send_journal(level, msg, kv, n))
        return;
    buf_t b;
    buf_init(&b);
    if (format == LOG_FMT_JSON) {
        format_json(&b, level, msg, kv, n);
    } else if (format == LOG_FMT_JOURNAL) {
        /* journald is not reachable: stderr with the <N> priority prefix
         * that journald's stream reader understands. */
        buf_printf(&b, "<%d>", level_prio[level]);
        format_logfmt(&b, false, level, msg, kv, n);
    } else {
        format_logfmt(&b, true, level, msg, kv, n);
    }
    write_line(&b);
    buf_free(&b);
}
