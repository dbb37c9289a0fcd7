/* Shared between the domain table (domains.c) and the debug hooks (debug.c). */
#ifndef POOL_DOMAINS_H
#define POOL_DOMAINS_H

#include "internal.h"

/* Fill *out with debug hooks wrapping *inner for domain d. Returns false
 * (and leaves *out alone) when *inner already is the debug hooks. */
bool debug_wrap(pool_domain_t d, const pool_allocator_t *inner, pool_allocator_t *out);

/* Wrap all three current allocators using static storage only (this runs
 * inside the first malloc of a process, where nothing may allocate). */
void debug_install_static(const pool_allocator_t *_Atomic cur[POOL_NUM_DOMAINS]);

/* Aligned allocation through a domain's debug hooks (for the preload shim). */
void *debug_memalign(const pool_allocator_t *hooks, size_t align, size_t n);
bool  debug_is_hooks(const pool_allocator_t *a);
size_t debug_block_size(const void *p);   /* bytes requested for a hooked block */

const char *domains_env_name(void);

#endif
