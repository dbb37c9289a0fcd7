/*
 * The process collector: every scan lists DIR/poolmalloc.<pid>, reads each
 * segment with export_read_fd (pread, never mmap; see export_reader.h),
 * and keeps those of live processes that published lately, at most `max`
 * of them. Nothing in a segment is trusted: the file may be anyone's, of
 * any size or kind, and change while it is read. Skips are counted by
 * reason. When there are more processes than the maximum, those exported
 * last time keep their place (so series do not flap), then the lowest
 * pids; the rest are counted and named in a log line when the set changes.
 */
#define _GNU_SOURCE
#include "collectors/processes.h"
#include "collectors/proc_stat.h"
#include "service/log.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { SCAN_LIMIT = 4096, DROPPED_NAMED = 16 };
#define STALE_MIN_MS 5000u

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bool      enabled;
    char     *dir;
    unsigned  max;
    uint64_t  skipped[PROCESSES_SKIP_REASONS];
    uint32_t *tracked;          /* pids exported by the last scan, sorted */
    size_t    ntracked;
    uint64_t  dropped_sig;      /* what the last "dropped" log line said */
    bool      dir_failed;       /* the last scan could not open the directory */
} col;

typedef struct {                /* one scan */
    bool maps;                  /* keep the arena maps */
    export_snapshot_t *keep;    /* at most col.max */
    size_t n;
    size_t dropped;
    uint32_t dropped_pids[DROPPED_NAMED];
    uint64_t now_ns;
} scan_t;

const char *processes_skip_name(int reason)
{
    static const char *const names[] = {
        [PROCESSES_SKIP_STALE] = "stale", [PROCESSES_SKIP_EXITED] = "exited",
        [PROCESSES_SKIP_OWNER] = "owner", [PROCESSES_SKIP_BAD_NAME] = "bad_name",
        [PROCESSES_SKIP_OVER_MAX] = "over_max", [PROCESSES_SKIP_SCAN_LIMIT] = "scan_limit",
    };
    if (reason > 0 && reason < EXPORT_ERR_COUNT)
        return export_error_name((export_error_t)reason);
    return reason >= EXPORT_ERR_COUNT && reason < PROCESSES_SKIP_REASONS ? names[reason] : "unknown";
}

void processes_configure(bool enabled, const char *dir, unsigned max)
{
    pthread_mutex_lock(&lock);
    char *copy = strdup(dir && *dir ? dir : "/dev/shm");
    if (copy) {
        free(col.dir);
        col.dir = copy;
    }
    col.enabled = enabled && col.dir;
    col.max = max ? max : 1;
    col.dir_failed = false;
    pthread_mutex_unlock(&lock);
}

/* ---- is the segment's process alive, and really its owner ---------------------- */

/* The pid in "poolmalloc.<pid>", or 0. */
static uint32_t name_pid(const char *s)
{
    if (!isdigit((unsigned char)*s) || *s == '0' || strlen(s) > 10)
        return 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    return *end || v > INT_MAX ? 0 : (uint32_t)v;
}

static bool pid_alive(uint32_t pid)
{
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* When the process now holding pid started (ns since the epoch), or 0 when
 * /proc does not say (hidden by ProtectProc= or hidepid=). */
static uint64_t process_start_ns(uint32_t pid)
{
    char path[64];
    unsigned long long f[PROC_STAT_FIELDS];
    snprintf(path, sizeof path, "/proc/%u/stat", pid);
    if (!proc_stat_fields(path, f))
        return 0;
    double s = proc_boot_time_seconds() + (double)f[22] / (double)sysconf(_SC_CLK_TCK);
    return s > 0 ? (uint64_t)(s * 1e9) : 0;
}

/* A reason to skip a well-formed segment of file owner `uid`, or 0. */
static int liveness(const export_snapshot_t *s, uid_t uid, uint64_t now_ns)
{
    if (!pid_alive(s->pid))
        return PROCESSES_SKIP_EXITED;
    uint64_t limit_ms = 3 * s->interval_ms > STALE_MIN_MS ? 3 * s->interval_ms : STALE_MIN_MS;
    if (now_ns > s->updated_realtime_ns && now_ns - s->updated_realtime_ns > limit_ms * 1000000u)
        return PROCESSES_SKIP_STALE;
    uint64_t started = process_start_ns(s->pid);
    if (started && started > s->start_realtime_ns + 2000000000u)
        return PROCESSES_SKIP_EXITED;       /* the pid was reused since the segment was made */
    char path[32];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%u", s->pid);
    if (stat(path, &st) == 0 && st.st_uid != uid)
        return PROCESSES_SKIP_OWNER;
    return 0;
}

/* ---- choosing at most max -------------------------------------------------------- */

static bool was_tracked(uint32_t pid)
{
    size_t lo = 0, hi = col.ntracked;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (col.tracked[mid] == pid)
            return true;
        if (col.tracked[mid] < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Lower keeps its place first: exported last time, then the lower pid. */
static uint64_t rank(uint32_t pid) { return (uint64_t)!was_tracked(pid) << 32 | pid; }

static void drop(scan_t *sc, uint32_t pid)
{
    if (sc->dropped < DROPPED_NAMED)
        sc->dropped_pids[sc->dropped] = pid;
    sc->dropped++;
    col.skipped[PROCESSES_SKIP_OVER_MAX]++;
}

static void offer(scan_t *sc, export_snapshot_t *s)
{
    if (sc->n < col.max) {
        sc->keep[sc->n++] = *s;
        return;
    }
    size_t worst = 0;
    for (size_t i = 1; i < sc->n; i++)
        if (rank(sc->keep[i].pid) > rank(sc->keep[worst].pid))
            worst = i;
    if (rank(s->pid) < rank(sc->keep[worst].pid)) {
        drop(sc, sc->keep[worst].pid);
        export_snapshot_free(&sc->keep[worst]);
        sc->keep[worst] = *s;
    } else {
        drop(sc, s->pid);
        export_snapshot_free(s);
    }
}

/* ---- the scan ------------------------------------------------------------------------- */

/* Reads DIR/name, the segment of `pid`, map included, and checks that its
 * process is alive and its own: 0 and *snap (to release), or the reason. */
static int read_candidate(int dfd, const char *name, uint32_t pid, uint64_t now_ns,
                          export_snapshot_t *snap)
{
    struct stat st;
    int fd = -1, why;
    char text[160];
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        why = EXPORT_ERR_OPEN;
    else if (!S_ISREG(st.st_mode))
        why = EXPORT_ERR_NOT_REGULAR;
    else if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) < 0)
        why = errno == ELOOP ? EXPORT_ERR_NOT_REGULAR : EXPORT_ERR_OPEN;
    else if (fstat(fd, &st) != 0)
        why = EXPORT_ERR_OPEN;
    else if ((why = export_read_fd(fd, pid, true, snap, text, sizeof text)) == EXPORT_OK &&
             (why = liveness(snap, st.st_uid, now_ns)) != 0)
        export_snapshot_free(snap);
    if (fd >= 0)
        close(fd);
    return why;
}

static void examine(scan_t *sc, int dfd, const char *name)
{
    uint32_t pid = name_pid(name + strlen(EXPORT_FILE_PREFIX));
    if (!pid) {
        col.skipped[PROCESSES_SKIP_BAD_NAME]++;
        return;
    }
    export_snapshot_t snap;
    int why = read_candidate(dfd, name, pid, sc->now_ns, &snap);
    if (why) {
        col.skipped[why]++;
        if (log_enabled(LOG_LVL_DEBUG))
            log_debug("process collector: segment skipped", "file", name, "reason",
                      processes_skip_name(why));
        return;
    }
    if (!sc->maps)
        export_snapshot_free(&snap);
    offer(sc, &snap);
}

static int by_pid(const void *a, const void *b)
{
    uint32_t x = ((const export_snapshot_t *)a)->pid, y = ((const export_snapshot_t *)b)->pid;
    return x < y ? -1 : x > y;
}

static int u32_order(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Says which processes were left out, when that changes. */
static void report_dropped(const scan_t *sc)
{
    uint64_t sig = sc->dropped;
    for (size_t i = 0; i < sc->dropped && i < DROPPED_NAMED; i++)
        sig = sig * 1000003u + sc->dropped_pids[i];
    if (sig == col.dropped_sig)
        return;
    col.dropped_sig = sig;
    if (!sc->dropped)
        return;
    char pids[DROPPED_NAMED * 12 + 16] = "", max[16], n[24];
    size_t len = 0;
    for (size_t i = 0; i < sc->dropped && i < DROPPED_NAMED; i++)
        len += (size_t)snprintf(pids + len, sizeof pids - len, "%s%u", i ? " " : "",
                                sc->dropped_pids[i]);
    if (sc->dropped > DROPPED_NAMED)
        snprintf(pids + len, sizeof pids - len, " ...");
    snprintf(max, sizeof max, "%u", col.max);
    snprintf(n, sizeof n, "%zu", sc->dropped);
    log_warn("process collector: more processes than --collector.processes.max; these are "
             "not exported", "max", max, "dropped", n, "pids", pids);
}

static void remember(const scan_t *sc)
{
    uint32_t *t = realloc(col.tracked, (sc->n ? sc->n : 1) * sizeof *t);
    if (!t)
        return;
    for (size_t i = 0; i < sc->n; i++)
        t[i] = sc->keep[i].pid;
    qsort(t, sc->n, sizeof *t, u32_order);
    col.tracked = t;
    col.ntracked = sc->n;
}

static void scan(scan_t *sc)
{
    int dfd = open(col.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (!col.dir_failed)
            log_warn("process collector: cannot read the directory", "dir", col.dir, "error",
                     strerror(errno));
        col.dir_failed = true;
        if (dfd >= 0)
            close(dfd);
        return;
    }
    col.dir_failed = false;
    size_t seen = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, EXPORT_FILE_PREFIX, strlen(EXPORT_FILE_PREFIX)) != 0)
            continue;
        if (seen++ >= SCAN_LIMIT) {
            col.skipped[PROCESSES_SKIP_SCAN_LIMIT]++;
            continue;
        }
        examine(sc, dirfd(d), e->d_name);
    }
    closedir(d);
}

static uint64_t now_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void processes_collect(processes_view_t *v, bool maps)
{
    memset(v, 0, sizeof *v);
    pthread_mutex_lock(&lock);
    v->enabled = col.enabled;
    scan_t sc = { .maps = maps, .keep = col.enabled ? malloc(col.max * sizeof *sc.keep) : NULL };
    if (sc.keep) {
        sc.now_ns = now_realtime_ns();
        scan(&sc);
        qsort(sc.keep, sc.n, sizeof *sc.keep, by_pid);
        report_dropped(&sc);
        remember(&sc);
    }
    memcpy(v->skipped, col.skipped, sizeof v->skipped);
    pthread_mutex_unlock(&lock);
    v->procs = sc.keep;
    v->n = sc.n;
    v->dropped = sc.dropped;
}

int processes_find(uint32_t pid, export_snapshot_t *out)
{
    char name[32];
    snprintf(name, sizeof name, EXPORT_FILE_PREFIX "%u", pid);
    pthread_mutex_lock(&lock);
    int why = PROCESSES_SKIP_EXITED;
    if (col.enabled) {
        int dfd = open(col.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        why = dfd < 0 ? EXPORT_ERR_OPEN : read_candidate(dfd, name, pid, now_realtime_ns(), out);
        if (dfd >= 0)
            close(dfd);
    }
    pthread_mutex_unlock(&lock);
    return why;
}

void processes_view_free(processes_view_t *v)
{
    for (size_t i = 0; i < v->n; i++)
        export_snapshot_free(&v->procs[i]);
    free(v->procs);
    memset(v, 0, sizeof *v);
}

void processes_shutdown(void)
{
    pthread_mutex_lock(&lock);
    free(col.dir);
    free(col.tracked);
    col.dir = NULL;
    col.tracked = NULL;
    col.ntracked = 0;
    col.enabled = false;
    pthread_mutex_unlock(&lock);
}
