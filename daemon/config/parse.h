/* Parsers of the values a setting or a query string takes. Each returns 0,
 * or -1 for text it does not accept entirely (nothing is written then). */
#ifndef POOLD_PARSE_H
#define POOLD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decimal digits only (no sign, no blanks). */
int parse_u64(const char *s, uint64_t *out);
/* A number of bytes with an optional unit: 1048576, 64KiB, 1.5GiB, 100MB. */
int parse_bytes(const char *s, uint64_t *out);
/* A Go-style duration (1m30s, 250ms; a bare 0), in milliseconds. */
int parse_duration_ms(const char *s, int64_t *out);
/* true/yes/on/1, false/no/off/0, in any case. */
int parse_bool(const char *s, bool *out);
/* Splits "HOST:PORT", "[IPV6]:PORT" or ":PORT" (host empty). */
int parse_listen_address(const char *address, char *host, size_t hostlen, char *port,
                         size_t portlen);

#endif
