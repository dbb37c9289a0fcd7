/* The config file: one "key = value" per line, keys are the long flag names
 * without "--", "#" starts a comment line, values may be quoted with "" or ''.
 * A key that can repeat (web.listen-address) may appear more than once. */
#define _GNU_SOURCE
#include "config/conffile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_FILE = 1 << 20 };

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Trims [*s, *e) of blanks. */
static void trim(const char **s, const char **e)
{
    while (*s < *e && is_space(**s))
        (*s)++;
    while (*e > *s && is_space((*e)[-1]))
        (*e)--;
}

static int parse_line(const char *s, const char *e, const char *file, unsigned line,
                      options_t *o, char *err, size_t errlen)
{
    trim(&s, &e);
    if (s == e || *s == '#')
        return 0;
    const char *eq = memchr(s, '=', (size_t)(e - s));
    if (!eq) {
        snprintf(err, errlen, "%s:%u: expected key = value", file, line);
        return -1;
    }
    const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
    trim(&ks, &ke);
    trim(&vs, &ve);
    if (ve - vs >= 2 && (*vs == '"' || *vs == '\'') && ve[-1] == *vs) {
        vs++;
        ve--;
    }
    const flag_t *f = flag_find(ks, (size_t)(ke - ks));
    if (!f || f->cli_only) {
        snprintf(err, errlen, "%s:%u: unknown key \"%.*s\"", file, line,
                 (int)(ke - ks > 64 ? 64 : ke - ks), ks);
        return -1;
    }
    char *value = strndup(vs, (size_t)(ve - vs));
    if (!value) {
        snprintf(err, errlen, "%s:%u: out of memory", file, line);
        return -1;
    }
    char why[200];
    int r = opt_set(o, f, value, SRC_FILE, why, sizeof why);
    free(value);
    if (r != 0)
        snprintf(err, errlen, "%s:%u: %s: %s", file, line, f->name, why);
    return r;
}

int conffile_parse(const char *text, size_t len, const char *filename, options_t *o,
                   char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    for (unsigned line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (memchr(p, '\0', (size_t)(le - p))) {
            snprintf(err, errlen, "%s:%u: NUL byte in line", filename, line);
            return -1;
        }
        if (parse_line(p, le, filename, line, o, err, errlen) != 0)
            return -1;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static char *read_file(const char *path, size_t *len, int *error)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        *error = errno;
        return NULL;
    }
    char *data = malloc(MAX_FILE + 1);
    size_t n = data ? fread(data, 1, MAX_FILE + 1, f) : 0;
    *error = !data ? ENOMEM : ferror(f) ? EIO : n > MAX_FILE ? EFBIG : 0;
    fclose(f);
    if (*error) {
        free(data);
        return NULL;
    }
    *len = n;
    return data;
}

int conffile_load(const char *path, bool required, options_t *o, char *err, size_t errlen)
{
    size_t len;
    int error;
    char *text = read_file(path, &len, &error);
    if (!text) {
        if (error == ENOENT && !required)
            return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(error));
        return -1;
    }
    int r = conffile_parse(text, len, path, o, err, errlen);
    free(text);
    return r;
}
