/*
 * POOLMALLOC_EXPORT: a background thread publishes pool_stats_get() and the
 * arena map (pool_arena_map) into a shared-memory segment (format version 2
 * in allocator/export/export_format.h) so that poold can export this
 * process's allocator statistics and draw its arenas.
 *
 * The map and the statistics are taken into a private staging area first
 * (the map walk is long; the segment's sequence number stays odd only for
 * the copy), and retaken until both count the same arenas. When the
 * process has more arenas than the file has room for, a larger file is
 * made and renamed over the old one (capacity doubling, up to
 * EXPORT_MAX_ARENA_MAP records; past it the map is capped and says so).
 *
 * The segment is created at the first tick, not at start-up, so programs
 * that live less than one interval (most commands a shell runs) leave no
 * file behind. It is written in full under a hidden name and renamed into
 * place, so a reader never sees a half-made segment. A forked child gets a
 * segment and thread of its own; an exec removes the segment first (the
 * new image may not be on the shim) and a failed exec brings it back.
 */
#define _GNU_SOURCE
#include "export_writer.h"

#include "export_file.h"
#include "export_format.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[1024];
static mode_t file_mode = 0600;
static long interval_ms = 1000;
static _Atomic int running;
#define MIN_CAPACITY 64u         /* records: 25 KiB */

static pool_export_header_t *seg;
static size_t seg_bytes;         /* of the mapping, header and records */
static uint32_t capacity;        /* records the segment has room for */
static struct { pool_stats_t st; pool_arena_info_t map[]; } *stage;   /* capacity records */
static size_t stage_bytes;
static char path[1200];
static pid_t owner_pid;
/* Creating, removing and exec's suspension agree under this lock, so the
 * file never reappears after export_stop or export_suspend removed it. */
static pthread_mutex_t seg_lock = PTHREAD_MUTEX_INITIALIZER;
static bool suspended;          /* an exec is under way: no file */
static _Atomic bool relink;     /* the exec failed: make the file again */

static bool parse_settings(const char *v)
{
    snprintf(dir, sizeof dir, "%s", strcmp(v, "1") == 0 ? EXPORT_DEFAULT_DIR : v);
    if (dir[0] != '/') {
        pool_report_error("POOLMALLOC_EXPORT=%s: expected 1 or an absolute directory", v);
        return false;
    }
    const char *s = getenv("POOLMALLOC_EXPORT_MODE");
    if (s && *s) {
        char *end;
        long m = strtol(s, &end, 8);
        if (*end || m < 0 || (m & ~0644L) || !(m & 0600)) {
            pool_report_error("POOLMALLOC_EXPORT_MODE=%s: expected an octal mode within 0644 "
                              "and readable by the owner; using 0600", s);
        } else {
            file_mode = (mode_t)m;
        }
    }
    s = getenv("POOLMALLOC_EXPORT_INTERVAL");
    if (s && *s) {
        char *end;
        long ms = strtol(s, &end, 10);
        if (*end || ms < 10 || ms > 3600000)
            pool_report_error("POOLMALLOC_EXPORT_INTERVAL=%s: expected 10..3600000 ms; "
                              "using %ld", s, interval_ms);
        else
            interval_ms = ms;
    }
    return true;
}

static size_t segment_bytes(uint32_t cap)
{
    return sizeof(pool_export_header_t) + (size_t)cap * sizeof(pool_arena_info_t);
}

static void unmap_segment(void)
{
    if (seg)
        munmap(seg, seg_bytes);
    if (stage)
        munmap(stage, stage_bytes);
    seg = NULL;
    stage = NULL;
}

/* The map, then the statistics, until both count the same arenas (an
 * arena mapped or released in between makes them differ). Returns the
 * arenas of the map, or -1 when they never agreed. */
static long take_snapshot(void)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        size_t total = pool_arena_map(stage->map, capacity, 0);
        pool_stats_get(&stage->st);
        if (stage->st.arenas_current == total)
            return (long)total;
    }
    return -1;
}

static void publish(void)
{
    long total = take_snapshot();
    char comm[16];
    export_process_name(getpid(), comm);   /* again each time: programs rename themselves */
    uint32_t records = total < 0 ? 0 : total < (long)capacity ? (uint32_t)total : capacity;
    uint64_t *seq = &seg->seq;
    uint64_t s = __atomic_load_n(seq, __ATOMIC_RELAXED);
    __atomic_store_n(seq, s + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(seg->comm, comm, sizeof comm);
    seg->stats = stage->st;
    memcpy(seg + 1, stage->map, records * sizeof(pool_arena_info_t));
    seg->has = EXPORT_HAS_OPS | EXPORT_HAS_PURGE | EXPORT_HAS_HEAPS | EXPORT_HAS_LARGE |
               EXPORT_HAS_CACHE | (total < 0 ? 0 : EXPORT_HAS_MAP);
    seg->arena_records = records;
    seg->arenas_in_map_total = total < 0 ? 0 : (uint64_t)total;
    seg->updated_realtime_ns = export_realtime_ns();
    seg->updates++;
    __atomic_store_n(seq, s + 2, __ATOMIC_RELEASE);
}

/* Room for the arenas the process has now, and half as many again. */
static uint32_t capacity_for(uint64_t arenas)
{
    uint64_t want = arenas + arenas / 2, cap = MIN_CAPACITY;
    while (cap < want && cap < EXPORT_MAX_ARENA_MAP)
        cap *= 2;
    return cap < EXPORT_MAX_ARENA_MAP ? (uint32_t)cap : EXPORT_MAX_ARENA_MAP;
}

static void fill_header(pool_export_header_t *h, const pool_export_header_t *old)
{
    memcpy(h->magic, EXPORT_MAGIC, 8);
    h->version = EXPORT_VERSION_2;
    h->header_size = sizeof *h;
    h->stats_size = sizeof(pool_stats_t);
    h->pid = (uint32_t)getpid();
    export_process_name(getpid(), h->comm);   /* the main thread's name */
    h->start_realtime_ns = old ? old->start_realtime_ns : export_realtime_ns();
    h->updates = old ? old->updates : 0;
    h->interval_ms = (uint64_t)interval_ms;
    h->allocator = EXPORT_ALLOCATOR_POOLALLOC;
    snprintf(h->allocator_version, sizeof h->allocator_version, "%s", POOLALLOC_VERSION);
    h->arena_record_size = sizeof(pool_arena_info_t);
    h->arena_capacity = capacity;
}

/* A shared mapping of the file, or a private one with fd -1. */
static void *map_bytes(int fd, size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   fd < 0 ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Makes the segment, with room for `cap` records, under a hidden name,
 * publishes once, then renames it into place (replacing a stale segment of
 * an earlier process with our pid, or our own smaller one, whose start time
 * and update count carry over). Called with seg_lock held. */
static bool create_segment(uint32_t cap)
{
    char tmp[1300];
    snprintf(path, sizeof path, "%s/" EXPORT_FILE_PREFIX "%d", dir, (int)getpid());
    snprintf(tmp, sizeof tmp, "%s/." EXPORT_FILE_PREFIX "%d.new", dir, (int)getpid());
    unlink(tmp);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, file_mode);
    if (fd < 0) {
        pool_report_error("POOLMALLOC_EXPORT: cannot create %s: %s", tmp, strerror(errno));
        return false;
    }
    fchmod(fd, file_mode);   /* the umask must not take away what was asked */
    size_t bytes = segment_bytes(cap), sbytes = sizeof *stage + cap * sizeof(pool_arena_info_t);
    pool_export_header_t *h = ftruncate(fd, (off_t)bytes) == 0 ? map_bytes(fd, bytes) : NULL;
    void *st = h ? map_bytes(-1, sbytes) : NULL;
    close(fd);
    if (!st) {
        if (h)
            munmap(h, bytes);
        unlink(tmp);
        return false;
    }
    pool_export_header_t *old = seg;
    void *old_stage = stage;
    size_t old_bytes = seg_bytes, old_stage_bytes = stage_bytes;
    uint32_t old_cap = capacity;
    capacity = cap;
    fill_header(h, old);
    seg = h, seg_bytes = bytes, stage = st, stage_bytes = sbytes;
    publish();
    if (rename(tmp, path) != 0) {
        pool_report_error("POOLMALLOC_EXPORT: cannot create %s: %s", path, strerror(errno));
        unlink(tmp);
        unmap_segment();
        seg = old, seg_bytes = old_bytes, stage = old_stage, stage_bytes = old_stage_bytes;
        capacity = old_cap;
        return false;
    }
    if (old) {
        munmap(old, old_bytes);
        munmap(old_stage, old_stage_bytes);
    }
    owner_pid = getpid();
    return true;
}

/* Publishes into the segment, first moving to a larger one when the
 * arenas have outgrown it (if that fails, the map stays capped). */
static void publish_or_grow(void)
{
    pool_stats_t *st = &stage->st;
    pool_stats_get(st);
    if (st->arenas_current > capacity && capacity < EXPORT_MAX_ARENA_MAP &&
        create_segment(capacity_for(st->arenas_current)))
        return;
    publish();
}

/* One tick: make the segment if there is none (or again after a failed
 * exec), then publish. False when the segment cannot be made. */
static bool publish_tick(void)
{
    bool ok = true;
    pthread_mutex_lock(&seg_lock);
    if (seg && atomic_exchange(&relink, false))
        unmap_segment();
    if (atomic_load(&running) && !suspended) {
        if (seg) {
            publish_or_grow();
        } else {
            pool_stats_t st;
            pool_stats_get(&st);
            ok = create_segment(capacity_for(st.arenas_current));
        }
    }
    pthread_mutex_unlock(&seg_lock);
    return ok;
}

static void *publisher(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, "poolmalloc-exp");
    struct timespec tick = { interval_ms / 1000, (interval_ms % 1000) * 1000000 };
    while (atomic_load(&running)) {
        nanosleep(&tick, NULL);
        if (!publish_tick()) {
            atomic_store(&running, 0);
            break;
        }
    }
    return NULL;
}

static void start_thread(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);   /* the thread inherits: no signals for it */
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    atomic_store(&running, 1);
    if (pthread_create(&t, &attr, publisher, NULL) != 0)
        atomic_store(&running, 0);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static pid_t self_pid;   /* set at start and by the fork handler; a vfork child differs */

static void fork_child(void)
{
    self_pid = getpid();
    pthread_mutex_init(&seg_lock, NULL);
    suspended = false;
    atomic_store(&relink, false);
    /* The mapping is the parent's segment: never write to it again. */
    unmap_segment();
    start_thread();
}

void export_start(void)
{
    const char *v = getenv("POOLMALLOC_EXPORT");
    if (!v || !*v || strcmp(v, "0") == 0 || !parse_settings(v))
        return;
    self_pid = getpid();
    pthread_atfork(NULL, NULL, fork_child);
    start_thread();
}

/* Removes our segment (with seg_lock held). */
static void remove_segment(void)
{
    if (seg && owner_pid == getpid())
        unlink(path);
}

/* Removes the segment, for good (exit) or until the exec fails. */
static void withdraw(bool for_good)
{
    /* a vfork child shares the parent's memory: it must leave it alone */
    if (getpid() != self_pid || (!for_good && !atomic_load(&running)))
        return;
    pthread_mutex_lock(&seg_lock);
    if (for_good)
        atomic_store(&running, 0);
    else
        suspended = true;
    remove_segment();
    pthread_mutex_unlock(&seg_lock);
}

void export_stop(void) { withdraw(true); }
void export_suspend(void) { withdraw(false); }

void export_resume(void)
{
    if (getpid() != self_pid || !atomic_load(&running))
        return;
    pthread_mutex_lock(&seg_lock);
    if (suspended && seg)
        atomic_store(&relink, true);
    suspended = false;
    pthread_mutex_unlock(&seg_lock);
}
