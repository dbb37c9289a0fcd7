/*
 * Reading allocation traces (format: trace_format.h) in time order.
 *
 * trace_open() checks the header and indexes every chunk; trace_next()
 * merges the threads' records by time. Memory stays bounded whatever the
 * file says: at most TRACE_MAX_CHUNKS chunks and TRACE_MAX_THREADS threads
 * in the index, and a read window only for the threads whose records are
 * being merged (a thread joins when the merge reaches its first chunk and
 * leaves after its last), at most TRACE_MAX_ACTIVE at once. Any malformed,
 * truncated or hostile input gives an error naming the byte offset; never
 * a crash.
 */
#ifndef POOL_TRACE_READER_H
#define POOL_TRACE_READER_H

#include "trace_format.h"

#include <stddef.h>
#include <stdint.h>

#define TRACE_MAX_THREADS (1u << 20)
#define TRACE_MAX_CHUNKS  (4u << 20)
#define TRACE_MAX_ACTIVE  16384u

typedef struct trace_reader trace_reader_t;

typedef struct {
    uint32_t version, pid;
    char     comm[17];
    uint64_t start_realtime_ns, start_monotonic_ns;
    uint64_t file_bytes;
    uint64_t chunks, records, threads;
    uint64_t first_ns, last_ns;   /* time of the first and last chunk base */
    double   ns_per_tick;         /* 1 when the ticks are nanoseconds */
} trace_info_t;

/* Opens and indexes path. Returns NULL with a message in err on failure
 * ("PATH: offset N: what"). */
trace_reader_t *trace_open(const char *path, char *err, size_t errlen);
/* The same from an open descriptor, which the reader takes over (closes);
 * name is used in messages. */
trace_reader_t *trace_open_fd(int fd, const char *name, char *err, size_t errlen);

/* The next record in time order: 1, or 0 at the end, or -1 on an error
 * (trace_error() says where and what: "offset N: ..."; the reader then
 * stays failed). */
int trace_next(trace_reader_t *r, trace_record_t *rec);

const char *trace_error(const trace_reader_t *r);
const trace_info_t *trace_info(const trace_reader_t *r);
void trace_rewind(trace_reader_t *r);   /* start over (to replay in a loop) */
void trace_close(trace_reader_t *r);

const char *trace_op_name(int op);

#endif
