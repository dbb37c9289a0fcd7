/* Shared pieces of the workloads: random numbers, size mixes, the content
 * pattern every block carries, timing, RSS, and the result line.
 * Include "balloc.h" before this header. */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- parameters (from the command line) --------------------------------- */
typedef struct {
    double scale;      /* multiplies every operation count (quick mode < 1) */
    long   idle_ms;    /* the fragmentation workload's idle wait */
} bench_opts_t;
extern bench_opts_t bench_opts;

/* An operation count scaled by bench_opts.scale, at least `floor`. */
uint64_t scaled(uint64_t n, uint64_t floor);

/* ---- random numbers: splitmix64, one state per thread -------------------- */
typedef struct { uint64_t s; } rng_t;

static inline uint64_t rng_next(rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) without a division. */
static inline uint32_t rng_below(rng_t *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) & 0xffffffffu) * (uint64_t)n) >> 32);
}

/* ---- size mixes ----------------------------------------------------------- */
/* A table of sizes drawn once from a distribution; a workload picks entries
 * with its own random numbers, so drawing a size costs one load. */
#define SIZE_TABLE_LEN 4096
typedef struct { uint32_t size[SIZE_TABLE_LEN]; } size_mix_t;

/* Python-like objects: mostly 16..64 bytes, a tail up to 512. */
void size_mix_python(size_mix_t *m);
/* Uniform sizes in [lo, hi]. */
void size_mix_uniform(size_mix_t *m, uint32_t lo, uint32_t hi);
/* Sizes in [lo, hi], each power-of-two band [lo*2^k, lo*2^(k+1)) as likely
 * as the next (uniform inside a band): as many requests of 1-2 KiB as of
 * 32-64 KiB, as programs that use a wide range of sizes make them. */
void size_mix_log(size_mix_t *m, uint32_t lo, uint32_t hi);

static inline uint32_t size_pick(const size_mix_t *m, rng_t *r)
{
    return m->size[rng_next(r) >> (64 - 12)];
}

/* ---- block contents ------------------------------------------------------- */
/* Every block is filled with words derived from its index when it is
 * allocated, and checked word by word before it is freed. A block that an
 * allocator handed out twice, or overlapped with another, fails the check
 * and the run aborts: a broken allocator cannot win. Sizes are in bytes;
 * a trailing partial word is checked byte by byte. */
static inline uint64_t pattern_word(uint64_t index, size_t word)
{
    return (index * 0x9e3779b97f4a7c15ULL) ^ (word * 0xd6e8feb86659fd93ULL) ^ 0xa5a5a5a5a5a5a5a5ULL;
}

void pattern_mismatch(const void *p, uint64_t index, size_t size, size_t off)
    __attribute__((noreturn, cold));

/* Blocks checked by this thread; a thread adds its count to the run's total
 * with checks_flush() before it ends (report() does it for the main one). */
extern _Thread_local uint64_t bench_checks;
void checks_flush(void);

static inline void pattern_fill_range(void *p, uint64_t index, size_t from, size_t to)
{
    uint64_t *w = p;
    size_t i = from / 8, nw = to / 8;
    for (; i < nw; i++)
        w[i] = pattern_word(index, i);
    if (to % 8) {
        uint64_t last = pattern_word(index, nw);
        unsigned char *b = (unsigned char *)p + nw * 8;
        for (size_t k = 0; k < to % 8; k++)
            b[k] = (unsigned char)(last >> (8 * k));
    }
}

static inline void pattern_fill(void *p, uint64_t index, size_t size)
{
    pattern_fill_range(p, index, 0, size);
}

/* Checks the word at byte offset off (a multiple of 8, below size & ~7). */
static inline void pattern_check_word(const void *p, uint64_t index, size_t size, size_t off)
{
    if (((const uint64_t *)p)[off / 8] != pattern_word(index, off / 8))
        pattern_mismatch(p, index, size, off);
}

static inline void pattern_check(const void *p, uint64_t index, size_t size)
{
    const uint64_t *w = p;
    size_t nw = size / 8;
    uint64_t bad = 0;
    for (size_t i = 0; i < nw; i++)
        bad |= w[i] ^ pattern_word(index, i);
    if (size % 8) {
        uint64_t last = pattern_word(index, nw);
        const unsigned char *b = (const unsigned char *)p + nw * 8;
        for (size_t k = 0; k < size % 8; k++)
            bad |= (uint64_t)(b[k] ^ (unsigned char)(last >> (8 * k)));
    }
    if (bad)
        pattern_mismatch(p, index, size, 0);
    bench_checks++;
}

/* ---- the allocator, with the checks around it ------------------------------ */
/* A live block as the workloads keep it (in harness memory, not in the
 * allocator under test). */
typedef struct {
    void    *p;
    uint32_t size;
    uint32_t pad;
    uint64_t index;
} slot_t;

void oom(size_t size) __attribute__((noreturn, cold));

static inline void slot_alloc(slot_t *s, uint64_t index, uint32_t size)
{
    void *p = b_malloc(size);
    if (!p)
        oom(size);
    pattern_fill(p, index, size);
    s->p = p;
    s->size = size;
    s->index = index;
}

static inline void slot_free(slot_t *s)
{
    pattern_check(s->p, s->index, s->size);
    b_free(s->p);
    s->p = NULL;
}

/* pthread_create, or abort with the reason. */
void spawn(pthread_t *t, void *(*fn)(void *), void *arg);
/* fn on each of the n records at args (arg_size bytes apart), a thread
 * each, and back when all have ended. */
void run_threads(unsigned n, void *(*fn)(void *), void *args, size_t arg_size);

/* ---- harness memory: mmap, never the allocator under test ------------------- */
void *harness_alloc(size_t bytes);
void  harness_free(void *p, size_t bytes);

/* ---- time and memory -------------------------------------------------------- */
uint64_t now_ns(void);
uint64_t rss_kb(void);        /* VmRSS now */
uint64_t rss_peak_kb(void);   /* VmHWM */
void sleep_ms(long ms);

/* ---- results -------------------------------------------------------------- */
/* One "RESULT key=value ..." line on stdout; the driver parses it. `extra`
 * is appended as is (more key=value pairs, or ""). */
void report(const char *workload, const char *variant, uint64_t ns, uint64_t ops,
            uint64_t rss_start, const char *extra);

/* ---- the workloads ---------------------------------------------------------- */
typedef struct {
    const char *name;
    int threads;                 /* needs more than one thread */
    void (*run)(void);           /* NULL: not in this binary */
} workload_t;

void work_churn(void);
void work_churn2t(void);
void work_lifo(void);
void work_lifo4k(void);
void work_xthread(void);
void work_larson(void);
void work_rptest(void);
void work_medium(void);
void work_large(void);
void work_realloc(void);
void work_frag(void);
void work_stats(void);

#endif /* BENCH_BENCH_H */
