/* Medium-size churn: one thread replaces random blocks of 512 B - 64 KiB
 * (as many of 1-2 KiB as of 32-64 KiB) in a working set of a few thousand:
 * buffers, strings and hash tables of real programs, which a pool that
 * stops at 512 bytes hands to the system allocator. */
#include "balloc.h"
#include "churn.h"

#define MEDIUM_LIVE 2000u
#define MEDIUM_OPS  80000u      /* replacements per run (before scaling) */

void work_medium(void)
{
    churn_run_log("medium", 512, 64u << 10, (uint32_t)scaled(MEDIUM_LIVE, 200), scaled(MEDIUM_OPS, 2000));
}
