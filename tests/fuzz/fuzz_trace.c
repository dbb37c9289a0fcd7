/* libFuzzer target: the trace reader and the trace model. The input is a
 * trace file (put in a memfd). Whatever it holds, reading must end with a
 * record count or an error naming an offset, and replaying it into real
 * heap blocks (made with malloc, filled with the pattern, checked when
 * resized and freed) must lose nothing and corrupt nothing: ASan and LSan
 * watch. Two passes, with trace_rewind between them. */
#define _GNU_SOURCE
#include "block_pattern.h"
#include "trace_model.h"
#include "trace_reader.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long held;

static bool f_alloc(void *ctx, tm_block_t *b, const trace_record_t *rec)
{
    (void)ctx;
    (void)rec;
    void *p = malloc(b->size ? b->size : 1);
    if (!p)
        return false;
    b->block = p;
    b->seed = (uint32_t)b->addr;
    bp_fill(p, 0, b->size, b->seed);
    held++;
    return true;
}

static bool f_resize(void *ctx, tm_block_t *b, uint64_t n)
{
    (void)ctx;
    if (!bp_intact(b->block, b->size, b->seed))
        abort();
    void *p = realloc(b->block, n ? n : 1);
    if (!p)
        return false;
    b->block = p;
    bp_fill(p, b->size < n ? b->size : n, n, b->seed);
    return true;
}

static void f_release(void *ctx, tm_block_t *b, const trace_record_t *rec)
{
    (void)ctx;
    (void)rec;
    if (!bp_intact(b->block, b->size, b->seed))
        abort();
    free(b->block);
    held--;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("trace", MFD_CLOEXEC);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    char err[512];
    trace_reader_t *r = trace_open_fd(fd, "fuzz", err, sizeof err);
    if (!r) {
        if (!strstr(err, "offset "))
            abort();
        return 0;
    }
    tm_limits_t lim = { .max_live = 1024, .max_request = 1 << 16, .max_alignment = 1 << 12 };
    tm_ops_t ops = { f_alloc, f_resize, f_release, NULL };
    trace_model_t *m = tm_new(&lim, &ops);
    for (int pass = 0; m && pass < 2; pass++) {
        trace_record_t rec;
        uint64_t n = 0;
        int k;
        while ((k = trace_next(r, &rec)) > 0) {
            if (rec.op < TRACE_OP_MALLOC || rec.op > TRACE_OP_ALIGNED)
                abort();
            tm_apply(m, &rec);
            n++;
        }
        if ((k < 0 && !strstr(trace_error(r), "offset ")) || n > trace_info(r)->records)
            abort();
        uint64_t bytes, blocks;
        tm_finish(m, &bytes, &blocks);
        if (held != 0)
            abort();
        trace_rewind(r);
    }
    tm_free(m);
    trace_close(r);
    return 0;
}
