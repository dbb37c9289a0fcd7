/* The arena map of CPython 3.11's pymalloc; why it is safe: arena_map.h. */
#include "arena_map.h"

#include <Python.h>

#include <stdlib.h>
#include <string.h>

/* Objects/obmalloc.c's struct pool_header in CPython 3.11 (64-bit). */
typedef struct {
    union {
        void    *padding;
        uint32_t count;        /* blocks allocated from this pool */
    } ref;
    void    *freeblock, *nextpool, *prevpool;
    uint32_t arenaindex, szidx, nextoffset, maxnextoffset;
} cpython311_pool_header_t;
_Static_assert(sizeof(cpython311_pool_header_t) == ARENA_MAP_HEADER_SIZE,
               "pool_header layout of CPython 3.11 on 64-bit");

static PyObjectArenaAllocator wrapped;  /* the allocator we forward to */
static bool installed;
static uintptr_t *known;                /* arena addresses, sorted */
static size_t nknown, capknown;

/* Index of the first address >= a. */
static size_t lower_bound(uintptr_t a)
{
    size_t lo = 0, hi = nknown;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (known[mid] < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void note(uintptr_t a)
{
    if (nknown == capknown) {
        size_t cap = capknown ? capknown * 2 : 64;
        uintptr_t *p = realloc(known, cap * sizeof *p);
        if (!p)
            return;                     /* this arena stays out of the map */
        known = p;
        capknown = cap;
    }
    size_t i = lower_bound(a);
    memmove(known + i + 1, known + i, (nknown - i) * sizeof *known);
    known[i] = a;
    nknown++;
}

static void forget(uintptr_t a)
{
    size_t i = lower_bound(a);
    if (i < nknown && known[i] == a) {
        memmove(known + i, known + i + 1, (nknown - i - 1) * sizeof *known);
        nknown--;
    }
}

/* Called by pymalloc with the GIL held, like everything else here. */
static void *arena_alloc(void *ctx, size_t size)
{
    (void)ctx;
    void *p = wrapped.alloc(wrapped.ctx, size);
    /* 3.11 also takes the frames' data stack chunks from here (16 KiB and
     * up): only arena-sized blocks are arenas */
    if (p && size == ARENA_MAP_ARENA_SIZE)
        note((uintptr_t)p);
    return p;
}

static void arena_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    forget((uintptr_t)ptr);
    wrapped.free(wrapped.ctx, ptr, size);
}

bool arena_map_install(void)
{
    if (sizeof(void *) != 8)
        return false;
    if (!installed) {
        /* Never taken out again: a wrapper installed after ours would be
         * lost if we put the old allocator back. */
        PyObjectArenaAllocator mine = { NULL, arena_alloc, arena_free };
        PyObject_GetArenaAllocator(&wrapped);
        PyObject_SetArenaAllocator(&mine);
        installed = true;
    }
    return arena_map_active();
}

bool arena_map_active(void) { return installed; }

size_t arena_map_count(void) { return arena_map_active() ? nknown : 0; }

/* Could CPython have written this header into the arena with index `index`
 * (UINT32_MAX: not known yet)? */
static bool believable(const cpython311_pool_header_t *h, uint32_t index)
{
    if (h->szidx >= ARENA_MAP_CLASSES)
        return false;
    uint32_t size = (h->szidx + 1) * ARENA_MAP_ALIGNMENT;
    uint32_t blocks = (ARENA_MAP_POOL_SIZE - ARENA_MAP_HEADER_SIZE) / size;
    return h->maxnextoffset == ARENA_MAP_POOL_SIZE - size && h->ref.count <= blocks &&
           h->nextoffset >= ARENA_MAP_HEADER_SIZE && h->nextoffset <= ARENA_MAP_POOL_SIZE &&
           (index == UINT32_MAX || h->arenaindex == index);
}

/* One arena: pools in address order from the first pool boundary; an
 * arena that does not start on one loses its last pool slot to alignment. */
static void read_arena(uintptr_t base, pool_arena_info_t *rec, arena_map_summary_t *sum)
{
    uintptr_t first = (base + ARENA_MAP_POOL_SIZE - 1) & ~(uintptr_t)(ARENA_MAP_POOL_SIZE - 1);
    unsigned usable = first == base ? ARENA_MAP_POOLS : ARENA_MAP_POOLS - 1;
    uint32_t index = UINT32_MAX;
    bool carved = true;
    memset(rec, 0, sizeof *rec);
    rec->address = base;
    for (unsigned j = 0; j < ARENA_MAP_POOLS; j++) {
        pool_pool_info_t *p = &rec->pools[j];
        const cpython311_pool_header_t *h =
            (const cpython311_pool_header_t *)(first + (uintptr_t)j * ARENA_MAP_POOL_SIZE);
        if (j >= usable) {
            p->state = POOL_STATE_ALIGNMENT;
            continue;
        }
        carved = carved && believable(h, index);
        if (!carved) {
            p->state = POOL_STATE_UNTOUCHED;
            rec->free_pools++;
            sum->pools_untouched++;
            continue;
        }
        index = h->arenaindex;
        if (h->ref.count == 0) {
            p->state = POOL_STATE_EMPTY;
            rec->free_pools++;
            sum->pools_empty++;
            continue;
        }
        uint32_t size = (h->szidx + 1) * ARENA_MAP_ALIGNMENT;
        p->state = POOL_STATE_USED;
        p->size_class = (uint8_t)h->szidx;
        p->used = (uint16_t)h->ref.count;
        p->blocks = (uint16_t)((ARENA_MAP_POOL_SIZE - ARENA_MAP_HEADER_SIZE) / size);
        sum->pools[h->szidx]++;
        sum->blocks_used[h->szidx] += p->used;
        if (p->used == p->blocks)
            sum->pools_full[h->szidx]++;
    }
}

size_t arena_map_read(pool_arena_info_t *out, size_t max, arena_map_summary_t *sum)
{
    memset(sum, 0, sizeof *sum);
    if (!arena_map_active())
        return 0;
    size_t n = nknown < max ? nknown : max;
    for (size_t i = 0; i < n; i++)
        read_arena(known[i], &out[i], sum);
    sum->arenas_read = n;
    return n;
}
