/* The debug hooks: each class of error, triggered in a child process, must
 * kill it with SIGABRT and a report on stderr naming the problem, the
 * block's address and its size. And no false alarm on clean use. */
#include "child.h"
#include "known_bugs.h"
#include "poolalloc.h"
#include "tap.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

/* The child says which block it is about to break, then breaks it. */
static unsigned char *target(unsigned char *p, size_t n)
{
    fprintf(stderr, "target=%p size=%zu\n", (void *)p, n);
    return p;
}

static void debug_on(void)
{
    if (pool_setup_allocators("debug") != 0)
        _exit(3);
}

static void overflow_mem(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = target(pool_mem_malloc(24), 24);
    p[24] = 'x';
    pool_mem_free(p);
}

static void overflow_last_guard_obj(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = target(pool_obj_malloc(100), 100);
    p[100 + 7] = 0;
    pool_obj_free(p);
}

static void overflow_raw(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = target(pool_raw_malloc(33), 33);
    p[33] = 0;
    pool_raw_free(p);
}

static void overflow_large(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = target(pool_mem_malloc(100000), 100000);
    memset(p, 1, 100001);
    pool_mem_free(p);
}

static void overflow_then_realloc(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = target(pool_mem_malloc(40), 40);
    p[41] = 0;
    pool_mem_realloc(p, 400);
}

static void overflow_malloc_debug(void *arg)
{
    (void)arg;
    if (pool_setup_allocators("malloc_debug") != 0)
        _exit(3);
    unsigned char *p = target(pool_mem_malloc(64), 64);
    p[64] = 0;
    pool_mem_free(p);
}

static void overflow_setup_hooks(void *arg)
{
    (void)arg;
    pool_setup_debug_hooks();
    unsigned char *p = target(pool_obj_malloc(8), 8);
    p[8] = 0;
    pool_obj_free(p);
}

static void underflow_mem(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = target(pool_mem_malloc(24), 24);
    p[-1] = 'x';
    pool_mem_free(p);
}

static void underflow_calloc(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = target(pool_obj_calloc(6, 8), 48);
    p[-7] = 0;
    pool_obj_free(p);
}

static void double_free_mem(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = target(pool_mem_malloc(24), 24);
    pool_mem_free(p);
    pool_mem_free(p);
}

static void double_free_realloc(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = target(pool_obj_malloc(72), 72);
    pool_obj_free(p);
    pool_obj_realloc(p, 10);
}

static void wrong_domain_mem_obj(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = target(pool_mem_malloc(24), 24);
    pool_obj_free(p);
}

static void wrong_domain_obj_raw(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = target(pool_obj_malloc(56), 56);
    pool_raw_free(p);
}

static void wrong_domain_raw_mem(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = target(pool_raw_malloc(56), 56);
    pool_mem_free(p);
}

/* The quarantine holds 4096 blocks: 5000 later frees push the block out,
 * and its bytes are checked as it leaves. */
static void write_after_free_slots(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = target(pool_obj_malloc(40), 40);
    pool_obj_free(p);
    p[5] = 1;
    for (int i = 0; i < 5000; i++)
        pool_obj_free(pool_obj_malloc(16));
}

/* ... and at most 16 MiB: two 9 MiB frees push it out. */
static void write_after_free_bytes(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = target(pool_mem_malloc(300), 300);
    pool_mem_free(p);
    p[299] = 0;
    for (int i = 0; i < 2; i++)
        pool_mem_free(pool_mem_malloc(9u << 20));
}

/* Freed, pushed out of the quarantine (back to the pools, whose free list
 * now runs through its header), then freed again. */
static void double_free_after_quarantine(void *arg)
{
    (void)arg;
    debug_on();
    void *others[8];
    for (int i = 0; i < 8; i++)
        others[i] = pool_mem_malloc(24);
    unsigned char *p = target(pool_mem_malloc(24), 24);
    for (int i = 0; i < 8; i++)
        pool_mem_free(others[i]);
    pool_mem_free(p);
    for (int i = 0; i < 5000; i++)
        pool_mem_free(pool_mem_malloc(100));
    pool_mem_free(p);
}

typedef struct {
    const char *name;
    void (*fn)(void *);
    const char *problem;     /* must appear in the report */
    const char *detail;      /* and this too, when not NULL */
    const char *bug;         /* a known allocator bug makes the checks SKIP */
    bool size_lost;          /* the block's size may be gone: only its address */
} abort_case_t;

static const abort_case_t cases[] = {
    { "overflow, mem domain", overflow_mem, "buffer overflow", "guard bytes after", NULL, false },
    { "overflow of the last guard byte, obj domain", overflow_last_guard_obj, "buffer overflow",
      NULL, NULL, false },
    { "overflow, raw domain", overflow_raw, "buffer overflow", NULL, NULL, false },
    { "overflow of a large block", overflow_large, "buffer overflow", NULL, NULL, false },
    { "overflow found by realloc", overflow_then_realloc, "buffer overflow", NULL, NULL, false },
    { "overflow under malloc_debug", overflow_malloc_debug, "buffer overflow", NULL, NULL, false },
    { "overflow after pool_setup_debug_hooks", overflow_setup_hooks, "buffer overflow", NULL,
      NULL, false },
    { "underflow, mem domain", underflow_mem, "buffer underflow", "guard bytes before", NULL, false },
    { "underflow of a calloc block", underflow_calloc, "buffer underflow", NULL, NULL, false },
    { "double free", double_free_mem, "double free", NULL, NULL, false },
    { "realloc of a freed block", double_free_realloc, "already freed", NULL, NULL, false },
    { "mem block freed through obj", wrong_domain_mem_obj, "wrong domain", "API 'm'", NULL, false },
    { "obj block freed through raw", wrong_domain_obj_raw, "wrong domain", "API 'o'", NULL, false },
    { "raw block freed through mem", wrong_domain_raw_mem, "wrong domain", "API 'r'", NULL, false },
    { "write after free (quarantine slots)", write_after_free_slots, "write after free",
      "offset 5", NULL, false },
    { "write after free (quarantine bytes)", write_after_free_bytes, "write after free",
      "offset 299", NULL, false },
    { "double free after the quarantine let go", double_free_after_quarantine, "double free",
      NULL, BUG_DOUBLE_FREE_AFTER_QUARANTINE, true },
};

/* OK, or KNOWN_BUG when the case hits a known allocator bug. */
__attribute__((format(printf, 3, 4)))
static bool check(const abort_case_t *t, bool cond, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (t->bug) {
        KNOWN_BUG(cond, t->bug, "%s", what);
        return true;
    }
    return OK(cond, "%s", what);
}

static void run_abort_case(const abort_case_t *t)
{
    child_t c;
    child_run(&c, t->fn, NULL);
    char addr[32] = "?", where[96];
    size_t size = 0;
    const char *s = strstr(c.out, "target=");
    if (s)
        sscanf(s, "target=%31s size=%zu", addr, &size);
    if (t->size_lost)
        snprintf(where, sizeof where, "block at %s", addr);
    else
        snprintf(where, sizeof where, "block at %s: %zu bytes", addr, size);
    bool ok = true;
    ok &= check(t, child_killed(&c, SIGABRT), "%s: the child dies by SIGABRT", t->name);
    ok &= check(t, strstr(c.out, t->problem) != NULL, "%s: the report says '%s'", t->name,
                t->problem);
    ok &= check(t, s && strstr(c.out, where) != NULL, "%s: the report names the block ('%s')",
                t->name, where);
    if (t->detail)
        ok &= check(t, strstr(c.out, t->detail) != NULL, "%s: the report shows '%s'", t->name,
                    t->detail);
    if (!ok)
        child_diag(&c);
}

/* ---- no false alarms ------------------------------------------------------ */

static void clean_use(void *arg)
{
    (void)arg;
    debug_on();
    void *(*mal[3])(size_t) = { pool_raw_malloc, pool_mem_malloc, pool_obj_malloc };
    void *(*cal[3])(size_t, size_t) = { pool_raw_calloc, pool_mem_calloc, pool_obj_calloc };
    void *(*rea[3])(void *, size_t) = { pool_raw_realloc, pool_mem_realloc, pool_obj_realloc };
    void (*fre[3])(void *) = { pool_raw_free, pool_mem_free, pool_obj_free };
    enum { SLOTS = 64 };
    unsigned char *slot[3][SLOTS] = { { 0 } };
    size_t len[3][SLOTS] = { { 0 } };
    unsigned x = 12345;
    for (int i = 0; i < 30000; i++) {
        x = x * 1103515245 + 12345;
        int d = (int)((x >> 8) % 3), k = (int)((x >> 12) % SLOTS);
        size_t n = (x >> 20) % 700;
        unsigned char *p = slot[d][k];
        if (p) {
            for (size_t j = 0; j < len[d][k]; j++)
                if (p[j] != (unsigned char)(k + j))
                    _exit(4);
        }
        switch ((x >> 4) % 4) {
        case 0:
            fre[d](p);
            p = mal[d](n);
            break;
        case 1:
            fre[d](p);
            p = cal[d](1, n);
            for (size_t j = 0; j < n; j++)
                if (p[j])
                    _exit(5);
            break;
        case 2:
            p = rea[d](p, n);
            break;
        default:
            fre[d](p);
            p = NULL;
            n = 0;
        }
        if (n && !p)
            _exit(6);
        for (size_t j = 0; j < n; j++)
            p[j] = (unsigned char)(k + j);
        slot[d][k] = p;
        len[d][k] = n;
    }
    for (int d = 0; d < 3; d++)
        for (int k = 0; k < SLOTS; k++)
            fre[d](slot[d][k]);
    printf("clean run done\n");
}

/* Fresh bytes are CLEANBYTE (0xCD), realloc's new tail too. */
static void fill_patterns(void *arg)
{
    (void)arg;
    debug_on();
    unsigned char *p = pool_mem_malloc(50);
    int fresh = 1;
    for (int i = 0; i < 50; i++)
        fresh &= p[i] == 0xCD;
    memset(p, 7, 50);
    p = pool_mem_realloc(p, 90);
    int kept = 1, tail = 1;
    for (int i = 0; i < 50; i++)
        kept &= p[i] == 7;
    for (int i = 50; i < 90; i++)
        tail &= p[i] == 0xCD;
    void *z = pool_mem_realloc(p, 0);
    printf("fresh=%d kept=%d tail=%d realloc0=%d\n", fresh, kept, tail, z != NULL);
    pool_mem_free(z);
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_abort_case(&cases[i]);

    child_t c;
    child_run(&c, clean_use, NULL);
    if (!OK(child_exited(&c, 0) && strstr(c.out, "clean run done") &&
            !strstr(c.out, "poolalloc debug"),
            "30000 valid operations in all three domains under the hooks: no report"))
        child_diag(&c);
    child_run(&c, fill_patterns, NULL);
    if (!OK(child_exited(&c, 0) && strstr(c.out, "fresh=1 kept=1 tail=1 realloc0=1"),
            "fresh bytes are 0xCD, realloc keeps the data and fills the new tail, "
            "realloc(p, 0) returns a block"))
        child_diag(&c);
    return tap_done();
}
