/* libFuzzer target: a statistics segment, read as the process collector
 * reads it. The input is written as DIR/poolmalloc.<our pid> (with the pid
 * and times patched to look alive and fresh, when the input is long
 * enough and its last byte even, so the consistency checks are what
 * decides), then the whole
 * scrape path runs: the collector's scan, /metrics in both formats and
 * /stats. The reader alone also reads it from a memfd. Whatever the bytes,
 * no crash, and whatever is exported passed export_stats_valid and
 * export_map_valid. Versions 1 and 2 share the patched offsets. */
#define _GNU_SOURCE
#include "collectors/processes.h"
#include "expose/metrics.h"
#include "expose/stats_json.h"
#include "service/buf.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/poold-fuzz-seg.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/" EXPORT_FILE_PREFIX "%d", dir, (int)getpid());
    processes_configure(true, dir, 4);
}

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

static void patch_u(uint8_t *p, size_t size, size_t off, uint64_t v, size_t n)
{
    if (off + n <= size)
        memcpy(p + off, &v, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        setup();
        atexit(cleanup);
    }
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (size && !(data[size - 1] & 1)) {   /* most inputs: alive and fresh */
        patch_u(copy, size, offsetof(pool_export_header_t, pid), (uint64_t)getpid(), 4);
        patch_u(copy, size, offsetof(pool_export_header_t, start_realtime_ns), now, 8);
        patch_u(copy, size, offsetof(pool_export_header_t, updated_realtime_ns), now, 8);
    }
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(copy, 1, size, f);
        fclose(f);
    }
    int fd = memfd_create("segment", MFD_CLOEXEC);
    if (fd >= 0 && write(fd, copy, size) == (ssize_t)size) {
        export_snapshot_t snap;
        char why[160];
        if (export_read_fd(fd, 0, true, &snap, why, sizeof why) == EXPORT_OK) {
            if (!export_stats_valid(&snap.stats, snap.allocator, snap.has, why, sizeof why) ||
                !export_map_valid(snap.map, snap.map_records, &snap.stats, snap.allocator, why,
                                  sizeof why))
                abort();
            export_snapshot_free(&snap);
        }
    }
    if (fd >= 0)
        close(fd);
    processes_view_t v;
    processes_collect(&v, true);
    for (size_t i = 0; i < v.n; i++) {
        const export_snapshot_t *p = &v.procs[i];
        char why[160];
        if (!export_stats_valid(&p->stats, p->allocator, p->has, why, sizeof why) ||
            !export_map_valid(p->map, p->map_records, &p->stats, p->allocator, why, sizeof why))
            abort();
    }
    if (getenv("FUZZ_SEGMENT_SAY"))
        fprintf(stderr, "exported %zu\n", v.n);
    processes_view_free(&v);
    for (int fmt = 0; fmt < 2; fmt++) {
        buf_t b;
        buf_init(&b);
        metrics_render(&b, fmt ? EXPO_OPENMETRICS : EXPO_TEXT);
        buf_free(&b);
    }
    size_t len;
    free(stats_json_full(&len));
    free(copy);
    return 0;
}
