/* The pool allocator as a PEP 445 allocator struct (pool_domain.c). */
#ifndef POOLPYTHON_POOL_DOMAIN_H
#define POOLPYTHON_POOL_DOMAIN_H

#include <poolalloc.h>

/* Fills *out with malloc/calloc/realloc/free that go to the pool allocator
 * and follow PEP 445's rules for 0-byte requests. */
void pool_domain_allocator(pool_allocator_t *out);

#endif
