/* In-flight slots; see slots.h. */
#include "http/slots.h"
#include "collectors/http_stats.h"

#include <stdatomic.h>
#include <string.h>

#define STALLED_ANSWER_MS 1000
#define PAGE_SLOT_SHARE 8

static _Atomic unsigned max_requests;
static _Atomic int active[SLOT_CLASSES], parked[SLOT_CLASSES];

void slots_set_limit(unsigned n) { atomic_store(&max_requests, n); }

unsigned slots_limit(int cls)
{
    unsigned limit = atomic_load(&max_requests);
    if (cls == SLOT_SCRAPE || !limit)
        return limit;
    return limit / PAGE_SLOT_SHARE ? limit / PAGE_SLOT_SHARE : 1;
}

int slots_class(const char *url, const char *telemetry_path)
{
    return telemetry_path && strcmp(url, telemetry_path) == 0 ? SLOT_SCRAPE : SLOT_PAGE;
}

void slots_release(int cls, bool was_parked)
{
    if (cls < 0)
        return;
    atomic_fetch_sub(was_parked ? &parked[cls] : &active[cls], 1);
    http_stats_inflight_add(-1);
}

/* Scrapes cost little to build and must not be refused: one whose client
 * reads nothing gives its slot up at once. A page is dear to build, and the
 * second's grace is what bounds how many a flood of non-readers makes
 * poold build (slots per second), in the thread that answers the scraper. */
static const slot_grace_t grace[SLOT_CLASSES] = {
    [SLOT_SCRAPE] = { STALLED_ANSWER_MS, true },
    [SLOT_PAGE] = { STALLED_ANSWER_MS, false },
};

bool slots_take(int cls, conntab_t *const *tables, size_t n_tables, int64_t now_ms)
{
    unsigned limit = slots_limit(cls);
    int n = atomic_fetch_add(&active[cls], 1) + 1;
    if (!limit || n <= (int)limit) {
        http_stats_inflight_add(1);
        return true;
    }
    bool close_it = (unsigned)atomic_load(&parked[cls]) >= limit;
    for (size_t i = 0; i < n_tables; i++)
        if (conntab_free_slot(tables[i], cls, now_ms, &grace[cls], close_it)) {
            /* The stalled answer's slot is this request's now; parked, it
             * is still in flight; closed, it is not. */
            atomic_fetch_sub(&active[cls], 1);
            if (close_it)
                http_stats_inflight_add(-1);
            else
                atomic_fetch_add(&parked[cls], 1);
            http_stats_inflight_add(1);
            return true;
        }
    atomic_fetch_sub(&active[cls], 1);
    return false;
}
