/* A growable byte buffer for building responses and log lines. A buffer
 * whose allocation failed stays failed (buf_failed) and ignores further
 * writes, so callers check once at the end instead of after every write. */
#ifndef POOLD_BUF_H
#define POOLD_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char  *data;   /* always NUL-terminated when len > 0 */
    size_t len, cap;
    bool   failed;
} buf_t;

void buf_init(buf_t *b);
void buf_free(buf_t *b);
bool buf_reserve(buf_t *b, size_t extra);
void buf_add(buf_t *b, const void *p, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_putc(buf_t *b, char c);
void buf_u64(buf_t *b, uint64_t v);
void buf_i64(buf_t *b, int64_t v);
__attribute__((format(printf, 2, 3)))
void buf_printf(buf_t *b, const char *fmt, ...);
/* Hands the contents over to the caller (free() it); the buffer is reset. */
char *buf_take(buf_t *b, size_t *len);

#endif
