/* libFuzzer target: the exposition encoder's escaping. The input splits at
 * the first NUL into a label value and a HELP text; whatever they hold, the
 * output must stay exactly the expected lines (no injected line or series),
 * and the label value must read back unchanged. Also exercises the number
 * formatting with the input's bytes as a double. */
#include "expose/metrics_text.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads the quoted label value starting at s (after the opening quote). */
static char *unescape(const char *s, const char **end)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    for (; *s && *s != '"'; s++) {
        if (*s != '\\') {
            *o++ = *s;
            continue;
        }
        s++;
        *o++ = *s == 'n' ? '\n' : *s;   /* \\ and \" */
    }
    *o = '\0';
    *end = s;
    return out;
}

static void check_numbers(const uint8_t *data, size_t size)
{
    double v;
    char out[32];
    if (size < sizeof v)
        return;
    memcpy(&v, data, sizeof v);
    expo_format_float(v, out);
    if (!isnan(v) && !isinf(v) && strtod(out, NULL) != v)
        abort();      /* must read back exactly */
    expo_format_le(v, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_numbers(data, size);
    char *value = malloc(size + 1);
    memcpy(value, data, size);
    value[size] = '\0';
    const char *help = value + strlen(value) + (strlen(value) < size);
    for (int format = EXPO_TEXT; format <= EXPO_OPENMETRICS; format++) {
        buf_t b;
        expo_t e;
        buf_init(&b);
        expo_init(&e, &b, (expo_format_t)format);
        expo_family(&e, "fuzz_total", MT_COUNTER, help);
        expo_u64(&e, NULL, &(label_t){ "l", value }, 1, 7);
        expo_finish(&e);
        size_t lines = 0;
        for (size_t i = 0; i < b.len; i++)
            lines += b.data[i] == '\n';
        if (lines != (format == EXPO_TEXT ? 3u : 4u))
            abort();
        const char *sample = strstr(b.data, "\nfuzz_total{l=\"");   /* not in HELP */
        const char *end;
        if (!sample)
            abort();
        char *back = unescape(sample + strlen("\nfuzz_total{l=\""), &end);
        if (strcmp(back, value) != 0 || strncmp(end, "\"} 7\n", 5) != 0)
            abort();
        free(back);
        buf_free(&b);
    }
    free(value);
    return 0;
}
