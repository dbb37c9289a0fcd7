/* Listening sockets: opened from --web.listen-address, or taken from
 * systemd socket activation (--web.systemd-socket). */
#ifndef POOLD_LISTEN_H
#define POOLD_LISTEN_H

#include <stddef.h>

/* Binds and listens; returns the descriptor, or -1 with err. */
int  listen_open(const char *address, char *err, size_t errlen);
/* Puts the descriptors systemd passed into fds (at most max) and returns
 * how many, or -1 with err when there are none or one is not a listening
 * stream socket. */
int  listen_systemd(int *fds, int max, char *err, size_t errlen);
/* "127.0.0.1:19180", "[::1]:19180" or "unix:/run/x.sock" for a socket. */
void listen_describe(int fd, char *out, size_t len);

#endif
