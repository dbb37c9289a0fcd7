/* HTTP self-metrics: requests answered, by status code, and requests in
 * flight. Lock-free; updated by the HTTP threads, read by scrapes. */
#ifndef POOLD_HTTP_STATS_H
#define POOLD_HTTP_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Every status code poold answers with; all are exported from the start. */
extern const unsigned http_codes[];
extern const size_t http_code_count;

void     http_stats_count(unsigned code);
uint64_t http_stats_requests(size_t code_index);
/* Returns the new number in flight. */
int      http_stats_inflight_add(int delta);
int      http_stats_inflight(void);

#endif
