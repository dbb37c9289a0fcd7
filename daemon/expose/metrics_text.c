/* The exposition encoder; see metrics_text.h. */
#include "expose/metrics_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void expo_init(expo_t *e, buf_t *out, expo_format_t format)
{
    e->out = out;
    e->format = format;
    e->family = NULL;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* HELP text: text 0.0.4 escapes \ and newline; OpenMetrics also ". */
static void escape_help(buf_t *b, const char *s, bool quotes)
{
    for (; *s; s++) {
        if (*s == '\\')
            buf_puts(b, "\\\\");
        else if (*s == '\n')
            buf_puts(b, "\\n");
        else if (*s == '"' && quotes)
            buf_puts(b, "\\\"");
        else
            buf_putc(b, *s);
    }
}

void expo_escape_label(buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            buf_puts(b, "\\\\");
        else if (*s == '\n')
            buf_puts(b, "\\n");
        else if (*s == '"')
            buf_puts(b, "\\\"");
        else
            buf_putc(b, *s);
    }
}

static const char *type_name(metric_type_t t)
{
    switch (t) {
    case MT_COUNTER: return "counter";
    case MT_HISTOGRAM: return "histogram";
    default: return "gauge";
    }
}

void expo_family(expo_t *e, const char *name, metric_type_t type, const char *help)
{
    buf_t *b = e->out;
    size_t len = strlen(name);
    e->family = name;
    if (e->format == EXPO_TEXT) {
        buf_printf(b, "# HELP %s ", name);
        escape_help(b, help, false);
        buf_printf(b, "\n# TYPE %s %s\n", name, type_name(type));
        return;
    }
    if (type == MT_COUNTER && ends_with(name, len, "_total"))
        len -= 6;
    buf_printf(b, "# TYPE %.*s %s\n", (int)len, name, type_name(type));
    if (ends_with(name, len, "_bytes"))
        buf_printf(b, "# UNIT %.*s bytes\n", (int)len, name);
    else if (ends_with(name, len, "_seconds"))
        buf_printf(b, "# UNIT %.*s seconds\n", (int)len, name);
    buf_printf(b, "# HELP %.*s ", (int)len, name);
    escape_help(b, help, true);
    buf_putc(b, '\n');
}

static void sample_head(expo_t *e, const char *suffix, const label_t *labels, size_t n)
{
    buf_t *b = e->out;
    buf_puts(b, e->family);
    buf_puts(b, suffix ? suffix : "");
    if (n) {
        buf_putc(b, '{');
        for (size_t i = 0; i < n; i++) {
            buf_printf(b, "%s%s=\"", i ? "," : "", labels[i].name);
            expo_escape_label(b, labels[i].value);
            buf_putc(b, '"');
        }
        buf_putc(b, '}');
    }
    buf_putc(b, ' ');
}

void expo_u64(expo_t *e, const char *suffix, const label_t *labels, size_t n, uint64_t v)
{
    sample_head(e, suffix, labels, n);
    buf_u64(e->out, v);
    buf_putc(e->out, '\n');
}

void expo_f64(expo_t *e, const char *suffix, const label_t *labels, size_t n, double v)
{
    char num[32];
    sample_head(e, suffix, labels, n);
    buf_add(e->out, num, expo_format_float(v, num));
    buf_putc(e->out, '\n');
}

void expo_histogram(expo_t *e, const double *bounds, const uint64_t *cumulative, size_t n,
                    double sum, uint64_t count)
{
    char le[32];
    label_t l = { "le", le };
    for (size_t i = 0; i < n; i++) {
        expo_format_le(bounds[i], le);
        expo_u64(e, "_bucket", &l, 1, cumulative[i]);
    }
    expo_format_le(INFINITY, le);
    expo_u64(e, "_bucket", &l, 1, count);
    expo_f64(e, "_sum", NULL, 0, sum);
    expo_u64(e, "_count", NULL, 0, count);
}

void expo_finish(expo_t *e)
{
    if (e->format == EXPO_OPENMETRICS)
        buf_puts(e->out, "# EOF\n");
}

/* ---- numbers ------------------------------------------------------------------ */

size_t expo_format_float(double v, char out[32])
{
    if (isnan(v))
        return (size_t)snprintf(out, 32, "NaN");
    if (isinf(v))
        return (size_t)snprintf(out, 32, v > 0 ? "+Inf" : "-Inf");
    if (v == 0)
        return (size_t)snprintf(out, 32, signbit(v) ? "-0" : "0");
    /* Fewest significant digits that read back exactly. */
    char e[32];
    int digits;
    for (digits = 1; digits < 17; digits++) {
        snprintf(e, sizeof e, "%.*e", digits - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    snprintf(e, sizeof e, "%.*e", digits - 1, v);
    int exp = atoi(strchr(e, 'e') + 1);
    /* Go's shortest %g: exponent form below 1e-4 and from 1e+06 up. */
    if (exp < -4 || exp >= 6)
        return (size_t)snprintf(out, 32, "%s", e);
    int decimals = digits - 1 - exp;
    return (size_t)snprintf(out, 32, "%.*f", decimals > 0 ? decimals : 0, v);
}

size_t expo_format_le(double v, char out[32])
{
    size_t n = expo_format_float(v, out);
    if (!isnan(v) && !isinf(v) && !strpbrk(out, ".e")) {
        memcpy(out + n, ".0", 3);
        n += 2;
    }
    return n;
}
