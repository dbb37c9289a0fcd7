/* The value parsers behind the flag table, shared with the rest of the
 * daemon (routes.c reads query strings with them); see parse.h. */
#define _GNU_SOURCE
#include "config/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int parse_u64(const char *s, uint64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = true, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *out = false, 0;
    }
    return -1;
}

/* A number of bytes with an optional unit: 1048576, 64KiB, 1.5GiB, 100MB. */
int parse_bytes(const char *s, uint64_t *out)
{
    static const struct { const char *unit; double mult; } units[] = {
        { "", 1 }, { "B", 1 },
        { "K", 1024.0 }, { "KiB", 1024.0 }, { "KB", 1e3 },
        { "M", 1048576.0 }, { "MiB", 1048576.0 }, { "MB", 1e6 },
        { "G", 1073741824.0 }, { "GiB", 1073741824.0 }, { "GB", 1e9 },
        { "T", 1099511627776.0 }, { "TiB", 1099511627776.0 }, { "TB", 1e12 },
    };
    if (!isdigit((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].unit) == 0) {
            double b = v * units[i].mult;
            if (!(b >= 0 && b < 1.8e19))
                return -1;
            *out = (uint64_t)b;
            return 0;
        }
    }
    return -1;
}

/* A Go-style duration: a sequence of number+unit (ms, s, m, h), e.g. 1m30s,
 * 250ms; a bare 0 is allowed. */
int parse_duration_ms(const char *s, int64_t *out)
{
    static const struct { const char *unit; double ms; } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
    };
    if (strcmp(s, "0") == 0)
        return *out = 0, 0;
    double total = 0;
    if (!*s)
        return -1;
    while (*s) {
        if (!isdigit((unsigned char)*s))
            return -1;
        char *end;
        double v = strtod(s, &end);
        size_t ulen = 0;
        while (isalpha((unsigned char)end[ulen]))
            ulen++;
        size_t u = 0;
        while (u < 4 && !(strlen(units[u].unit) == ulen && strncmp(end, units[u].unit, ulen) == 0))
            u++;
        if (u == 4)
            return -1;
        total += v * units[u].ms;
        s = end + ulen;
    }
    if (!(total < 9.2e18))
        return -1;
    *out = (int64_t)total;
    return 0;
}

int parse_listen_address(const char *address, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon, *h = address;
    size_t hlen;
    if (address[0] == '[') {
        const char *close = strchr(address, ']');
        if (!close || close[1] != ':')
            return -1;
        h = address + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(address, ':');
        if (!colon || memchr(address, ':', (size_t)(colon - address)))
            return -1;
        hlen = (size_t)(colon - address);
    }
    const char *p = colon + 1;
    if (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5 || atoi(p) > 65535)
        return -1;
    if (hlen >= hostlen || strlen(p) >= portlen)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    strcpy(port, p);
    return 0;
}
