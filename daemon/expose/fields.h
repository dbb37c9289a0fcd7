/* The figures of an allocator snapshot that /metrics and /stats both show,
 * named once: a group's field name is the Prometheus label value (under the
 * group's label) and the JSON key (in the group's object), so the two
 * encoders cannot drift apart. */
#ifndef POOLD_FIELDS_H
#define POOLD_FIELDS_H

#include <poolalloc.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;     /* "allocated", "used", "malloc" ... */
    size_t      offset;   /* of a uint64_t in pool_stats_t */
} fields_field_t;

typedef struct {
    const char           *label;   /* Prometheus label: "kind", "state", "op" */
    const char           *json;    /* JSON object: "bytes", "pools", "operations" */
    const fields_field_t *fields;
    size_t                n;
} fields_group_t;

extern const fields_group_t fields_bytes;   /* where the mapped bytes are */
extern const fields_group_t fields_pools;   /* pools by state */
extern const fields_group_t fields_ops;     /* allocator calls */

uint64_t fields_value(const pool_stats_t *st, const fields_field_t *f);

/* The block size of size class c, as poolalloc.h defines it, and the same
 * as a label value ("16" ... "512"); the one place either is derived. */
unsigned    fields_class_size(unsigned c);
const char *fields_class_label(unsigned c);

#endif
