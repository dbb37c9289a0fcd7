/* gzip compression of response bodies (libmicrohttpd has none). */
#ifndef POOLD_GZIP_H
#define POOLD_GZIP_H

#include <stddef.h>

/* Returns a malloc'd gzip stream of data, or NULL on failure. */
char *gzip_compress(const char *data, size_t len, size_t *out_len);

#endif
