/* Making and updating statistics segment files; see export_file.h. */
#define _GNU_SOURCE
#include "export_file.h"
#include "export_format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t export_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void export_process_name(pid_t pid, char out[16])
{
    char p[64], buf[32] = { 0 };
    snprintf(p, sizeof p, "/proc/%d/comm", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == 0))
        buf[--n] = 0;
    memset(out, 0, 16);
    memcpy(out, buf, n > 15 ? 15 : (n > 0 ? (size_t)n : 0));
}

void export_seq_begin(uint64_t *seq)
{
    uint64_t s = __atomic_load_n(seq, __ATOMIC_RELAXED);
    __atomic_store_n(seq, s | 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

void export_seq_end(uint64_t *seq)
{
    uint64_t s = __atomic_load_n(seq, __ATOMIC_RELAXED);
    __atomic_store_n(seq, (s | 1) + 1, __ATOMIC_RELEASE);
}

void *export_file_create(const char *dir, pid_t pid, mode_t mode, size_t size,
                         void (*fill)(void *map, void *arg), void *arg, char *path,
                         size_t path_len, char *err, size_t err_len)
{
    char tmp[1300];
    snprintf(path, path_len, "%s/" EXPORT_FILE_PREFIX "%d", dir, (int)pid);
    snprintf(tmp, sizeof tmp, "%s/." EXPORT_FILE_PREFIX "%d.new", dir, (int)pid);
    unlink(tmp);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, err_len, "cannot create %s: %s", tmp, strerror(errno));
        return NULL;
    }
    fchmod(fd, mode);   /* the umask must not take away what was asked */
    void *p = MAP_FAILED;
    int e = 0;
    if (ftruncate(fd, (off_t)size) != 0 ||
        (p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
        e = errno;
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, err_len, "cannot size %s: %s", tmp, strerror(e));
        unlink(tmp);
        return NULL;
    }
    fill(p, arg);
    if (rename(tmp, path) != 0) {
        snprintf(err, err_len, "cannot create %s: %s", path, strerror(errno));
        unlink(tmp);
        munmap(p, size);
        return NULL;
    }
    return p;
}
