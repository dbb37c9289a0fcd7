/* gzip via zlib's deflate with a gzip wrapper (windowBits 15 + 16). Level 6
 * (zlib's default) gives most of the gain for little CPU on /metrics text. */
#include "http/gzip.h"

#include <stdlib.h>
#include <zlib.h>

char *gzip_compress(const char *data, size_t len, size_t *out_len)
{
    z_stream z = { 0 };
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong cap = deflateBound(&z, (uLong)len);
    char *out = malloc(cap);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int r = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (r != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}
