/* In-flight slots: how many answers may be on their way at once.
 *
 * Scrapes (the telemetry path) have --web.max-requests of them; the other
 * pages together an eighth of that (at least one). The pages are the
 * expensive ones (a full arena page takes tens of milliseconds to build, in
 * the same polling thread that answers the scraper), and clients that hold
 * the pages' slots cannot turn the monitoring away.
 *
 * An answer stays in flight until its client has read it. One nobody has
 * finished reading after STALLED_ANSWER_MS gives its slot to a new request
 * rather than make that one take a 503: answers are built before they are
 * sent, and on any working link even the biggest is delivered far sooner.
 * A scrape whose client has left a whole send buffer unread (pipelining
 * without reading) gives it up at once; a page waits the full grace, which
 * bounds how many pages non-readers make poold build.
 * It is parked: it goes on without a slot until its write deadline; when as
 * many are parked as there are slots, the stalled answer is closed instead.
 * Parked answers still count in poold_http_requests_in_flight. */
#ifndef POOLD_SLOTS_H
#define POOLD_SLOTS_H

#include "http/conntrack.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { SLOT_SCRAPE, SLOT_PAGE, SLOT_CLASSES };

/* --web.max-requests; 0 = no limit. */
void     slots_set_limit(unsigned max_requests);
unsigned slots_limit(int cls);
int      slots_class(const char *url, const char *telemetry_path);
/* A slot of class cls for a new request: a free one, or one a stalled
 * answer in one of the tables gives up. False: answer 503. */
bool     slots_take(int cls, conntab_t *const *tables, size_t n_tables, int64_t now_ms);
/* Gives back a slot conntab_done or conntab_close reported (cls -1: none). */
void     slots_release(int cls, bool was_parked);

#endif
