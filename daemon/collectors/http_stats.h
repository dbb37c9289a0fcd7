/* HTTP self-metrics: requests answered, by status code, requests in
 * flight, requests refused, and connections (open, accepted, closed by
 * reason). Lock-free; updated by the HTTP threads, read by scrapes. */
#ifndef POOLD_HTTP_STATS_H
#define POOLD_HTTP_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Every status code poold answers with; all are exported from the start. */
extern const unsigned http_codes[];
extern const size_t http_code_count;

/* Why a connection ended; the order is the metric's label order. */
enum conn_close {
    CLOSE_NORMAL,          /* the client hung up, or the answer ended it */
    CLOSE_ERROR,           /* malformed request, read/write error */
    CLOSE_HEADER_TIMEOUT,
    CLOSE_IDLE_TIMEOUT,
    CLOSE_WRITE_TIMEOUT,
    CLOSE_EVICTED,         /* idle or header-incomplete, closed to make room */
    CLOSE_REFUSED,         /* refused on arrival: the limit is full of busy connections */
    CLOSE_SHUTDOWN,
    CLOSE_REASONS
};
extern const char *const conn_close_names[CLOSE_REASONS];

/* Requests poold would not serve, by reason (label order). */
enum http_refusal { REFUSED_MAX_REQUESTS, REFUSED_BODY, REFUSED_UNAUTHORIZED, REFUSED_REASONS };
extern const char *const http_refusal_names[REFUSED_REASONS];

void     http_stats_count(unsigned code);
uint64_t http_stats_requests(size_t code_index);
/* Returns the new number in flight. */
int      http_stats_inflight_add(int delta);
int      http_stats_inflight(void);

void     http_stats_refused(enum http_refusal why);
uint64_t http_stats_refusals(enum http_refusal why);
/* Connections: opened, and closed with a reason (enum conn_close). */
void     http_stats_conn_opened(void);
void     http_stats_conn_closed(int reason);
uint64_t http_stats_conn_accepted(void);
uint64_t http_stats_conn_closes(int reason);
int64_t  http_stats_conn_open(void);

#endif
