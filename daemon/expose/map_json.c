/* The arena map as compact JSON; the format is in map_json.h. Written by
 * hand into one buffer: it is the page's largest and most frequent read. */
#include "expose/map_json.h"
#include "service/buf.h"

#include <stdio.h>
#include <stdlib.h>

static int by_fullness(const void *a, const void *b)
{
    const pool_arena_info_t *x = a, *y = b;
    if (x->free_pools != y->free_pools)
        return x->free_pools < y->free_pools ? -1 : 1;
    return x->address < y->address ? -1 : x->address > y->address;
}

static void put_hex(char *s, unsigned v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--, v >>= 4)
        s[i] = hex[v & 15];
}

static bool same_pool(const pool_pool_info_t *a, const pool_pool_info_t *b)
{
    return a->state == b->state &&
           (a->state != POOL_STATE_USED || (a->size_class == b->size_class && a->used == b->used));
}

/* One pool's token, preceded by its repeat count when it repeats. */
static size_t put_token(char *s, const pool_pool_info_t *p, unsigned run)
{
    static const char letter[] = { [POOL_STATE_UNTOUCHED] = '.', [POOL_STATE_USED] = 'u',
                                   [POOL_STATE_EMPTY] = 'e', [POOL_STATE_RETURNED] = 'r',
                                   [POOL_STATE_HEADER] = 'h', [POOL_STATE_SPAN] = 's',
                                   [POOL_STATE_ALIGNMENT] = 'a' };
    size_t k = run > 1 ? (size_t)snprintf(s, 4, "%u", run) : 0;
    s[k++] = p->state < sizeof letter ? letter[p->state] : '.';
    if (p->state == POOL_STATE_USED) {
        put_hex(s + k, p->size_class, 2);
        put_hex(s + k + 2, p->used, 4);
        k += 6;
    }
    return k;
}

static void put_pools(buf_t *b, const pool_arena_info_t *a)
{
    char s[POOL_POOLS_PER_ARENA * 10];
    size_t k = 0;
    unsigned run = 1;
    for (unsigned i = 1; i <= POOL_POOLS_PER_ARENA; i++, run++) {
        if (i < POOL_POOLS_PER_ARENA && same_pool(&a->pools[i], &a->pools[i - 1]))
            continue;
        k += put_token(s + k, &a->pools[i - 1], run);
        run = 0;
    }
    buf_add(b, s, k);
}

char *map_json(pool_arena_info_t *map, size_t n, size_t total, const map_query_t *q, size_t *len)
{
    size_t limit = q->limit > MAP_MAX_LIMIT ? MAP_MAX_LIMIT : q->limit;
    size_t from = q->offset < n ? q->offset : n;
    size_t to = n - from > limit ? from + limit : n;
    if (q->fullest && map)
        qsort(map, n, sizeof *map, by_fullness);
    buf_t b;
    buf_init(&b);
    buf_reserve(&b, 256 + (to - from) * 160);
    buf_printf(&b, "{\"total\":%zu,\"records\":%zu,\"offset\":%zu,\"limit\":%zu,\"order\":\"%s\","
                   "\"pools_per_arena\":%u,\"next_offset\":",
               total, n, from, limit, q->fullest ? "fullest" : "address", POOL_POOLS_PER_ARENA);
    if (to < n)
        buf_printf(&b, "%zu", to);
    else
        buf_puts(&b, "null");
    buf_puts(&b, ",\"arenas\":[");
    for (size_t i = from; i < to; i++) {
        char addr[24];
        int w = snprintf(addr, sizeof addr, "%s[\"0x%llx", i > from ? "," : "",
                         (unsigned long long)map[i].address);
        buf_add(&b, addr, (size_t)w);
        buf_puts(&b, "\",\"");
        put_pools(&b, &map[i]);
        buf_puts(&b, "\"]");
    }
    buf_puts(&b, "]}");
    return buf_take(&b, len);
}

pool_arena_info_t *map_own(size_t *n, size_t *total)
{
    /* arenas come and go between the count and the copy: a little room */
    size_t want = pool_arena_map(NULL, 0, 0) + 16;
    pool_arena_info_t *map = malloc(want * sizeof *map);
    if (!map)
        return NULL;
    *total = pool_arena_map(map, want, 0);
    *n = *total < want ? *total : want;
    return map;
}
