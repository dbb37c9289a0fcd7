/* The debug hooks: each class of error, triggered in a child process, must
 * kill it with SIGABRT and a report on stderr naming the problem, the
 * block's address and its size. And no false alarm on clean use. */
#include "child.h"
#include "poolalloc.h"
#include "tap.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

/* What a child does, as a little script over one block (and its domains):
 *   o  allocate 8 neighbours of the same size   O  free them
 *   a  malloc the block        c  calloc it (8-byte elements)
 *   w  write 'x' at offset `poke` (negative: before the block)
 *   f  free it                 r  realloc it to 400 bytes
 *   e  push the quarantine out by count (5000 frees)
 *   E  push it out by bytes (two 9 MiB frees)
 * After 'a' or 'c' the child prints "target=ADDR size=N" for the parent. */
enum { RAW, MEM, OBJ };
typedef struct {
    const char *config;     /* pool_setup_allocators(config); NULL: pool_setup_debug_hooks() */
    int alloc_dom, free_dom;
    size_t size;
    long poke;
    const char *script;
} plan_t;

static void *(*const dom_malloc[3])(size_t) = { pool_raw_malloc, pool_mem_malloc,
                                                 pool_obj_malloc };
static void *(*const dom_calloc[3])(size_t, size_t) = { pool_raw_calloc, pool_mem_calloc,
                                                         pool_obj_calloc };
static void *(*const dom_realloc[3])(void *, size_t) = { pool_raw_realloc, pool_mem_realloc,
                                                          pool_obj_realloc };
static void (*const dom_free[3])(void *) = { pool_raw_free, pool_mem_free, pool_obj_free };

static void run_plan(void *arg)
{
    const plan_t *pl = arg;
    if (pl->config ? pool_setup_allocators(pl->config) != 0 : (pool_setup_debug_hooks(), 0))
        _exit(3);
    unsigned char *p = NULL;
    void *others[8];
    for (const char *op = pl->script; *op; op++) {
        switch (*op) {
        case 'o':
            for (int i = 0; i < 8; i++)
                others[i] = dom_malloc[pl->alloc_dom](pl->size);
            break;
        case 'O':
            for (int i = 0; i < 8; i++)
                dom_free[pl->alloc_dom](others[i]);
            break;
        case 'a':
        case 'c':
            p = *op == 'a' ? dom_malloc[pl->alloc_dom](pl->size)
                           : dom_calloc[pl->alloc_dom](pl->size / 8, 8);
            fprintf(stderr, "target=%p size=%zu\n", (void *)p, pl->size);
            break;
        case 'w':
            p[pl->poke] = 'x';
            break;
        case 'f':
            dom_free[pl->free_dom](p);
            break;
        case 'r':
            dom_realloc[pl->free_dom](p, 400);
            break;
        case 'e':
            for (int i = 0; i < 5000; i++)
                dom_free[pl->alloc_dom](dom_malloc[pl->alloc_dom](100));
            break;
        case 'E':
            for (int i = 0; i < 2; i++)
                dom_free[pl->alloc_dom](dom_malloc[pl->alloc_dom](9u << 20));
            break;
        }
    }
}

typedef struct {
    const char *name;
    plan_t plan;
    const char *problem;     /* must appear in the report */
    const char *detail;      /* and this too, when not NULL */
    bool size_lost;          /* the block's size may be gone: only its address */
} abort_case_t;

static const abort_case_t cases[] = {
    { "overflow, mem domain", { "debug", MEM, MEM, 24, 24, "awf" }, "buffer overflow",
      "guard bytes after", false },
    { "overflow of the last guard byte, obj domain", { "debug", OBJ, OBJ, 100, 107, "awf" },
      "buffer overflow", NULL, false },
    { "overflow, raw domain", { "debug", RAW, RAW, 33, 33, "awf" }, "buffer overflow", NULL,
      false },
    { "overflow of a large block", { "debug", MEM, MEM, 100000, 100000, "awf" },
      "buffer overflow", NULL, false },
    { "overflow found by realloc", { "debug", MEM, MEM, 40, 41, "awr" }, "buffer overflow",
      NULL, false },
    { "overflow under malloc_debug", { "malloc_debug", MEM, MEM, 64, 64, "awf" },
      "buffer overflow", NULL, false },
    { "overflow after pool_setup_debug_hooks", { NULL, OBJ, OBJ, 8, 8, "awf" },
      "buffer overflow", NULL, false },
    { "underflow, mem domain", { "debug", MEM, MEM, 24, -1, "awf" }, "buffer underflow",
      "guard bytes before", false },
    { "underflow of a calloc block", { "debug", OBJ, OBJ, 48, -7, "cwf" }, "buffer underflow",
      NULL, false },
    { "double free", { "debug", MEM, MEM, 24, 0, "aff" }, "double free", NULL, false },
    { "realloc of a freed block", { "debug", OBJ, OBJ, 72, 0, "afr" }, "already freed", NULL,
      false },
    { "mem block freed through obj", { "debug", MEM, OBJ, 24, 0, "af" }, "wrong domain",
      "API 'm'", false },
    { "obj block freed through raw", { "debug", OBJ, RAW, 56, 0, "af" }, "wrong domain",
      "API 'o'", false },
    { "raw block freed through mem", { "debug", RAW, MEM, 56, 0, "af" }, "wrong domain",
      "API 'r'", false },
    { "write after free (quarantine slots)", { "debug", OBJ, OBJ, 40, 5, "afwe" },
      "write after free", "offset 5", false },
    { "write after free (quarantine bytes)", { "debug", MEM, MEM, 300, 299, "afwE" },
      "write after free", "offset 299", false },
    { "double free after the quarantine let go", { "debug", MEM, MEM, 24, 0, "oaOfef" },
      "double free", "left the quarantine", true },
};

__attribute__((format(printf, 3, 4)))
static bool check(const abort_case_t *t, bool cond, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    (void)t;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return OK(cond, "%s", what);
}

static void run_abort_case(const abort_case_t *t)
{
    child_t c;
    child_run(&c, run_plan, (void *)&t->plan);
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

static void debug_on(void)
{
    if (pool_setup_allocators("debug") != 0)
        _exit(3);
}

static void clean_use(void *arg)
{
    (void)arg;
    debug_on();
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
            dom_free[d](p);
            p = dom_malloc[d](n);
            break;
        case 1:
            dom_free[d](p);
            p = dom_calloc[d](1, n);
            for (size_t j = 0; j < n; j++)
                if (p[j])
                    _exit(5);
            break;
        case 2:
            p = dom_realloc[d](p, n);
            break;
        default:
            dom_free[d](p);
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
            dom_free[d](slot[d][k]);
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
