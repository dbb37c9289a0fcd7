/* HTTP self-metrics; see http_stats.h. */
#include "collectors/http_stats.h"

#include <stdatomic.h>

const unsigned http_codes[] = { 200, 400, 401, 404, 405, 413, 500, 503 };
const size_t http_code_count = sizeof http_codes / sizeof http_codes[0];
const char *const conn_close_names[CLOSE_REASONS] = {
    "normal", "error", "header_timeout", "idle_timeout", "write_timeout",
    "evicted", "refused", "shutdown",
};
const char *const http_refusal_names[REFUSED_REASONS] = { "max_requests", "body", "unauthorized" };

static _Atomic uint64_t requests[sizeof http_codes / sizeof http_codes[0]];
static _Atomic int inflight;
static _Atomic uint64_t refused[REFUSED_REASONS];
static _Atomic uint64_t accepted, closes[CLOSE_REASONS];
static _Atomic int64_t open_now;

static void bump(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }
static uint64_t peek(_Atomic uint64_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

void http_stats_count(unsigned code)
{
    for (size_t i = 0; i < http_code_count; i++)
        if (http_codes[i] == code) {
            bump(&requests[i]);
            return;
        }
    /* Not a code poold sends: count it as the server error it would be. */
    bump(&requests[6]);
}

uint64_t http_stats_requests(size_t i) { return peek(&requests[i]); }

int http_stats_inflight_add(int delta) { return atomic_fetch_add(&inflight, delta) + delta; }
int http_stats_inflight(void) { return atomic_load(&inflight); }

void http_stats_refused(enum http_refusal why) { bump(&refused[why]); }
uint64_t http_stats_refusals(enum http_refusal why) { return peek(&refused[why]); }

void http_stats_conn_opened(void)
{
    bump(&accepted);
    atomic_fetch_add_explicit(&open_now, 1, memory_order_relaxed);
}

void http_stats_conn_closed(int reason)
{
    bump(&closes[reason]);
    atomic_fetch_sub_explicit(&open_now, 1, memory_order_relaxed);
}

uint64_t http_stats_conn_accepted(void) { return peek(&accepted); }
uint64_t http_stats_conn_closes(int reason) { return peek(&closes[reason]); }
int64_t http_stats_conn_open(void) { return atomic_load_explicit(&open_now, memory_order_relaxed); }
