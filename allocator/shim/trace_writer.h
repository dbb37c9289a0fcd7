/* Recording allocation traces from the shim (see trace_writer.c). */
#ifndef POOL_TRACE_WRITER_H
#define POOL_TRACE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool     trace_start(const char *path);   /* inside the first malloc: allocates nothing */
void     trace_start_late(void);          /* fork handlers; may allocate */
void     trace_stop(void);                /* at exit: write every buffer, close */
void     trace_suspend(void);             /* before exec: write every buffer */
void     trace_resume(void);              /* the exec failed */
bool     trace_active(void);
uint64_t trace_now(void);                 /* the record clock (ticks), before an operation */
uint64_t trace_now_after(void);           /* the same, ordered after the loads before it */

void trace_alloc(int op, size_t size, const void *result);      /* time taken now */
void trace_free(const void *ptr, uint64_t t);                   /* t taken before freeing */
void trace_realloc(const void *old, size_t size, const void *result, uint64_t t);
void trace_aligned(size_t alignment, size_t size, const void *result);

#endif
