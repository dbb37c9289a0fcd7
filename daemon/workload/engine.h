/* What a workload profile is built from. A profile owns per-thread state and
 * does its work in step(), through these helpers, which enforce the rate and
 * the live-bytes cap, fill every block with a pattern and check it on free
 * (so corruption is counted), and pass some blocks to other threads (so
 * frees also happen across threads).
 *
 * Adding a profile: write its functions and add one entry to wl_profiles[]
 * in workload_profiles.c. */
#ifndef POOLD_WORKLOAD_ENGINE_H
#define POOLD_WORKLOAD_ENGINE_H

#include "service/clock.h"
#include "workload/workload.h"

#include <stddef.h>
#include <stdint.h>

typedef struct wl_block {
    void    *p;
    uint32_t size;
    uint32_t seed;     /* the fill pattern */
} wl_block;

typedef struct wl_thread wl_thread;

typedef struct wl_profile {
    const char *name;
    const char *summary;
    size_t      state_size;                        /* per thread, zeroed */
    /* NULL step: the profile runs no threads at all (idle). */
    void (*init)(wl_thread *t, void *state);       /* optional */
    void (*step)(wl_thread *t, void *state);
    void (*fini)(wl_thread *t, void *state);       /* release what is held */
    /* optional: is cfg runnable (e.g. a readable trace)? 0, or -1 and why */
    int  (*check)(const workload_config_t *cfg, char *err, size_t len);
} wl_profile;

extern const wl_profile *const wl_profiles[];      /* NULL-terminated */
extern const wl_profile wl_replay_profile;         /* replay.c */

/* ---- helpers for profiles -------------------------------------------------- */

typedef enum { WL_OK, WL_FAILED, WL_STOPPING } wl_result;
/* How a free is paced: wait for a token, take one on credit (a burst of
 * frees now, paid for by waiting later), or not at all (shutting down). */
typedef enum { WL_PACED, WL_DEBT, WL_UNPACED } wl_pacing;

/* Allocates size bytes (paced), filled with a pattern. WL_FAILED when the cap
 * or the allocator refused (counted). */
wl_result wl_alloc(wl_thread *t, size_t size, wl_block *out);
/* The same, aligned to a power of two (served unaligned when the obj
 * domain is not the plain pool allocator, whose free could not take it). */
wl_result wl_alloc_aligned(wl_thread *t, size_t alignment, size_t size, wl_block *out);
/* Resizes b (paced, under the cap), checking the pattern before and what
 * realloc kept after; on WL_FAILED b is unchanged. */
wl_result wl_realloc(wl_thread *t, wl_block *b, size_t size);
/* Checks the pattern, then frees. */
void      wl_free(wl_thread *t, wl_block *b, wl_pacing how);
/* Hands the block to another thread, which frees it; frees it here when
 * there is no other thread or its inbox is full. */
void      wl_give(wl_thread *t, wl_block *b);
bool      wl_stopping(const wl_thread *t);
/* Sleeps until the CLOCK_MONOTONIC time deadline_ns (within 2 ms, in short
 * slices that count as progress for the watchdog); false when stopping. */
bool      wl_wait_until(wl_thread *t, uint64_t deadline_ns);
uint64_t  wl_rand(wl_thread *t);
/* Uniform in [lo, hi]. */
size_t    wl_rand_range(wl_thread *t, size_t lo, size_t hi);
const workload_config_t *wl_config(const wl_thread *t);
unsigned  wl_thread_count(const wl_thread *t);

/* A bag of live blocks (plain malloc memory, not the pool's). */
typedef struct wl_set {
    wl_block *v;
    size_t    n, cap;
    uint64_t  bytes;
} wl_set;

bool     wl_set_push(wl_set *s, const wl_block *b);
/* Removes and returns element i (the last element takes its place). */
wl_block wl_set_take(wl_set *s, size_t i);
/* Frees every block and the bag itself. */
void     wl_set_release(wl_thread *t, wl_set *s, wl_pacing how);

#endif
