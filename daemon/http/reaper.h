/* The deadline thread: ten times a second it closes the connections past
 * their deadline (conntab_reap), and after a flood it gives glibc's freed
 * buffers back to the kernel. One for all listeners. */
#ifndef POOLD_REAPER_H
#define POOLD_REAPER_H

#include "http/conntrack.h"

#include <stddef.h>

/* Watches tables[0..n) (which must outlive reaper_stop). 0, or -1. */
int  reaper_start(conntab_t *const *tables, size_t n);
void reaper_stop(void);

#endif
