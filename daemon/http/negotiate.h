/* Content negotiation for /metrics: which exposition format the client's
 * Accept header asks for first, and whether Accept-Encoding allows gzip. */
#ifndef POOLD_NEGOTIATE_H
#define POOLD_NEGOTIATE_H

#include "expose/metrics_text.h"

#include <stdbool.h>

typedef struct {
    expo_format_t format;
    const char   *content_type;
} negotiated_t;

/* The highest-weighted type poold can serve; text 0.0.4 when none is (or
 * accept is NULL), as the Prometheus client libraries do. */
negotiated_t negotiate_format(const char *accept);
bool negotiate_gzip(const char *accept_encoding);

#define CONTENT_TYPE_TEXT   "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_OM_100 "application/openmetrics-text; version=1.0.0; charset=utf-8"
#define CONTENT_TYPE_OM_001 "application/openmetrics-text; version=0.0.1; charset=utf-8"

#endif
