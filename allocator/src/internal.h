/*
 * The allocator's design, beside the structures it explains (docs/allocator.md
 * says the same for readers of the documentation).
 *
 * Size classes. Requests of 1..512 bytes are rounded up to one of 32 classes
 * of 16 bytes (pymalloc's), 513 B..256 KiB to one of 36 medium classes, four
 * per doubling, served from runs of 1..16 pools (the medium tier, below);
 * larger and 0-byte requests go to the system allocator (sys.c, large.c).
 * Each class is served from pools holding blocks of that size only.
 *
 * Fast path. malloc pops the free list of the calling thread's current pool
 * for the class; free of a block the thread owns pushes it back. Neither takes
 * a lock nor touches a shared counter. In front of the pools, each heap keeps
 * up to 8 KiB of blocks per small class (at least 64; 32 KiB and at least one
 * per medium class) that it freed last and hands
 * those out first: a block freed a moment ago is still in the CPU's caches,
 * and a free/malloc pair then touches no pool header at all.
 *
 * Is it ours? Arenas are cut from one 16 GiB range of address space reserved
 * at start-up (no access, no commit charge: it shows in VSZ, not RSS), so
 * free() tells our blocks from the system allocator's with one shift and
 * compare, without reading the block. Arenas beyond the range, or all of them
 * when RLIMIT_AS is set and nothing could be reserved, are found through one
 * bit per possible 1 MiB arena.
 *
 * Giving memory back. Arenas with free pools are kept sorted by how many they
 * have and pools are taken from the fullest first (pymalloc's order, re-sorted
 * in O(1)), so nearly empty arenas drain. An empty pool returns to its arena;
 * one that stays empty for the purge delay (100 ms by default) has its pages
 * given back with madvise(MADV_DONTNEED); an arena whose pools are all empty
 * is unmapped, one kept as a spare.
 *
 * Statistics. pool_stats_get() walks every arena under the arena lock (only
 * pool hand-overs contend for it) and reads each pool header once, so the
 * byte breakdown (allocated blocks, free blocks, empty / untouched / returned
 * pools, headers, quantization, alignment) sums exactly to arenas x 1 MiB in
 * every snapshot. Operation counts are per-thread counters the reader sums.
 */
/*
 * Internal definitions shared by the allocator's modules.
 *
 * The picture (compare CPython's Objects/obmalloc.c):
 *
 *   arena  1 MiB, aligned to 1 MiB, cut into 64 pools of 16 KiB. Pool 0 holds
 *          the headers of pools 1..63, packed: a 64-byte line each that the
 *          owning thread uses, then a 64-byte line each that other threads
 *          write (remote frees).
 *   pool   16 KiB of equal blocks of one small size class (16..512 bytes).
 *   run    2..16 contiguous pools of one arena serving one medium class
 *          (640 B .. 256 KiB); a medium class of up to 2 KiB uses runs of
 *          one pool, which are plain pools.
 *   heap   one per thread; owns pools and runs and allocates from them
 *          without locks.
 *
 * Why not the header at the start of each pool, as pymalloc does: headers at
 * 16 KiB strides all fall into the same few cache sets, so only a handful
 * stay cached and nearly every free misses on one. Packed, the headers of
 * the whole heap share a few kilobytes of cache.
 *
 * A block's pool header is found by arithmetic on its address; whether an
 * address is ours at all is one compare against the arena region (or a bit
 * in arena_map), so free() never reads memory it does not own.
 *
 * The medium tier. Above pymalloc's 512 bytes the classes are spaced four
 * per doubling (640, 768, 896, 1024, 1280, ..., 229376, 262144: 36 classes),
 * so a request wastes less than 20% of its block. A medium class is served
 * by runs: the fewest contiguous pools that hold at least 8 blocks with at
 * most 1/16 of the run lost to quantization, at most 16 pools (256 KiB); the
 * classes above 32 KiB, which cannot have 8 blocks in 16 pools, get the run
 * of at most 16 pools holding the most blocks within that loss. The table
 * is built at start-up (classes.c).
 *
 * A run is one pool as far as every list, counter and protocol goes: its
 * header is the header of its first pool, which holds the free list, the
 * bump pointer, the used count and the remote-free word for the whole run.
 * Each further pool of the run (POOL_STATE_SPAN in the arena map) has a
 * header too, holding copies of the run's owner and class (all a free needs
 * to put a block in the thread's cache) and `span`, how many pools back the
 * run's first pool is; a free that goes past the cache, or comes from
 * another thread, finds the run's header with that one byte (a plain
 * pool's span is 0). Like mimalloc's slice offset, but read only off the
 * common path. The same heap
 * caches, the same lock-free fast paths, the same cross-thread protocol,
 * the same purge delay (every pool of an empty run is an empty pool again),
 * the same path back to the arena and from there to the OS serve both tiers.
 *
 * Against the others. mimalloc cuts 4 MiB segments into 64 KiB slices and
 * makes a "page" of one size class from 1 (small) up to 8 slices (medium,
 * 512 KiB), found from a block by the segment's address and a per-slice
 * offset back to the page's first slice: the same arithmetic as ours, at a
 * coarser grain. jemalloc serves classes up to 14 KiB from slabs (a few
 * pages each, a bitmap per slab) and larger ones as page-run extents from
 * a tree, one allocation per extent. Runs of our own 16 KiB pools inside the
 * 1 MiB arenas keep one arena kind, one header layout and one address
 * lookup for the whole range; a free list (not a bitmap) keeps the medium
 * fast path identical to the small one; and up to 256 KiB every class keeps
 * several blocks per run where it can, so medium churn is a free-list pop,
 * not a trip to the arena as jemalloc's large extents are. The price: runs
 * need contiguous free pools, so an arena fragmented by small pools may
 * not hold a long run (a new arena is mapped then), and a run, like a pool,
 * goes back to its arena only when every block in it is free.
 *
 * Threads: a pool belongs to one heap. The owner pops and pushes blocks on the
 * pool's plain free list. Any other thread pushes onto the pool's atomic
 * `xfree` list with one CAS; the owner takes that whole list with one exchange
 * when it runs dry. A full pool is off its heap's lists; the first remote free
 * into it moves it onto the heap's atomic `delayed` list so the owner finds it
 * again. Heaps are never destroyed: a dead thread's heap is adopted by the
 * next new thread.
 *
 * Arenas and their free pools are global, under arena_lock (slow path only).
 */
#ifndef POOL_INTERNAL_H
#define POOL_INTERNAL_H

#include "poolalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define INTERNAL    __attribute__((visibility("hidden")))
#define NOINLINE    __attribute__((noinline))

#define ALIGN_SHIFT     4
#define POOL_SHIFT      14
#define ARENA_SHIFT     20
#define NCLASSES        POOL_NUM_CLASSES
#define POOLS_PER_ARENA POOL_POOLS_PER_ARENA   /* including pool 0, the headers */
#define USABLE_POOLS    (POOLS_PER_ARENA - 1)
#define LINE            64
#define REMOTE_OFFSET   (POOLS_PER_ARENA * LINE)   /* remote lines follow the owner lines */
#define PAGE_SIZE_      4096

/* Addresses below 2^47 (the x86-64 / arm64 user half without 5-level hints). */
#define ADDR_BITS       47
#define MAP_BITS        (ADDR_BITS - ARENA_SHIFT)
#define MAP_WORDS       ((size_t)1 << (MAP_BITS - 6))

#define NSMALL          POOL_NUM_SMALL_CLASSES
#define MAX_RUN_POOLS   16

/* ---- classes.c: the size classes ------------------------------------------ */
typedef struct {
    uint32_t size;      /* block size */
    uint16_t blocks;    /* blocks per pool or run */
    uint8_t  pools;     /* pools per run (1: a plain pool) */
} class_info_t;
INTERNAL extern class_info_t pool_classes[NCLASSES];
/* The largest request the pools serve: set once at start-up, read by any
 * thread's malloc (relaxed: a plain load). */
INTERNAL extern _Atomic size_t pool_threshold;
static inline size_t threshold(void)
{
    return atomic_load_explicit(&pool_threshold, memory_order_relaxed);
}
INTERNAL void   classes_init(void);
INTERNAL bool   classes_set_threshold(size_t n);

static inline size_t class_size(unsigned c) { return pool_classes[c].size; }
static inline unsigned class_blocks(unsigned c) { return pool_classes[c].blocks; }
static inline unsigned class_pools(unsigned c) { return pool_classes[c].pools; }

/* The medium class of a request of 513..262144 bytes: the doubling it falls
 * in (by its highest bit) and which quarter of it. */
static inline size_t medium_class(size_t n)
{
    size_t m = n - 1;
    unsigned e = 63u - (unsigned)__builtin_clzl(m);     /* 9 .. 17 */
    return NSMALL + (size_t)(e - 9) * 4 + ((m >> (e - 2)) & 3);
}

/* Any request's class; NCLASSES for what the pools do not serve (n == 0
 * wraps to a huge request). */
static inline size_t class_of(size_t n)
{
    size_t c = (n - 1) >> ALIGN_SHIFT;
    if (likely(c < NSMALL))
        return c;
    return n - 1 < threshold() ? medium_class(n) : NCLASSES;
}

#define RELAXED_LOAD(obj) atomic_load_explicit((obj), memory_order_relaxed)

/* Owner-only counters: one thread writes, any thread may read (with
 * LOAD_COUNTER). On x86-64 the write is one add to memory without a lock
 * prefix, which readers see whole; elsewhere, and under ThreadSanitizer
 * (which must see the accesses), a relaxed atomic load and store. */
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define OWNER_ASM 1
#endif
#define LOAD_COUNTER(c) __atomic_load_n((c), __ATOMIC_RELAXED)

static inline void owner_add64(uint64_t *c, uint64_t v)
{
#ifdef OWNER_ASM
    __asm__ volatile("addq %1, %0" : "+m"(*c) : "er"(v));
#else
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
#endif
}

static inline void owner_add32(uint32_t *c, uint32_t v)
{
#ifdef OWNER_ASM
    __asm__ volatile("addl %1, %0" : "+m"(*c) : "ir"(v));
#else
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
#endif
}

/* Decrement; returns the new value. */
static inline uint32_t owner_dec32(uint32_t *c)
{
    uint32_t v = __atomic_load_n(c, __ATOMIC_RELAXED) - 1;
    __atomic_store_n(c, v, __ATOMIC_RELAXED);
    return v;
}

typedef struct block { struct block *next; } block_t;
typedef struct heap heap_t;
typedef struct arena arena_t;

/* A pool's (or run's) header, the owner's line (in the arena's pool 0). The
 * further pools of a run use only `span`, `heap` and `cls` (copies of the
 * run's, stable while the run serves its class, so a free whose block goes
 * to the heap's cache needs no more than the line of its own pool). */
typedef struct pool {
    block_t        *free;       /* owner's free list */
    heap_t         *heap;       /* owner; changes only while the pool is empty */
    char           *bump;       /* next never-carved block */
    char           *end;        /* end of the last whole block */
    struct pool    *next, *prev;/* heap class list */
    uint32_t        used;       /* blocks handed out, including those in xfree (owner-only) */
    uint32_t        bsize;
    uint16_t        nblocks;
    uint16_t        relink_at;  /* a local free leaving used <= this takes the slow path */
    uint8_t         cls;
    uint8_t         listed;     /* on its heap's class list */
    uint8_t         full_marked;/* owner set FULL in xfree and no drain has seen it since */
    uint8_t         span;       /* pools back to the run's first pool (0: it is the first) */
} pool_t;

/* The line other threads write, REMOTE_OFFSET bytes after the owner's line.
 * xfree: bits 0-15 head offset / 16 + 1 (0 = empty), bit 16 FULL, bits 32-63
 * number of blocks in the list. */
typedef struct {
    _Atomic uint64_t xfree;
    pool_t *_Atomic delayed_next;
    arena_t        *arena;
    char            pad[LINE - 24];
} pool_remote_t;

_Static_assert(sizeof(pool_t) == LINE, "a pool header is one cache line");
_Static_assert(sizeof(pool_remote_t) == LINE, "a remote line is one cache line");
_Static_assert(2 * REMOTE_OFFSET <= POOL_POOL_SIZE, "the headers fit in pool 0");

#define XFREE_FULL   ((uint64_t)1 << 16)
#define XFREE_COUNT(x) ((uint32_t)((x) >> 32))

/* What a heap keeps per size class; the fast paths touch this one line.
 *
 * `cache` holds blocks this thread freed, newest first, up to cache_max
 * (further frees go to their pools): malloc takes from it before the pool,
 * so a block just freed (still in the CPU's caches) is the next one handed
 * out, and a free/malloc pair touches no pool header. The blocks still
 * count as used in their pools; the statistics move them to the free side. */
#define CACHE_BYTES 8192u               /* per small class (see cache_blocks()) */
#define MEDIUM_CACHE_BYTES 32768u       /* per medium class */
typedef struct {
    pool_t  *cur;                       /* head of the class list (or the sentinel) */
    block_t *cache;
    uint32_t ncache;                    /* blocks in cache (owner-only counter) */
    uint32_t cache_max;                 /* see cache_blocks() in heap.c */
    uint64_t nmalloc, nfree;            /* statistics (owner-only counters) */
    pool_t  *tail;
} __attribute__((aligned(64))) heap_class_t;

struct heap {
    heap_class_t cls[NCLASSES];
    pool_t *_Atomic delayed;            /* full pools that got remote frees */

    /* more statistics (owner-only counters); large_live* of one heap may
     * wrap below zero (blocks freed by other threads) but the sum is right */
    uint64_t large_live, large_live_bytes;
    uint64_t large_mallocs, large_frees, large_bytes_total;
    uint64_t large_hist[POOL_LARGE_BUCKETS];
    uint64_t calloc_calls, realloc_calls, realloc_inplace, aligned_calls;
    uint64_t remote_frees, failed;

    _Atomic int      state;             /* HEAP_OWNED / HEAP_ABANDONED / HEAP_BUSY */
    bool             shared;            /* counters written by many threads */
    heap_t          *all_next;          /* registry of every heap ever made */
};

enum { HEAP_OWNED = 0, HEAP_ABANDONED = 1, HEAP_BUSY = 2 };

/* ---- arena.c (the arena map and the arenas) ------------------------------ */
extern _Atomic uint64_t pool_arena_map_bits[MAP_WORDS] INTERNAL;

static inline bool arena_map_contains(const void *p)
{
    uintptr_t k = (uintptr_t)p >> ARENA_SHIFT;
    if (unlikely(k >= ((uintptr_t)1 << MAP_BITS)))
        return false;
    uint64_t w = RELAXED_LOAD(&pool_arena_map_bits[k >> 6]);
    return (w >> (k & 63)) & 1;
}

/* The arena region: address space reserved at start-up (16 GiB, aligned to
 * its size) that arenas are cut from, so that "is this block ours?" is one
 * shift and compare. Arenas beyond it (or when it could not be reserved)
 * are found through arena_map. */
#define REGION_SHIFT 34
extern uintptr_t pool_region_tag INTERNAL;   /* region address >> REGION_SHIFT */

static inline bool is_ours(const void *p)
{
    if (likely(((uintptr_t)p >> REGION_SHIFT) == pool_region_tag))
        return true;
    return arena_map_contains(p);
}

/* The header of the pool holding block p: the arena's start, plus 64 bytes
 * times the pool's number. */
static inline pool_t *pool_line_of(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    return (pool_t *)((a & ~(uintptr_t)(POOL_ARENA_SIZE - 1)) |
                      ((a >> (POOL_SHIFT - 6)) & ((uintptr_t)(POOLS_PER_ARENA - 1) << 6)));
}

/* The header of the pool or run holding block p: a pool inside a run
 * points back to the run's first pool. */
static inline pool_t *pool_of(const void *p)
{
    pool_t *line = pool_line_of(p);
    return line - line->span;
}

static inline pool_t *pool_header(char *arena_base, unsigned index)
{
    return (pool_t *)(arena_base + (size_t)index * LINE);
}

static inline pool_remote_t *pool_remote(const pool_t *p)
{
    return (pool_remote_t *)((char *)p + REMOTE_OFFSET);
}

static inline unsigned pool_index(const pool_t *p)
{
    return (unsigned)((uintptr_t)p >> 6) & (POOLS_PER_ARENA - 1);
}

/* Where p's blocks are. */
static inline char *pool_base(const pool_t *p)
{
    uintptr_t h = (uintptr_t)p;
    return (char *)((h & ~(uintptr_t)(POOL_ARENA_SIZE - 1)) + (size_t)pool_index(p) * POOL_POOL_SIZE);
}

struct arena {
    char     *base;
    uint16_t  nfree;          /* pools not serving a class */
    uint64_t  free_mask;      /* bit i: pool i serves no class (empty, returned, untouched) */
    uint64_t  empty_mask;     /* bit i: pool i is empty and still resident */
    uint8_t   state[POOLS_PER_ARENA];      /* POOL_STATE_* */
    uint8_t   cls[POOLS_PER_ARENA];
    uint32_t  empty_since[POOLS_PER_ARENA];/* ms clock when it became empty */
    arena_t  *next, *prev;    /* usable list, ascending nfree */
    arena_t  *all_next, *all_prev; /* every live arena, by address */
};

INTERNAL extern pthread_mutex_t pool_arena_lock;
INTERNAL pool_t *arena_pool_acquire(heap_t *h, unsigned cls);
INTERNAL void    arena_pool_release(pool_t *p);
INTERNAL size_t  arena_purge_locked(bool force);
INTERNAL void    arena_stats_locked(pool_stats_t *st);
INTERNAL size_t  arena_map_locked(pool_arena_info_t *out, size_t max, size_t skip);
INTERNAL long    arena_set_purge_delay(long ms);
INTERNAL long    arena_purge_delay(void);

/* ---- pool.c ---------------------------------------------------------------- */
INTERNAL void  pool_init(pool_t *p, heap_t *h, unsigned cls);
INTERNAL void *pool_malloc_slow(heap_t *h, unsigned cls);
INTERNAL void *heap_pop(heap_t *h, unsigned cls);   /* a block from h's pools, or NULL */
INTERNAL void  pool_free_slow(heap_t *h, pool_t *p);
INTERNAL void  heap_cache_flush(heap_t *h, heap_class_t *hc);
INTERNAL void  pool_free_remote(pool_t *p, block_t *b);
INTERNAL void  heap_collect_all(heap_t *h);

/* ---- heap.c ---------------------------------------------------------------- */
INTERNAL extern heap_t pool_heap_empty;   /* sentinel: every class's cur is the empty pool */
INTERNAL extern pool_t pool_pool_empty;
INTERNAL void    heap_setup(void);         /* once, from pool_ensure_init */
INTERNAL heap_t *heap_get(void);          /* this thread's real heap, made on demand */
INTERNAL heap_t *heap_for_stats_slow(void);
INTERNAL void   *heap_exit_malloc(unsigned cls);   /* for threads past their heap's exit */
INTERNAL bool    heap_thread_exiting(void);
INTERNAL void    heap_sum_stats(pool_stats_t *st);
INTERNAL void    heap_sweep_abandoned(void);   /* rate-limited */
INTERNAL void    heap_sweep_all(void);
INTERNAL void    heaps_atfork_prepare(void);
INTERNAL void    heaps_atfork_parent(void);
INTERNAL void    heaps_atfork_child(void);

extern __thread heap_t *pool_tls_heap INTERNAL __attribute__((tls_model("initial-exec")));

/* Count on a heap from a slow path: a plain store on the thread's own heap,
 * an atomic add on the shared fallback heap. */
static inline void heap_count(heap_t *h, uint64_t *counter, uint64_t v)
{
    if (unlikely(h->shared))
        __atomic_fetch_add(counter, v, __ATOMIC_RELAXED);
    else
        owner_add64(counter, v);
}

/* A heap to count on: the thread's own, or (threads without one) a real
 * heap made now or the shared fallback heap. */
static inline heap_t *heap_for_stats(void)
{
    heap_t *h = pool_tls_heap;
    return likely(h != &pool_heap_empty) ? h : heap_for_stats_slow();
}

/* Count one event on the calling thread's heap (slow paths only). */
#define COUNT(field, v)                                  \
    do {                                                 \
        heap_t *count_h_ = heap_for_stats();             \
        heap_count(count_h_, &count_h_->field, (v));     \
    } while (0)

/* ---- alloc.c ------------------------------------------------------------------ */
/* A realloc that reads a clock at the moment its result is valid for
 * ordering (see realloc_move); *when is left alone when nothing moves. */
typedef struct {
    uint64_t (*now)(void);
    uint64_t *when;
} realloc_clock_t;
INTERNAL void *pool_realloc_clocked(void *ptr, size_t size, const realloc_clock_t *c);
INTERNAL int posix_memalign_via(void **memptr, size_t alignment, size_t size,
                                void *(*aligned)(size_t, size_t));

/* ---- large.c ----------------------------------------------------------------- */
INTERNAL void  *large_malloc(size_t n);
INTERNAL void  *large_calloc(size_t n);
INTERNAL void  *large_memalign(size_t align, size_t n);
INTERNAL void  *large_realloc(void *p, size_t n);
INTERNAL void   large_free(void *p);
INTERNAL size_t large_usable_size(const void *p);

/* ---- sys.c: the system allocator (glibc's own entry points in the shim) ----- */
INTERNAL void  *sys_malloc(size_t n);
INTERNAL void  *sys_calloc(size_t n, size_t m);
INTERNAL void  *sys_realloc(void *p, size_t n);
INTERNAL void  *sys_memalign(size_t align, size_t n);
INTERNAL void   sys_free(void *p);
INTERNAL size_t sys_usable_size(void *p);
INTERNAL void   sys_tune(void);             /* glibc's thresholds for our large blocks */

/* ---- os.c ------------------------------------------------------------------- */
INTERNAL void     os_region_init(void);        /* reserve the arena region, if allowed */
INTERNAL void    *os_region_arena(size_t slot); /* map arena number `slot` of the region */
INTERNAL void     os_region_release(void *p);   /* give a region arena back, keep the reservation */
INTERNAL size_t   os_region_slots(void);        /* arenas the region holds (0: none) */
INTERNAL void    *os_map_arena(void);           /* 1 MiB, 1 MiB-aligned, or NULL */
INTERNAL void     os_unmap(void *p, size_t n);
INTERNAL int      os_purge(void *p, size_t n);  /* give pages back, keep the mapping */
INTERNAL void    *os_meta_alloc(size_t n);      /* zeroed metadata, never freed */
INTERNAL uint32_t os_now_ms(void);              /* coarse monotonic clock */
INTERNAL extern pthread_mutex_t pool_meta_lock;

/* ---- domains.c ------------------------------------------------------------- */
/* Without POOLMALLOC, a debug build (make debug) wraps the pool allocator in
 * the debug hooks, as CPython's debug builds do. */
#ifdef POOL_DEBUG_BUILD
#define POOL_DEBUG_DEFAULT 1
#else
#define POOL_DEBUG_DEFAULT 0
#endif
INTERNAL void domains_init(void);   /* apply POOLMALLOC; must not allocate */
INTERNAL extern pthread_mutex_t pool_debug_lock;   /* the debug quarantine */

/* ---- init.c ----------------------------------------------------------------- */
INTERNAL void pool_ensure_init(void);
INTERNAL void pool_report_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* POOL_INTERNAL_H */
