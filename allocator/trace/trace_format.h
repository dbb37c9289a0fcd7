/*
 * The allocation trace file format (POOLMALLOCTRACE=FILE with the preload
 * shim). Written by allocator/shim/trace_writer.c, read by trace_reader.c.
 *
 * A file is one header, then chunks. Each thread buffers its records and
 * appends them as one chunk with a single write(2) on an O_APPEND file, so
 * chunks of different threads never interleave and a crash loses at most
 * the unflushed tail of each thread.
 *
 *   header  (64 bytes, little-endian)
 *     char magic[8]  "POOLTRC1"
 *     u32  version   2 (1: the same without clock pairs, see Times)
 *     u32  header_size 64
 *     u32  pid
 *     u32  flags     0
 *     u64  start_realtime_ns
 *     u64  start_monotonic_ns
 *     char comm[16]  program name, NUL-padded
 *     u64  start_ticks   (version 2; version 1: reserved) read with start_monotonic_ns
 *
 *   chunk header (48 bytes; 32 in version 1)
 *     u32  magic     "CHK1" (0x314b4843)
 *     u32  tid
 *     u32  records
 *     u32  payload_bytes  (<= TRACE_MAX_PAYLOAD)
 *     u64  base      ticks the first record's delta counts from
 *     u64  seq       chunk number within the file, from 0
 *     u64  clock_ticks, clock_ns   (version 2) the tick counter and
 *                    CLOCK_MONOTONIC read together when the chunk was written
 *   payload: `records` records
 *
 *   record
 *     u8      op (TRACE_OP_*)
 *     varint  dt: ticks since the previous record of the chunk (or base)
 *     then by op:
 *       MALLOC, CALLOC   varint size, addr result
 *       REALLOC          addr old, varint size, addr result
 *       FREE             addr ptr
 *       ALIGNED          varint alignment, varint size, addr result
 *   where addr is the zigzag varint of (address - previous address written
 *   in this chunk), starting from 0; a failed allocation has result 0.
 *
 * Times are "ticks": on x86-64 with an invariant TSC that the kernel itself
 * uses as its clocksource (so it is synchronised across CPUs), the TSC,
 * which costs a fraction of clock_gettime to read; otherwise
 * CLOCK_MONOTONIC nanoseconds, and every (ticks, ns) pair is (ns, ns).
 * Readers order records by ticks and turn them into nanoseconds with one
 * line through the earliest and the latest (ticks, ns) pair of the file (the
 * header's and the chunks'), so the order is exact and durations are as
 * good as the TSC is steady. Version 1 files have no pairs: ticks are ns.
 * A free takes its time before calling the allocator, a malloc after it
 * returns (an ordered read, rdtscp), so a block's reuse always sorts after
 * its free. A realloc that moves a block both takes one block and releases
 * another: its time is read inside the allocator, after the new block is
 * taken and before the old one is released (a time from before the call
 * would sort the new block's allocation before the free that released it
 * whenever the call is slow or the thread is preempted; one from after, the
 * old block's release after its reuse). A realloc that stays in place, or
 * frees, takes its time before the call.
 */
#ifndef POOL_TRACE_FORMAT_H
#define POOL_TRACE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define TRACE_MAGIC        "POOLTRC1"
#define TRACE_VERSION      2u
#define TRACE_HEADER_SIZE  64u
#define TRACE_CHUNK_MAGIC  0x314b4843u   /* "CHK1" */
#define TRACE_CHUNK_SIZE   48u
#define TRACE_CHUNK_SIZE_V1 32u
#define TRACE_MAX_PAYLOAD  (1u << 20)
#define TRACE_MAX_RECORD   48u           /* op + 5 varints of at most 10 bytes, rounded */

enum {
    TRACE_OP_MALLOC = 1,
    TRACE_OP_CALLOC = 2,
    TRACE_OP_REALLOC = 3,
    TRACE_OP_FREE = 4,
    TRACE_OP_ALIGNED = 5,
};

typedef struct {
    uint8_t op;
    uint32_t tid;
    uint64_t ticks;       /* as recorded (see Times) */
    uint64_t time_ns;     /* CLOCK_MONOTONIC nanoseconds */
    uint64_t size;        /* bytes requested (MALLOC, CALLOC, REALLOC, ALIGNED) */
    uint64_t alignment;   /* ALIGNED */
    uint64_t ptr;         /* FREE: the block; REALLOC: the old block */
    uint64_t result;      /* allocations: the block returned, 0 on failure */
} trace_record_t;

/* ---- little-endian fields and varints, shared by writer and reader ------ */

static inline void trace_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void trace_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t trace_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline uint64_t trace_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline uint8_t *trace_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint64_t trace_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t trace_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* Reads a varint from [*p, end); returns 0 on success, -1 if it is
 * truncated or longer than 10 bytes. */
static inline int trace_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        if (shift == 63 && b > 1)
            return -1;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

#endif /* POOL_TRACE_FORMAT_H */
