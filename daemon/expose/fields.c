/* The shared field tables; see fields.h. */
#include "expose/fields.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define FIELD(name, member) { name, offsetof(pool_stats_t, member) }
#define GROUP(label, json, table) { label, json, table, sizeof table / sizeof table[0] }

static const fields_field_t bytes[] = {
    FIELD("allocated", bytes.allocated),       FIELD("free_blocks", bytes.free_blocks),
    FIELD("empty_pools", bytes.empty_pools),   FIELD("untouched", bytes.untouched),
    FIELD("pool_headers", bytes.pool_headers), FIELD("quantization", bytes.quantization),
    FIELD("alignment", bytes.alignment),       FIELD("returned", bytes.returned),
};
static const fields_field_t pools[] = {
    FIELD("used", pools_used), FIELD("empty", pools_empty),
    FIELD("untouched", pools_untouched), FIELD("returned", pools_returned),
    FIELD("span", pools_span),
};
static const fields_field_t ops[] = {
    FIELD("malloc", ops.malloc),   FIELD("free", ops.free),
    FIELD("calloc", ops.calloc),   FIELD("realloc", ops.realloc),
    FIELD("realloc_inplace", ops.realloc_inplace), FIELD("aligned", ops.aligned),
    FIELD("remote_free", ops.remote_free), FIELD("failed", ops.failed),
};

const fields_group_t fields_bytes = GROUP("kind", "bytes", bytes);
const fields_group_t fields_pools = GROUP("state", "pools", pools);
const fields_group_t fields_ops = GROUP("op", "operations", ops);

uint64_t fields_value(const pool_stats_t *st, const fields_field_t *f)
{
    uint64_t v;
    memcpy(&v, (const char *)st + f->offset, sizeof v);
    return v;
}

unsigned fields_class_size(unsigned c) { return pool_class_size(c); }

static char class_labels[POOL_NUM_CLASSES][8];

static void make_class_labels(void)
{
    for (unsigned c = 0; c < POOL_NUM_CLASSES; c++)
        snprintf(class_labels[c], sizeof class_labels[c], "%u", fields_class_size(c));
}

const char *fields_class_label(unsigned c)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_class_labels);
    return c < POOL_NUM_CLASSES ? class_labels[c] : "";
}
