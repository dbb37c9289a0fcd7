/*
 * Recording allocation traces: POOLMALLOCTRACE=FILE (format in
 * allocator/trace/trace_format.h).
 *
 * Each thread appends records to its own buffer (no lock, no shared line)
 * and writes the buffer as one chunk when it fills, when the thread exits
 * and at process exit. Buffers come from mmap, never from malloc.
 *
 * Files never clobber each other: FILE is created with O_EXCL; if it exists,
 * FILE.<pid> is used (and a note printed). "%p" in FILE becomes the pid. A
 * forked child starts its own file the same way and drops the records it
 * inherited (the parent writes those).
 */
#define _GNU_SOURCE
#include "trace_writer.h"

#include "internal.h"
#include "trace_format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#define PAYLOAD_CAP (64u * 1024)

typedef struct tbuf {
    _Atomic int busy;           /* owner is appending (see trace_stop) */
    _Atomic int in_use;         /* owned by a live thread */
    uint32_t tid, nrec;
    uint64_t base, last, last_addr;   /* ticks */
    size_t len;
    struct tbuf *next;          /* registry; buffers are reused, never unmapped */
    uint8_t chunk[TRACE_CHUNK_SIZE + PAYLOAD_CAP];
} tbuf_t;

static _Atomic int tracing;     /* records are being taken */
static int trace_fd = -1;
static pid_t trace_pid;
static char base_path[4096];
static _Atomic uint64_t chunk_seq;
static tbuf_t *_Atomic registry;
static pthread_key_t exit_key;
static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread tbuf_t *tls_buf __attribute__((tls_model("initial-exec")));
/* Set once the thread's exit handler ran: frees glibc makes after that
 * (thread-local buffers of strerror, strsignal, the resolver...) borrow a
 * buffer for one record and hand it back at once, since nothing would ever
 * release a buffer taken then. */
static __thread bool tls_exited __attribute__((tls_model("initial-exec")));

/* ---- the clock (see "Times" in trace_format.h) ------------------------------- */

static bool use_tsc;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* An invariant TSC that the kernel trusts enough to be its clocksource.
 * Runs inside the first malloc: plain system calls, nothing allocated. */
static bool tsc_usable(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000007, &a, &b, &c, &d) || !(d & (1u << 8)))
        return false;
    char cs[16] = { 0 };
    int fd = (int)syscall(SYS_open, "/sys/devices/system/clocksource/clocksource0/current_clocksource",
                          O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    long n = syscall(SYS_read, fd, cs, sizeof cs - 1);
    syscall(SYS_close, fd);
    return n >= 3 && memcmp(cs, "tsc", 3) == 0 && (cs[3] == '\n' || cs[3] == 0);
#else
    return false;
#endif
}

/* Before an operation: rdtsc's value precedes the visibility of any store
 * after it (stores become visible only after it retires). */
uint64_t trace_now(void)
{
#if defined(__x86_64__)
    if (likely(use_tsc))
        return __rdtsc();
#endif
    return mono_ns();
}

/* After an operation returned: rdtscp waits for the loads before it, so a
 * block another thread freed is never stamped before that free. */
uint64_t trace_now_after(void)
{
#if defined(__x86_64__)
    if (likely(use_tsc)) {
        unsigned aux;
        return __rdtscp(&aux);
    }
#endif
    return mono_ns();
}

/* A (ticks, ns) pair read together, for readers to map ticks to ns. */
static void clock_pair(uint8_t *ticks, uint8_t *ns)
{
    trace_put_u64(ns, mono_ns());
    trace_put_u64(ticks, trace_now());
}

/* ---- the file ------------------------------------------------------------- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* base_path with %p expanded; then .<pid>, .<pid>.<n> until one is new. */
static int create_file(char *used, size_t len)
{
    char want[4096];
    size_t j = 0;
    for (const char *s = base_path; *s && j < sizeof want - 24; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            j += (size_t)snprintf(want + j, sizeof want - j, "%d", (int)getpid());
            s++;
        } else {
            want[j++] = *s;
        }
    }
    want[j] = 0;
    for (int attempt = 0; attempt < 100; attempt++) {
        if (attempt == 0)
            snprintf(used, len, "%s", want);
        else if (attempt == 1)
            snprintf(used, len, "%s.%d", want, (int)getpid());
        else
            snprintf(used, len, "%s.%d.%d", want, (int)getpid(), attempt - 1);
        int fd = open(used, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* A forked child names its file quietly; the first process says so when
 * FILE already existed. */
static int open_trace(bool quiet)
{
    char used[4200];
    int fd = create_file(used, sizeof used);
    if (fd < 0) {
        pool_report_error("POOLMALLOCTRACE=%s: cannot create the trace file (%s); not tracing",
                          base_path, strerror(errno));
        return -1;
    }
    if (!quiet && strcmp(used, base_path) != 0 && !strstr(base_path, "%p"))
        pool_report_error("POOLMALLOCTRACE: %s exists; tracing to %s", base_path, used);

    uint8_t h[TRACE_HEADER_SIZE] = { 0 };
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    memcpy(h, TRACE_MAGIC, 8);
    trace_put_u32(h + 8, TRACE_VERSION);
    trace_put_u32(h + 12, TRACE_HEADER_SIZE);
    trace_put_u32(h + 16, (uint32_t)getpid());
    trace_put_u64(h + 24, (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec);
    clock_pair(h + 56, h + 32);
    prctl(PR_GET_NAME, (char *)h + 40);
    if (write_all(fd, h, sizeof h) != 0) {
        close(fd);
        return -1;
    }
    trace_pid = getpid();
    atomic_store(&chunk_seq, 0);
    return fd;
}

/* Write b's records as one chunk. */
static void flush_buf(tbuf_t *b)
{
    pthread_mutex_lock(&file_lock);
    if (b->nrec == 0) {          /* checked under the lock: exit and thread exit may race */
        pthread_mutex_unlock(&file_lock);
        return;
    }
    if (trace_fd >= 0 && trace_pid != getpid()) {   /* forked child: a file of its own */
        close(trace_fd);
        trace_fd = open_trace(true);
    }
    if (trace_fd >= 0) {
        uint8_t *c = b->chunk;
        trace_put_u32(c, TRACE_CHUNK_MAGIC);
        trace_put_u32(c + 4, b->tid);
        trace_put_u32(c + 8, b->nrec);
        trace_put_u32(c + 12, (uint32_t)b->len);
        trace_put_u64(c + 16, b->base);
        trace_put_u64(c + 24, atomic_fetch_add(&chunk_seq, 1));
        clock_pair(c + 32, c + 40);
        if (write_all(trace_fd, c, TRACE_CHUNK_SIZE + b->len) != 0) {
            pool_report_error("POOLMALLOCTRACE: write failed (%s); tracing stopped",
                              strerror(errno));
            atomic_store(&tracing, 0);
        }
    }
    b->nrec = 0;
    b->len = 0;
    pthread_mutex_unlock(&file_lock);
}

/* ---- per-thread buffers ------------------------------------------------------- */

static void on_thread_exit(void *arg)
{
    tbuf_t *b = arg;
    atomic_store(&b->busy, 1);
    flush_buf(b);
    atomic_store(&b->busy, 0);
    tls_buf = NULL;
    tls_exited = true;
    atomic_store(&b->in_use, 0);
}

/* A free buffer from the registry, or a new one. */
static tbuf_t *buf_acquire(void)
{
    tbuf_t *b;
    for (b = atomic_load(&registry); b; b = b->next) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&b->in_use, &expected, 1))
            break;
    }
    if (!b) {
        b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (b == MAP_FAILED)
            return NULL;
        atomic_store(&b->in_use, 1);
        tbuf_t *top = atomic_load(&registry);
        do {
            b->next = top;
        } while (!atomic_compare_exchange_weak(&registry, &top, b));
    }
    b->tid = (uint32_t)syscall(SYS_gettid);
    b->nrec = 0;
    b->len = 0;
    return b;
}

static tbuf_t *buf_get(void)
{
    tbuf_t *b = tls_buf;
    if (likely(b != NULL) || tls_exited)
        return b;
    if ((b = buf_acquire()) != NULL) {
        tls_buf = b;
        pthread_setspecific(exit_key, b);
    }
    return b;
}

/* Append one record: op, the time, then up to four fields (sizes as
 * varints, addresses as deltas). `kinds` says which is which, one char a
 * field: 's' size, 'a' address. */
static void record(uint8_t op, uint64_t t, const char *kinds, const uint64_t *v)
{
    tbuf_t *b = buf_get();
    bool late = !b && tls_exited;
    if (late)
        b = buf_acquire();
    if (!b)
        return;
    /* busy already set: a signal handler allocating in the middle of a
     * record; dropping its record keeps the chunk well-formed. */
    if (atomic_exchange(&b->busy, 1))
        return;
    if (!atomic_load(&tracing)) {          /* stopped at exit: pairs with trace_stop */
        atomic_store(&b->busy, 0);
        if (late)
            atomic_store(&b->in_use, 0);
        return;
    }
    if (b->len + TRACE_MAX_RECORD > PAYLOAD_CAP)
        flush_buf(b);
    if (b->nrec == 0) {
        b->base = b->last = t;
        b->last_addr = 0;
    }
    uint8_t *p = b->chunk + TRACE_CHUNK_SIZE + b->len;
    *p++ = op;
    p = trace_put_varint(p, t > b->last ? t - b->last : 0);
    if (t > b->last)
        b->last = t;
    for (int i = 0; kinds[i]; i++) {
        if (kinds[i] == 's') {
            p = trace_put_varint(p, v[i]);
        } else {
            p = trace_put_varint(p, trace_zigzag((int64_t)(v[i] - b->last_addr)));
            b->last_addr = v[i];
        }
    }
    b->len = (size_t)(p - (b->chunk + TRACE_CHUNK_SIZE));
    b->nrec++;
    if (late)
        flush_buf(b);
    atomic_store(&b->busy, 0);
    if (late)
        atomic_store(&b->in_use, 0);
}

void trace_alloc(int op, size_t size, const void *result)
{
    uint64_t v[2] = { size, (uintptr_t)result };
    record((uint8_t)op, trace_now_after(), "sa", v);
}

void trace_free(const void *ptr, uint64_t t)
{
    uint64_t v[1] = { (uintptr_t)ptr };
    record(TRACE_OP_FREE, t, "a", v);
}

void trace_realloc(const void *old, size_t size, const void *result, uint64_t t)
{
    uint64_t v[3] = { (uintptr_t)old, size, (uintptr_t)result };
    record(TRACE_OP_REALLOC, t, "asa", v);
}

void trace_aligned(size_t alignment, size_t size, const void *result)
{
    uint64_t v[3] = { alignment, size, (uintptr_t)result };
    record(TRACE_OP_ALIGNED, trace_now_after(), "ssa", v);
}

/* ---- start and stop ------------------------------------------------------------ */

static pid_t self_pid;   /* set at start and by the fork handler; a vfork child differs */

static void fork_child(void)
{
    self_pid = getpid();
    /* Inherited buffers hold the parent's records: the parent writes them. */
    for (tbuf_t *b = atomic_load(&registry); b; b = b->next) {
        b->nrec = 0;
        b->len = 0;
        atomic_store(&b->busy, 0);
        if (b != tls_buf)
            atomic_store(&b->in_use, 0);
    }
    pthread_mutex_init(&file_lock, NULL);
}

static void fork_prepare(void) { pthread_mutex_lock(&file_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&file_lock); }

bool trace_start(const char *path)
{
    if (!path || !*path || strlen(path) >= sizeof base_path - 32)
        return false;
    strcpy(base_path, path);
    use_tsc = tsc_usable();
    if ((trace_fd = open_trace(false)) < 0)
        return false;
    pthread_key_create(&exit_key, on_thread_exit);
    self_pid = getpid();
    atomic_store(&tracing, 1);
    return true;
}

/* Late setup that may allocate: call once the allocator is usable. */
void trace_start_late(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

bool trace_active(void) { return atomic_load_explicit(&tracing, memory_order_relaxed); }

/* Stop taking records and write every thread's buffer (before exec, whose
 * new image would lose them); trace_resume() if the exec fails. */
void trace_suspend(void)
{
    /* A vfork child shares our memory and must leave the parent's state be. */
    if (getpid() != self_pid || !atomic_exchange(&tracing, 0))
        return;
    for (tbuf_t *b = atomic_load(&registry); b; b = b->next) {
        while (atomic_load(&b->busy))
            sched_yield();
        flush_buf(b);
    }
}

void trace_resume(void)
{
    if (trace_fd >= 0 && getpid() == self_pid)
        atomic_store(&tracing, 1);
}

/* At exit: write everything and close the file. */
void trace_stop(void)
{
    if (getpid() != self_pid)
        return;
    trace_suspend();
    pthread_mutex_lock(&file_lock);
    if (trace_fd >= 0 && trace_pid == getpid())
        close(trace_fd);
    trace_fd = -1;
    pthread_mutex_unlock(&file_lock);
}
