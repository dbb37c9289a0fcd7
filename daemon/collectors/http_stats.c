/* HTTP self-metrics; see http_stats.h. */
#include "collectors/http_stats.h"

#include <stdatomic.h>

const unsigned http_codes[] = { 200, 400, 401, 404, 405, 413, 500, 503 };
const size_t http_code_count = sizeof http_codes / sizeof http_codes[0];

static _Atomic uint64_t requests[sizeof http_codes / sizeof http_codes[0]];
static _Atomic int inflight;

void http_stats_count(unsigned code)
{
    for (size_t i = 0; i < http_code_count; i++)
        if (http_codes[i] == code) {
            atomic_fetch_add_explicit(&requests[i], 1, memory_order_relaxed);
            return;
        }
    /* Not a code poold sends: count it as the server error it would be. */
    atomic_fetch_add_explicit(&requests[6], 1, memory_order_relaxed);
}

uint64_t http_stats_requests(size_t i) { return atomic_load_explicit(&requests[i], memory_order_relaxed); }

int http_stats_inflight_add(int delta) { return atomic_fetch_add(&inflight, delta) + delta; }
int http_stats_inflight(void) { return atomic_load(&inflight); }
