/* The large range: one thread replaces random blocks of 513 B - 1 MiB
 * (every doubling as likely as the next) in a working set of a few
 * hundred. It spans the medium tier, its upper edge and the sizes passed
 * to the system allocator or mmap. */
#include "balloc.h"
#include "churn.h"

#define LARGE_LIVE 200u
#define LARGE_OPS  10000u       /* replacements per run (before scaling) */

void work_large(void)
{
    churn_run_log("large", 513, 1u << 20, (uint32_t)scaled(LARGE_LIVE, 50), scaled(LARGE_OPS, 500));
}
