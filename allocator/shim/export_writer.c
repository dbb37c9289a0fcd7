/*
 * POOLMALLOC_EXPORT: a background thread publishes pool_stats_get() into a
 * shared-memory segment (format in allocator/export/export_format.h) so that
 * poold can export this process's allocator statistics.
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
static pool_export_segment_t *seg;
static char path[1200];
static pid_t owner_pid;
/* Creating, removing and exec's suspension agree under this lock, so the
 * file never reappears after export_stop or export_suspend removed it. */
static pthread_mutex_t seg_lock = PTHREAD_MUTEX_INITIALIZER;
static bool suspended;          /* an exec is under way: no file */
static _Atomic bool relink;     /* the exec failed: make the file again */

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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

/* The main thread's name (this runs on the publisher thread, which has a
 * name of its own). */
static void process_name(char out[16])
{
    char p[64], buf[32] = { 0 };
    snprintf(p, sizeof p, "/proc/%d/comm", (int)getpid());
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == 0))
        buf[--n] = 0;
    memset(out, 0, 16);
    memcpy(out, buf, n > 15 ? 15 : (n > 0 ? (size_t)n : 0));
}

static void publish(void)
{
    pool_stats_t st;
    pool_stats_get(&st);
    uint64_t *seq = &seg->seq;
    uint64_t s = __atomic_load_n(seq, __ATOMIC_RELAXED);
    __atomic_store_n(seq, s + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    seg->stats = st;
    seg->updated_realtime_ns = realtime_ns();
    seg->updates++;
    __atomic_store_n(seq, s + 2, __ATOMIC_RELEASE);
}

/* Makes the segment under a hidden name, publishes once, then renames it
 * into place (replacing a stale segment of an earlier process with our
 * pid). Called with seg_lock held. */
static bool create_segment(void)
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
    void *p = MAP_FAILED;
    if (ftruncate(fd, sizeof *seg) == 0)
        p = mmap(NULL, sizeof *seg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        unlink(tmp);
        return false;
    }
    seg = p;
    memcpy(seg->magic, EXPORT_MAGIC, 8);
    seg->version = EXPORT_VERSION;
    seg->segment_size = sizeof *seg;
    seg->stats_size = sizeof(pool_stats_t);
    seg->pid = (uint32_t)getpid();
    process_name(seg->comm);
    seg->start_realtime_ns = realtime_ns();
    seg->interval_ms = (uint64_t)interval_ms;
    publish();
    if (rename(tmp, path) != 0) {
        pool_report_error("POOLMALLOC_EXPORT: cannot create %s: %s", path, strerror(errno));
        unlink(tmp);
        munmap(seg, sizeof *seg);
        seg = NULL;
        return false;
    }
    owner_pid = getpid();
    return true;
}

/* One tick: make the segment if there is none (or again after a failed
 * exec), then publish. False when the segment cannot be made. */
static bool publish_tick(void)
{
    bool ok = true;
    pthread_mutex_lock(&seg_lock);
    if (seg && atomic_exchange(&relink, false)) {
        munmap(seg, sizeof *seg);
        seg = NULL;
    }
    if (atomic_load(&running) && !suspended) {
        if (seg)
            publish();
        else
            ok = create_segment();
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
    if (seg)
        munmap(seg, sizeof *seg);
    seg = NULL;
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
