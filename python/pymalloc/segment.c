/* This process's v2 statistics segment; see segment.h. */
#define _GNU_SOURCE
#include "segment.h"

#include "export_file.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
    segment_t              *s;
    const segment_update_t *u;
} fill_arg_t;

static void write_update(segment_t *s, pool_export_header_t *h, const segment_update_t *u)
{
    h->updated_realtime_ns = export_realtime_ns();
    h->updates = ++s->updates;
    h->has = u->has;
    h->metadata_bytes = u->metadata_bytes;
    h->arena_records = (uint32_t)u->records;
    h->arenas_in_map_total = u->arenas_total;
    h->stats = *u->stats;
    memcpy(h + 1, u->map, u->records * sizeof *u->map);
}

static void fill_new(void *map, void *arg)
{
    const fill_arg_t *a = arg;
    segment_t *s = a->s;
    pool_export_header_t *h = map;
    memset(h, 0, sizeof *h);
    memcpy(h->magic, EXPORT_MAGIC, 8);
    h->version = EXPORT_VERSION_2;
    h->header_size = sizeof *h;
    h->stats_size = sizeof(pool_stats_t);
    h->pid = (uint32_t)getpid();
    export_process_name(getpid(), h->comm);
    h->start_realtime_ns = s->start_ns;
    h->interval_ms = s->interval_ms;
    h->allocator = EXPORT_ALLOCATOR_PYMALLOC;
    memcpy(h->allocator_version, s->allocator_version, sizeof h->allocator_version);
    h->arena_record_size = sizeof(pool_arena_info_t);
    h->arena_capacity = (uint32_t)s->capacity;
    write_update(s, h, a->u);
}

/* A new file with room for `records` arenas and some to grow, renamed over
 * the old one (a reader holding the old file still reads a whole segment). */
static bool remake(segment_t *s, const segment_update_t *u, char *err, size_t len)
{
    size_t cap = u->records + u->records / 2 + 16;
    if (cap > EXPORT_MAX_ARENA_MAP)
        cap = EXPORT_MAX_ARENA_MAP;
    if (!s->hdr)
        s->start_ns = export_realtime_ns();
    size_t old_cap = s->capacity;
    s->capacity = cap;
    size_t size = sizeof(pool_export_header_t) + cap * sizeof(pool_arena_info_t);
    fill_arg_t arg = { s, u };
    void *p = export_file_create(s->dir, getpid(), s->mode, size, fill_new, &arg, s->path,
                                 sizeof s->path, err, len);
    if (!p) {
        s->capacity = old_cap;
        return false;
    }
    if (s->hdr)
        munmap(s->hdr, s->size);
    s->hdr = p;
    s->size = size;
    s->owner = getpid();
    return true;
}

bool segment_publish(segment_t *s, const segment_update_t *u, char *err, size_t len)
{
    if (!s->hdr || u->records > s->capacity)
        return remake(s, u, err, len);
    export_seq_begin(&s->hdr->seq);
    write_update(s, s->hdr, u);
    export_seq_end(&s->hdr->seq);
    return true;
}

void segment_forget(segment_t *s)
{
    if (s->hdr)
        munmap(s->hdr, s->size);
    s->hdr = NULL;
    s->size = s->capacity = 0;
    s->updates = 0;
}

void segment_withdraw(segment_t *s)
{
    if (s->hdr && s->owner == getpid())
        unlink(s->path);
    segment_forget(s);
}
