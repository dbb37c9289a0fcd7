/* The exposition encoder: Prometheus text 0.0.4 and OpenMetrics 1.0 from
 * the same calls. Escaping, number formatting and the per-format details
 * (counter family names, # UNIT, # EOF) live here and nowhere else. */
#ifndef POOLD_METRICS_TEXT_H
#define POOLD_METRICS_TEXT_H

#include "service/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { EXPO_TEXT, EXPO_OPENMETRICS } expo_format_t;
typedef enum {
    MT_COUNTER, MT_GAUGE, MT_HISTOGRAM,
} metric_type_t;

typedef struct { const char *name, *value; } label_t;

typedef struct expo {
    buf_t        *out;
    expo_format_t format;
    const char   *family;   /* the full name given to expo_family */
} expo_t;

void expo_init(expo_t *e, buf_t *out, expo_format_t format);
/* Starts a family. Counters are named with their _total suffix; the encoder
 * drops it where OpenMetrics wants the bare family name. */
void expo_family(expo_t *e, const char *name, metric_type_t type, const char *help);
/* A sample of the current family: its name plus suffix ("" or "_bucket"...). */
void expo_u64(expo_t *e, const char *suffix, const label_t *labels, size_t n, uint64_t v);
void expo_f64(expo_t *e, const char *suffix, const label_t *labels, size_t n, double v);
/* A cumulative histogram: counts[i] observations <= bounds[i], then +Inf = count. */
void expo_histogram(expo_t *e, const double *bounds, const uint64_t *cumulative, size_t n,
                    double sum, uint64_t count);
/* Ends the exposition (OpenMetrics: # EOF). */
void expo_finish(expo_t *e);

/* Shortest text that reads back as v, in Go's strconv 'g' form (1e+06,
 * 0.5, 262144); NaN, +Inf and -Inf spelled as Prometheus does. */
size_t expo_format_float(double v, char out[32]);
/* The canonical le="" string: the above plus ".0" when it looks like an
 * integer ("16.0", "1e+06", "+Inf"), the same in both formats. */
size_t expo_format_le(double v, char out[32]);
/* Label-value escaping (\\, \", \n), shared by both formats. */
void expo_escape_label(buf_t *b, const char *v);

#endif
