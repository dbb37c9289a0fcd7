/* Listening sockets. poold binds them itself and hands them to
 * libmicrohttpd (MHD_OPTION_LISTEN_SOCKET), the same way as systemd's, so
 * there is one code path for both. With socket activation nothing here
 * creates a socket: the unit may forbid AF_INET altogether. */
#define _GNU_SOURCE
#include "http/listen.h"
#include "config/parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static int bind_one(const struct addrinfo *ai, char *err, size_t errlen)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int on = 1, off = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (ai->ai_family == AF_INET6)   /* ":PORT" takes IPv4 too, through a dual-stack socket */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int listen_open(const char *address, char *err, size_t errlen)
{
    char host[256], port[8];
    if (parse_listen_address(address, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen, "%s: expected HOST:PORT, [IPV6]:PORT or :PORT", address);
        return -1;
    }
    struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    /* All interfaces: IPv6 any (dual stack) where the kernel has IPv6. */
    const char *try[2] = { *host ? host : "::", *host ? NULL : "0.0.0.0" };
    int fd = -1, gai = 0;
    char why[200] = "no address";
    for (int i = 0; fd < 0 && i < 2 && try[i]; i++) {
        if ((gai = getaddrinfo(try[i], port, &hints, &res)) != 0) {
            snprintf(why, sizeof why, "%s", gai_strerror(gai));
            continue;
        }
        fd = bind_one(res, why, sizeof why);
        freeaddrinfo(res);
    }
    if (fd < 0)
        snprintf(err, errlen, "listen on %s: %s", address, why);
    return fd;
}

int listen_systemd(int *fds, int max, char *err, size_t errlen)
{
    int n = sd_listen_fds(1);
    if (n <= 0) {
        snprintf(err, errlen, "no socket activation file descriptors found");
        return -1;
    }
    if (n > max) {
        snprintf(err, errlen, "systemd passed %d sockets; at most %d are supported", n, max);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
            snprintf(err, errlen, "socket activation: descriptor %d is not a listening stream socket", fd);
            return -1;
        }
        fds[i] = fd;
    }
    return n;
}

void listen_describe(int fd, char *out, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN];
    snprintf(out, len, "fd %d", fd);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        snprintf(out, len, "%s:%u", host, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        snprintf(out, len, "[%s]:%u", host, ntohs(a->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        struct sockaddr_un *a = (struct sockaddr_un *)&ss;
        snprintf(out, len, "unix:%s", sl > sizeof(sa_family_t) && a->sun_path[0] ? a->sun_path : "@");
    }
}
