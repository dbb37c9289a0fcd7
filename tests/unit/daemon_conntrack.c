/* daemon-conntrack: the connection policy of daemon/http/conntrack.c on its
 * own, with socketpairs standing in for client connections (a connection
 * poold closes shows as end-of-file on the client's side) and a clock the
 * test moves by hand. */
#define _GNU_SOURCE
#include "http/conntrack.h"
#include "tap.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct client {
    int     mine;      /* the test's end */
    conn_t *c;
} client_t;

static struct sockaddr_in v4(const char *ip)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(40000) };
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static client_t connect_from(conntab_t *t, const char *ip, int64_t now)
{
    int sv[2];
    client_t cl = { -1, NULL };
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return cl;
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    struct sockaddr_in a = v4(ip);
    cl.mine = sv[0];
    cl.c = conntab_open(t, sv[1], &a, sizeof a, false, now);
    if (!cl.c)
        close(sv[1]);
    return cl;
}

/* True when poold's side was shut: the client reads end-of-file. */
static bool was_closed(const client_t *cl)
{
    char b;
    return recv(cl->mine, &b, 1, 0) == 0;
}

/* The polling thread's part of a close: the entry goes, its socket too;
 * returns the reason, and the slot the entry still held. */
static int finish_as(conntab_t *t, client_t *cl, bool shutting_down, int *slot, bool *parked)
{
    int fd = cl->c->fd;
    int why = conntab_close(t, cl->c, shutting_down, slot, parked);
    close(fd);
    close(cl->mine);
    cl->c = NULL;
    return why;
}

static int finish(conntab_t *t, client_t *cl)
{
    int slot;
    bool parked;
    return finish_as(t, cl, false, &slot, &parked);
}

/* Closes every client given and the table. */
static void finish_all(conntab_t *t, client_t *const *cls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cls[i]->c)
            finish(t, cls[i]);
    conntab_destroy(t);
}

/* A table with deadlines of 100 ms (header), 1 s (idle) and 500 ms (write). */
static void table(conntab_t *t, unsigned max, unsigned per_address)
{
    conn_limits_t lim = { .max_connections = max, .max_per_address = per_address,
                          .header_ms = 100, .idle_ms = 1000, .write_ms = 500 };
    conntab_init(t, &lim, max + 16);
}

static void making_room(void)
{
    conntab_t t;
    table(&t, 3, 0);
    client_t a = connect_from(&t, "127.0.0.1", 0), b = connect_from(&t, "127.0.0.1", 1),
             c = connect_from(&t, "127.0.0.1", 2);
    OK(a.c && b.c && c.c, "three connections fit a limit of three");
    conntab_answering(&t, b.c, -1, 5);
    bool parked;
    conntab_done(&t, b.c, false, 6, &parked);
    client_t d = connect_from(&t, "127.0.0.1", 7);
    OK(d.c && was_closed(&b) && !was_closed(&a) && !was_closed(&c),
       "a fourth makes room by closing the idle keep-alive one, not the older half-sent ones");
    OK(finish(&t, &b) == CLOSE_EVICTED, "its close reason is evicted");
    client_t e = connect_from(&t, "127.0.0.1", 8);
    OK(e.c && was_closed(&a) && !was_closed(&c) && !was_closed(&d),
       "with nobody idle, the oldest connection without a complete request goes");
    finish(&t, &a);
    conntab_answering(&t, c.c, -1, 9);
    conntab_answering(&t, d.c, -1, 9);
    conntab_answering(&t, e.c, -1, 9);
    client_t f = connect_from(&t, "127.0.0.1", 10);
    OK(!f.c && !was_closed(&c) && !was_closed(&d) && !was_closed(&e),
       "when every connection is being answered, the newcomer is refused and nobody is pushed out");
    close(f.mine);
    finish_all(&t, (client_t *[]){ &c, &d, &e }, 3);
}

static void per_address(void)
{
    conntab_t t;
    table(&t, 100, 2);
    client_t r1 = connect_from(&t, "192.0.2.7", 0), r2 = connect_from(&t, "192.0.2.7", 1);
    client_t other = connect_from(&t, "192.0.2.8", 2);
    client_t r3 = connect_from(&t, "192.0.2.7", 3);
    OK(r3.c && was_closed(&r1) && !was_closed(&r2) && !was_closed(&other),
       "a remote address over its limit loses its own oldest connection, nobody else's");
    finish(&t, &r1);
    client_t local[6];
    bool all = true;
    for (int i = 0; i < 6; i++) {
        local[i] = connect_from(&t, "127.0.0.1", 10 + i);
        all &= local[i].c != NULL;
    }
    bool none_closed = true;
    for (int i = 0; i < 6; i++)
        none_closed &= !was_closed(&local[i]);
    OK(all && none_closed, "loopback clients share one address: the per-address limit leaves them alone");
    for (int i = 0; i < 6; i++)
        finish(&t, &local[i]);
    finish_all(&t, (client_t *[]){ &r2, &r3, &other }, 3);
}

static void deadlines(void)
{
    conntab_t t;
    table(&t, 100, 0);
    client_t w = connect_from(&t, "127.0.0.1", 0);
    conntab_request_line(&t, w.c, 60);
    OK(conntab_reap(&t, 99) == 0 && !was_closed(&w), "before the header deadline nothing is closed");
    OK(conntab_reap(&t, 100) == 1 && was_closed(&w),
       "the header deadline counts from the connection, not from the request line");
    OK(finish(&t, &w) == CLOSE_HEADER_TIMEOUT, "reason header_timeout");

    client_t k = connect_from(&t, "127.0.0.1", 0);
    bool parked;
    conntab_answering(&t, k.c, -1, 10);
    conntab_done(&t, k.c, false, 20, &parked);
    OK(conntab_reap(&t, 1019) == 0, "an idle keep-alive connection stays until the idle deadline");
    conntab_request_line(&t, k.c, 1000);
    OK(conntab_reap(&t, 1099) == 0 && conntab_reap(&t, 1100) == 1 && was_closed(&k),
       "a later request line starts a fresh header deadline");
    OK(finish(&t, &k) == CLOSE_HEADER_TIMEOUT, "reason header_timeout");

    client_t s = connect_from(&t, "127.0.0.1", 0);
    conntab_answering(&t, s.c, 1, 10);
    OK(conntab_reap(&t, 509) == 0 && conntab_reap(&t, 510) == 1, "an answer not delivered by the write deadline is closed");
    int slot;
    OK(finish_as(&t, &s, false, &slot, &parked) == CLOSE_WRITE_TIMEOUT && slot == 1 && !parked,
       "reason write_timeout, and its slot comes back with the close");
    conntab_destroy(&t);
}

static const slot_grace_t age_only = { 1000, false }, or_behind = { 1000, true };

static void slots(void)
{
    conntab_t t;
    table(&t, 100, 0);
    client_t old = connect_from(&t, "127.0.0.1", 0), young = connect_from(&t, "127.0.0.1", 0),
             scrape = connect_from(&t, "127.0.0.1", 0);
    conntab_answering(&t, old.c, 1, 0);
    conntab_answering(&t, young.c, 1, 800);
    conntab_answering(&t, scrape.c, 0, 0);
    OK(!conntab_free_slot(&t, 1, 999, &age_only, false), "an answer younger than the grace keeps its slot");
    OK(conntab_free_slot(&t, 1, 1000, &age_only, false) && !was_closed(&old),
       "the oldest stalled answer of the class gives its slot up and goes on (parked)");
    bool parked;
    OK(conntab_done(&t, old.c, false, 1200, &parked) == 1 && parked, "when it ends, it reports its slot as parked");
    OK(!conntab_free_slot(&t, 1, 1100, &age_only, false), "the other class's answers are not touched (nor the young one)");
    OK(conntab_free_slot(&t, 1, 1800, &age_only, true) && was_closed(&young), "with close_it the stalled answer is closed");
    int slot;
    OK(finish_as(&t, &young, false, &slot, &parked) == CLOSE_EVICTED && slot == -1,
       "closed for its slot: reason evicted, no slot to give back twice");
    finish_all(&t, (client_t *[]){ &old, &scrape }, 2);
}

/* poold's side of the connection writes until its send buffer is full, as
 * an answer to a client that reads nothing ends up. */
static void fill_send_buffer(const client_t *cl)
{
    static const char junk[4096];
    while (send(cl->c->fd, junk, sizeof junk, MSG_DONTWAIT) > 0)
        ;
}

static void stalled_by_buffer(void)
{
    conntab_t t;
    table(&t, 100, 0);
    client_t reader = connect_from(&t, "127.0.0.1", 0), pipeliner = connect_from(&t, "127.0.0.1", 0);
    conntab_answering(&t, reader.c, 0, 0);
    conntab_answering(&t, pipeliner.c, 0, 10);
    OK(!conntab_free_slot(&t, 0, 20, &or_behind, false), "young answers with room in their buffers keep their slots");
    fill_send_buffer(&pipeliner);
    OK(!conntab_free_slot(&t, 0, 20, &age_only, false), "a full buffer alone does not count where only the age does");
    OK(conntab_free_slot(&t, 0, 20, &or_behind, false) && !was_closed(&pipeliner),
       "an answer whose client left a whole send buffer unread gives its slot up before the grace (parked)");
    OK(!conntab_free_slot(&t, 0, 30, &or_behind, false), "the reader's answer, older but not behind, keeps its slot");
    finish_all(&t, (client_t *[]){ &reader, &pipeliner }, 2);
}

static void reasons(void)
{
    conntab_t t;
    table(&t, 100, 0);
    client_t a = connect_from(&t, "127.0.0.1", 0), b = connect_from(&t, "127.0.0.1", 0),
             c = connect_from(&t, "127.0.0.1", 0);
    bool parked;
    conntab_answering(&t, a.c, -1, 1);
    conntab_done(&t, a.c, false, 2, &parked);
    OK(finish(&t, &a) == CLOSE_NORMAL, "a connection that ends after its answer closed normally");
    conntab_request_line(&t, b.c, 1);
    OK(finish(&t, &b) == CLOSE_ERROR, "one that ends between its request line and a complete header: error");
    int slot;
    OK(finish_as(&t, &c, true, &slot, &parked) == CLOSE_SHUTDOWN, "closed by poold stopping: shutdown");
    conntab_destroy(&t);
}

int main(void)
{
    making_room();
    per_address();
    deadlines();
    slots();
    stalled_by_buffer();
    reasons();
    return tap_done();
}
