/* Connection tracking: what every open HTTP connection is doing, since when,
 * and until when it may keep doing it. libmicrohttpd has one inactivity
 * timeout and no notion of which connection to drop when room is needed;
 * this is poold's own policy on top of it.
 *
 * A connection is in one of three states:
 *   WAITING  no complete request yet: just connected (or TLS handshake), or
 *            a later request whose request line has come but not its header;
 *            it must finish the header by the header deadline
 *   ANSWER   a complete request is being answered; the answer must be
 *            delivered by the write deadline
 *   IDLE     keep-alive between requests; closed at the idle deadline
 * Deadlines are absolute (a byte a second does not extend them), unlike
 * libmicrohttpd's timeout, which only counts silence.
 *
 * Room: when a listener holds more live connections than its limit, the
 * oldest IDLE one goes first, then the oldest WAITING one; a connection
 * being answered is never pushed out for a newcomer. So a flood of
 * half-sent headers only ever displaces other half-sent headers and idle
 * keep-alives, never a client that has sent its request.
 *
 * Threads: a table belongs to one libmicrohttpd daemon (one polling thread),
 * but the reaper thread and the in-flight slot hand-over read it too; one
 * mutex per table, never two held at once. Closing means shutdown(2) on the
 * socket (with a zero linger, so no unsent answer lingers in the kernel);
 * the polling thread then sees the hang-up and closes it. An entry leaves
 * the table in the close notification, which libmicrohttpd sends before it
 * closes the descriptor, so a descriptor in the table is never a reused one. */
#ifndef POOLD_CONNTRACK_H
#define POOLD_CONNTRACK_H

#include "collectors/http_stats.h"
#include "service/clock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum conn_state { CONN_WAITING, CONN_ANSWER, CONN_IDLE };

/* The tables' clock: monotonic milliseconds. */
static inline int64_t conn_now_ms(void) { return (int64_t)(mono_ns() / 1000000); }

typedef struct conn_limits {
    unsigned max_connections;      /* live connections per listener */
    unsigned max_per_address;      /* per remote address; 0 = none; never for loopback */
    int64_t  header_ms, idle_ms, write_ms;
} conn_limits_t;

typedef struct conn {
    int      fd;
    enum conn_state state;
    int64_t  since_ms, deadline_ms;
    int      reason;               /* -1 until poold decides to close it */
    bool     local;                /* loopback or AF_UNIX: shares its address with everybody */
    int      slot;                 /* the in-flight slot class it holds, or -1 */
    bool     parked;               /* its slot was handed on; the answer goes on */
    bool     probe;                /* the watchdog's own request: never limited */
    bool     failed;               /* the last request ended in an error */
    bool     requested;            /* a request line came in this WAITING spell */
    uint8_t  addr[16];             /* remote address (IPv4 in the first 4 bytes) */
    uint32_t index;                /* in the table */
} conn_t;

typedef struct conntab {
    pthread_mutex_t lock;
    conn_limits_t   lim;
    conn_t        **live;          /* the open connections, unordered */
    size_t          n, cap, n_shut;
} conntab_t;

int  conntab_init(conntab_t *t, const conn_limits_t *lim, size_t cap);
void conntab_destroy(conntab_t *t);

/* A new connection (the caller holds no lock). Returns the entry, or NULL
 * when it must be refused (the caller counts and closes it). Makes room
 * first when the listener is over its limit. */
conn_t *conntab_open(conntab_t *t, int fd, const void *sockaddr, unsigned addrlen,
                     bool probe, int64_t now_ms);
/* The entry goes; returns why it closed, and the slot its request still
 * held, as conntab_done does. */
int  conntab_close(conntab_t *t, conn_t *c, bool shutting_down, int *slot, bool *parked);

/* State changes from the polling thread. */
void conntab_request_line(conntab_t *t, conn_t *c, int64_t now_ms);
void conntab_answering(conntab_t *t, conn_t *c, int slot, int64_t now_ms);
/* Returns the slot class the request held, or -1 (the caller gives it
 * back), and whether it had been parked. */
int  conntab_done(conntab_t *t, conn_t *c, bool error, int64_t now_ms, bool *parked);

/* Closes every connection past its deadline; returns how many. */
size_t conntab_reap(conntab_t *t, int64_t now_ms);
/* When an answer in flight counts as stalled: after min_age_ms, or (with
 * or_behind) as soon as its client has left its whole send buffer unread. */
typedef struct slot_grace {
    int64_t min_age_ms;
    bool    or_behind;
} slot_grace_t;
/* Frees an in-flight slot of class cls held by the stalled answer that has
 * waited longest for its client: that answer is parked (it goes on,
 * bounded by its write deadline, without the slot), or closed when
 * close_it. True when a slot was freed. */
bool conntab_free_slot(conntab_t *t, int cls, int64_t now_ms, const slot_grace_t *grace,
                       bool close_it);

#endif
