/* Connection tracking and the room-making policy; see conntrack.h. */
#define _GNU_SOURCE
#include "http/conntrack.h"

#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int conntab_init(conntab_t *t, const conn_limits_t *lim, size_t cap)
{
    memset(t, 0, sizeof *t);
    t->lim = *lim;
    t->cap = cap;
    if (!(t->live = calloc(cap, sizeof *t->live)))
        return -1;
    pthread_mutex_init(&t->lock, NULL);
    return 0;
}

void conntab_destroy(conntab_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->live[i]);
    free(t->live);
    pthread_mutex_destroy(&t->lock);
    memset(t, 0, sizeof *t);
}

/* Loopback (IPv4, IPv6, IPv4-mapped) and AF_UNIX peers all look alike: any
 * local process can take any of these addresses, so a per-address limit
 * on them would only let one local client lock out all the others. */
static bool peer_address(const void *sa, unsigned len, uint8_t out[16])
{
    const struct sockaddr *a = sa;
    memset(out, 0, 16);
    if (!sa || len < sizeof(sa_family_t))
        return true;
    if (a->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct in_addr *in = &((const struct sockaddr_in *)sa)->sin_addr;
        memcpy(out, in, 4);
        return out[0] == 127;
    }
    if (a->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(in6)) {
            memcpy(out, in6->s6_addr + 12, 4);
            return out[0] == 127;
        }
        memcpy(out, in6, 16);
        return IN6_IS_ADDR_LOOPBACK(in6);
    }
    return true;
}

/* Ends a connection from any thread: the zero linger makes the polling
 * thread's close() drop whatever answer is still queued (a reset, not a
 * kernel buffer kept for a client that reads nothing). */
static void shut(conntab_t *t, conn_t *c, int reason)
{
    if (c->reason >= 0)
        return;
    c->reason = reason;
    t->n_shut++;
    struct linger lg = { 1, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    shutdown(c->fd, SHUT_RDWR);
}

static bool live(const conn_t *c) { return c->reason < 0 && !c->probe; }

/* The oldest live connection in state s (optionally from one address),
 * other than skip. */
static conn_t *oldest(conntab_t *t, enum conn_state s, const conn_t *skip, const uint8_t *addr)
{
    conn_t *best = NULL;
    for (size_t i = 0; i < t->n; i++) {
        conn_t *c = t->live[i];
        if (c == skip || !live(c) || c->state != s || (addr && memcmp(c->addr, addr, 16) != 0))
            continue;
        if (!best || c->since_ms < best->since_ms)
            best = c;
    }
    return best;
}

/* Makes room for c by closing an idle connection, else one that has not
 * sent its request; false when every other connection is being answered. */
static bool make_room(conntab_t *t, conn_t *c, const uint8_t *addr)
{
    conn_t *v = oldest(t, CONN_IDLE, c, addr);
    if (!v)
        v = oldest(t, CONN_WAITING, c, addr);
    if (!v)
        return false;
    shut(t, v, CLOSE_EVICTED);
    return true;
}

static size_t from_address(const conntab_t *t, const uint8_t *addr)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += live(t->live[i]) && memcmp(t->live[i]->addr, addr, 16) == 0;
    return n;
}

static void set_state(conn_t *c, enum conn_state s, int64_t now, int64_t limit_ms)
{
    c->state = s;
    c->since_ms = now;
    c->deadline_ms = now + limit_ms;
}

conn_t *conntab_open(conntab_t *t, int fd, const void *sockaddr, unsigned addrlen, bool probe,
                     int64_t now_ms)
{
    conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->reason = -1;
    c->slot = -1;
    c->probe = probe;
    c->local = peer_address(sockaddr, addrlen, c->addr);
    set_state(c, CONN_WAITING, now_ms, t->lim.header_ms);
    pthread_mutex_lock(&t->lock);
    bool ok = t->n < t->cap;
    if (ok && !probe) {
        if (!c->local && t->lim.max_per_address &&
            from_address(t, c->addr) >= t->lim.max_per_address)
            ok = make_room(t, c, c->addr);
        if (ok && t->n - t->n_shut >= t->lim.max_connections)
            ok = make_room(t, c, NULL);
    }
    if (ok) {
        c->index = (uint32_t)t->n;
        t->live[t->n++] = c;
    }
    pthread_mutex_unlock(&t->lock);
    if (!ok) {
        free(c);
        return NULL;
    }
    return c;
}

int conntab_close(conntab_t *t, conn_t *c, bool shutting_down, int *slot, bool *parked)
{
    pthread_mutex_lock(&t->lock);
    *slot = c->slot;
    *parked = c->parked;
    conn_t *last = t->live[--t->n];
    last->index = c->index;
    t->live[c->index] = last;
    if (c->reason >= 0)
        t->n_shut--;
    pthread_mutex_unlock(&t->lock);
    int reason = c->reason;
    if (reason < 0)
        reason = shutting_down ? CLOSE_SHUTDOWN
               : c->failed || (c->state == CONN_WAITING && c->requested) ? CLOSE_ERROR
               : CLOSE_NORMAL;
    free(c);
    return reason;
}

void conntab_request_line(conntab_t *t, conn_t *c, int64_t now_ms)
{
    pthread_mutex_lock(&t->lock);
    if (c->state != CONN_WAITING)
        set_state(c, CONN_WAITING, now_ms, t->lim.header_ms);
    c->requested = true;
    pthread_mutex_unlock(&t->lock);
}

void conntab_answering(conntab_t *t, conn_t *c, int slot, int64_t now_ms)
{
    pthread_mutex_lock(&t->lock);
    set_state(c, CONN_ANSWER, now_ms, t->lim.write_ms);
    c->slot = slot;
    c->parked = false;
    pthread_mutex_unlock(&t->lock);
}

int conntab_done(conntab_t *t, conn_t *c, bool error, int64_t now_ms, bool *parked)
{
    pthread_mutex_lock(&t->lock);
    int slot = c->slot;
    *parked = c->parked;
    c->slot = -1;
    c->parked = false;
    c->failed = error;
    c->requested = false;
    set_state(c, CONN_IDLE, now_ms, t->lim.idle_ms);
    pthread_mutex_unlock(&t->lock);
    return slot;
}

size_t conntab_reap(conntab_t *t, int64_t now_ms)
{
    static const int why[] = {
        [CONN_WAITING] = CLOSE_HEADER_TIMEOUT,
        [CONN_ANSWER] = CLOSE_WRITE_TIMEOUT,
        [CONN_IDLE] = CLOSE_IDLE_TIMEOUT,
    };
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++) {
        conn_t *c = t->live[i];
        if (live(c) && now_ms >= c->deadline_ms) {
            shut(t, c, why[c->state]);
            n++;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* The socket takes no more bytes: its client has left (most of) a whole
 * send buffer unread. A client that reads never gets there with a scrape,
 * which the buffer holds many times over, so this is a client pipelining
 * requests without reading the answers, or one that stopped reading. */
static bool client_behind(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int n = poll(&p, 1, 0);
    return n == 0 || (n == 1 && !(p.revents & POLLOUT));
}

static bool stalled(const conn_t *c, int64_t now_ms, const slot_grace_t *g)
{
    return now_ms - c->since_ms >= g->min_age_ms || (g->or_behind && client_behind(c->fd));
}

bool conntab_free_slot(conntab_t *t, int cls, int64_t now_ms, const slot_grace_t *grace,
                       bool close_it)
{
    pthread_mutex_lock(&t->lock);
    conn_t *v = NULL;
    for (size_t i = 0; i < t->n; i++) {
        conn_t *c = t->live[i];
        if (live(c) && c->slot == cls && !c->parked && (!v || c->since_ms < v->since_ms) &&
            stalled(c, now_ms, grace))
            v = c;
    }
    if (v && close_it) {
        v->slot = -1;
        shut(t, v, CLOSE_EVICTED);
    } else if (v) {
        v->parked = true;
    }
    pthread_mutex_unlock(&t->lock);
    return v != NULL;
}
