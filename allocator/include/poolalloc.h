/*
 * poolalloc — a pymalloc-style pool allocator.
 *
 * Requests of 1..POOL_SMALL_REQUEST_THRESHOLD (512) bytes are served from
 * pymalloc's 32 size classes of 16 bytes, one class to a pool (16 KiB).
 * Requests above that and up to POOL_MEDIUM_MAX (256 KiB) are served from a
 * medium tier: four classes per doubling (640, 768, 896, 1024, 1280, ...),
 * one class to a run of contiguous pools. Pools and runs are carved from
 * 1 MiB arenas obtained with mmap. Larger requests, and 0-byte requests, go
 * to the system allocator. Every function here is thread-safe.
 *
 * The pool threshold (the largest request the pools serve) is
 * POOL_DEFAULT_THRESHOLD unless the environment says otherwise:
 * POOLMALLOC_THRESHOLD=512 gives exactly pymalloc's behaviour (everything
 * above 512 bytes to the system allocator); any value from 512 to 262144 is
 * accepted. A build with -DPOOL_DEFAULT_THRESHOLD=512 (make POOL_THRESHOLD=512)
 * makes that the default.
 *
 * Three allocator domains (raw / mem / obj) follow CPython's PEP 445: each
 * has a replaceable allocator struct, and POOLMALLOC selects the defaults.
 */
#ifndef POOLALLOC_H
#define POOLALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#define POOLALLOC_VERSION "0.1.0"

/* Geometry (compile-time constants). */
#define POOL_ALIGNMENT               16
#define POOL_SMALL_REQUEST_THRESHOLD 512
#define POOL_NUM_SMALL_CLASSES       (POOL_SMALL_REQUEST_THRESHOLD / POOL_ALIGNMENT)
#define POOL_MEDIUM_MAX              (256 * 1024)
/* four per doubling from 640 up to 256 KiB */
#define POOL_NUM_MEDIUM_CLASSES      36
#define POOL_NUM_CLASSES             (POOL_NUM_SMALL_CLASSES + POOL_NUM_MEDIUM_CLASSES)
#ifndef POOL_DEFAULT_THRESHOLD
#define POOL_DEFAULT_THRESHOLD       POOL_MEDIUM_MAX
#endif
#define POOL_POOL_SIZE               (16 * 1024)
#define POOL_ARENA_SIZE              (1024 * 1024)
#define POOL_POOLS_PER_ARENA         (POOL_ARENA_SIZE / POOL_POOL_SIZE)

/* Block size of class index cls (0 when cls >= POOL_NUM_CLASSES). Small
 * classes: (cls + 1) * 16; medium classes four per doubling: the doubling
 * above 2^e (e = 9 .. 17) holds 2^e + 1..4 quarters of 2^e, i.e. 640, 768,
 * 896, 1024, 1280, ..., 229376, 262144. */
static inline uint32_t pool_class_size(unsigned cls)
{
    if (cls < POOL_NUM_SMALL_CLASSES)
        return (cls + 1) * POOL_ALIGNMENT;
    if (cls >= POOL_NUM_CLASSES)
        return 0;
    unsigned j = cls - POOL_NUM_SMALL_CLASSES, e = 9 + j / 4;
    return (1u << e) + (j % 4 + 1) * (1u << (e - 2));
}

/* ---------------------------------------------------------------------------
 * The allocator itself. All results are aligned to POOL_ALIGNMENT.
 * ------------------------------------------------------------------------- */

/* malloc(0) returns a distinct non-NULL pointer. NULL + ENOMEM on failure. */
void  *pool_malloc(size_t size);
/* Overflow-checked: NULL + ENOMEM when nmemb * size overflows. */
void  *pool_calloc(size_t nmemb, size_t size);
/* realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns NULL
 * (glibc semantics). Stays in place while the size keeps its class. On
 * failure returns NULL and leaves the old block untouched. */
void  *pool_realloc(void *ptr, size_t size);
void  *pool_reallocarray(void *ptr, size_t nmemb, size_t size);
/* free(NULL) is a no-op. */
void   pool_free(void *ptr);
/* Bytes usable at ptr (>= the size requested); 0 for NULL. */
size_t pool_usable_size(const void *ptr);
/* alignment must be a power of two; otherwise NULL + EINVAL. */
void  *pool_aligned_alloc(size_t alignment, size_t size);
/* POSIX: alignment a power of two multiple of sizeof(void *); returns 0 or
 * EINVAL / ENOMEM, and *memptr is left alone on error. */
int    pool_posix_memalign(void **memptr, size_t alignment, size_t size);

/* 1 when ptr lies inside one of the allocator's arenas (O(1), never touches
 * the memory at ptr). */
int    pool_owns(const void *ptr);

/* Give every empty pool's pages back to the kernel now, ignoring the purge
 * delay. Returns the number of bytes given back. */
size_t pool_trim(void);

/* How long an empty pool stays resident before its pages are given back
 * (madvise). -1 never, 0 at once. Default 100 ms, or POOLMALLOC_PURGE_DELAY
 * (milliseconds) from the environment. Returns the previous value. */
long   pool_set_purge_delay_ms(long ms);

/* Optional: release the calling thread's heap now instead of at thread exit
 * (its pools stay owned until another thread adopts the heap). */
void   pool_thread_release(void);

/* ---------------------------------------------------------------------------
 * Statistics. pool_stats_get() may be called at any time from any thread
 * while others allocate; the result is one consistent snapshot: the byte
 * breakdown sums exactly to arenas_current * arena_size, and the per-class
 * figures sum to the pool and block totals.
 * ------------------------------------------------------------------------- */

typedef struct {
    uint32_t size;             /* block size in bytes */
    uint32_t blocks_per_pool;  /* blocks per pool (small) or per run (medium) */
    uint32_t pools_per_run;    /* 1 for the small classes */
    uint32_t reserved;         /* 0 */
    uint64_t pools;            /* pools (small) or runs (medium) serving this class */
    uint64_t pools_full;       /* ... of which have no free block */
    uint64_t blocks_allocated; /* blocks handed out and not yet freed */
    uint64_t blocks_free;      /* free blocks in this class's pools */
    uint64_t mallocs;          /* cumulative blocks handed out */
    uint64_t frees;            /* cumulative blocks given back */
    uint64_t blocks_cached;    /* of blocks_free: held in threads' caches of
                                  freed blocks, reused first by those threads */
} pool_class_stats_t;

/* Where every mapped arena byte is. The fields sum to
 * arenas_current * POOL_ARENA_SIZE exactly. */
typedef struct {
    uint64_t allocated;    /* in allocated blocks (block size, not request) */
    uint64_t free_blocks;  /* free blocks inside pools that serve a class */
    uint64_t empty_pools;  /* whole empty pools, still resident */
    uint64_t untouched;    /* pools never carved since the arena was mapped */
    uint64_t pool_headers; /* the header pool of each arena (pool 0) */
    uint64_t quantization; /* tail of each pool too small for one block */
    uint64_t alignment;    /* lost to arena alignment (0: arenas are aligned) */
    uint64_t returned;     /* empty pools whose pages were given back */
} pool_bytes_t;

typedef struct {
    uint64_t malloc;       /* blocks handed out: small + large */
    uint64_t free;         /* blocks given back: small + large */
    uint64_t calloc;       /* calloc calls */
    uint64_t realloc;      /* realloc calls with a non-NULL pointer */
    uint64_t realloc_inplace; /* ... served without moving */
    uint64_t aligned;      /* aligned allocation calls */
    uint64_t remote_free;  /* frees of blocks owned by another thread */
    uint64_t failed;       /* allocations that returned NULL (ENOMEM) */
} pool_ops_t;

/* Upper bounds (bytes, inclusive) of the large-request size histogram; the
 * last bucket is unbounded. */
#define POOL_LARGE_BUCKETS 8
extern const uint64_t pool_large_bucket_bounds[POOL_LARGE_BUCKETS - 1];

typedef struct {
    /* geometry: pools_per_arena pools of blocks follow one header pool of
     * arena_header_size bytes, which holds pool_header_size bytes per pool.
     * small_threshold: the largest request the pools serve (512 in the
     * pymalloc-faithful mode); num_classes: the classes up to it. */
    uint32_t arena_size, pool_size, pool_header_size, small_threshold;
    uint32_t num_classes, pools_per_arena, arena_header_size;

    /* arenas: current == allocated_total - released_total */
    uint64_t arenas_allocated_total;
    uint64_t arenas_released_total;
    uint64_t arenas_highwater;
    uint64_t arenas_current;
    uint64_t mapped_bytes;          /* arenas_current * arena_size */

    pool_bytes_t bytes;

    /* pools of blocks by state; they sum to arenas_current * pools_per_arena.
     * pools_used: small pools and the first pool of each medium run;
     * pools_span: the further pools of medium runs */
    uint64_t pools_used, pools_empty, pools_untouched, pools_returned;
    uint64_t pools_span;

    pool_class_stats_t classes[POOL_NUM_CLASSES];

    /* large (system allocator) blocks currently live */
    uint64_t large_allocations;
    uint64_t large_bytes;           /* usable bytes of those blocks */
    uint64_t large_mallocs;         /* cumulative */
    uint64_t large_bytes_total;     /* cumulative requested bytes */
    uint64_t large_hist[POOL_LARGE_BUCKETS]; /* cumulative, by request size */

    pool_ops_t ops;

    /* giving memory back */
    uint64_t purges;                /* madvise calls */
    uint64_t purged_pools;          /* pools given back, cumulative */
    uint64_t purged_bytes;          /* bytes given back, cumulative */
    int64_t  purge_delay_ms;

    /* threads */
    uint64_t heaps;                 /* thread heaps ever created */
    uint64_t heaps_abandoned;       /* heaps whose thread exited, not yet adopted */
} pool_stats_t;

/* Fills *out. Returns 0. */
int pool_stats_get(pool_stats_t *out);



/* Arena map: one record per arena, in address order. Pool 0 of every arena
 * holds the headers of the other 63 (POOL_STATE_HEADER). A medium run shows
 * as its first pool (USED, with the run's class, used and blocks) followed
 * by POOL_STATE_SPAN pools. */
enum { POOL_STATE_UNTOUCHED = 0, POOL_STATE_USED = 1, POOL_STATE_EMPTY = 2,
       POOL_STATE_RETURNED = 3, POOL_STATE_HEADER = 4,
       /* a further pool of a run of several pools serving one block class
        * (the run's first pool is USED and carries class, used, blocks) */
       POOL_STATE_SPAN = 5,
       /* not usable: lost to arena alignment (CPython's unaligned arenas) */
       POOL_STATE_ALIGNMENT = 6 };
typedef struct {
    uint8_t  state;        /* POOL_STATE_* */
    uint8_t  size_class;   /* index into pool_stats_t.classes (USED and SPAN);
                              block size pool_class_size(size_class) */
    uint16_t used;         /* allocated blocks (USED pools) */
    uint16_t blocks;       /* blocks per pool or run of that class (USED pools) */
} pool_pool_info_t;
typedef struct {
    uintptr_t address;
    uint32_t  free_pools;  /* empty + returned + untouched */
    pool_pool_info_t pools[POOL_POOLS_PER_ARENA];
} pool_arena_info_t;

/* Copies at most max arena records, skipping the first `skip`, into out.
 * Returns the total number of arenas (which may exceed what was copied). */
size_t pool_arena_map(pool_arena_info_t *out, size_t max, size_t skip);

/* Human-readable report, laid out like CPython's sys._debugmallocstats(),
 * written to fd with write(2) (no allocation). POOLMALLOCSTATS=1 prints it
 * to stderr at exit. */
void pool_stats_print(int fd);
/* The same report for a given snapshot, into buf (always NUL-terminated).
 * Returns the length the full report needs. */
size_t pool_stats_format(const pool_stats_t *st, char *buf, size_t len);

/* ---------------------------------------------------------------------------
 * Domains and pluggable allocators (PEP 445).
 * ------------------------------------------------------------------------- */

typedef enum {
    POOL_DOMAIN_RAW = 0,   /* always thread-safe; defaults to the system malloc */
    POOL_DOMAIN_MEM = 1,   /* general buffers; defaults to the pool allocator */
    POOL_DOMAIN_OBJ = 2    /* objects; defaults to the pool allocator */
} pool_domain_t;
#define POOL_NUM_DOMAINS 3

typedef struct {
    void  *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void  (*free)(void *ctx, void *ptr);
} pool_allocator_t;

/* Domain entry points. As in CPython: malloc(0) and realloc(p, 0) return a
 * distinct non-NULL pointer; sizes above PTRDIFF_MAX fail with NULL; a block
 * must be freed through the domain that allocated it. */
void *pool_raw_malloc(size_t size);
void *pool_raw_calloc(size_t nelem, size_t elsize);
void *pool_raw_realloc(void *ptr, size_t size);
void  pool_raw_free(void *ptr);
void *pool_mem_malloc(size_t size);
void *pool_mem_calloc(size_t nelem, size_t elsize);
void *pool_mem_realloc(void *ptr, size_t size);
void  pool_mem_free(void *ptr);
void *pool_obj_malloc(size_t size);
void *pool_obj_calloc(size_t nelem, size_t elsize);
void *pool_obj_realloc(void *ptr, size_t size);
void  pool_obj_free(void *ptr);

/* Read / replace a domain's allocator. pool_set_allocator returns 0, or -1
 * (errno EINVAL) for an unknown domain or a struct with a NULL function. */
int  pool_get_allocator(pool_domain_t domain, pool_allocator_t *out);
int  pool_set_allocator(pool_domain_t domain, const pool_allocator_t *alloc);

/* Wrap every domain's current allocator in the debug hooks (idempotent). */
void pool_setup_debug_hooks(void);

/* Install a named configuration, as POOLMALLOC does at start-up:
 * "pymalloc" (default), "malloc", "debug", "pymalloc_debug", "malloc_debug".
 * Returns 0, or -1 (errno EINVAL) for an unknown name. */
int  pool_setup_allocators(const char *name);
/* Name of the configuration in force ("pymalloc", ..., or "custom"). */
const char *pool_allocators_name(void);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif /* POOLALLOC_H */
