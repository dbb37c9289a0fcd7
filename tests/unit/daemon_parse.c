/* Unit tests of the value parsers (config/parse.c): integers, byte sizes,
 * durations, booleans and listen addresses; bad text is refused and leaves
 * the output alone. */
#include "config/parse.h"
#include "tap.h"

#include <string.h>

static void u64_is(const char *s, int want_rc, uint64_t want)
{
    uint64_t v = 777;
    int rc = parse_u64(s, &v);
    OK(rc == want_rc && v == (rc == 0 ? want : 777), "parse_u64(\"%s\") %s %llu", s, rc ? "fails" : "=",
       (unsigned long long)(rc ? 777 : v));
}

static void bytes_is(const char *s, int want_rc, uint64_t want)
{
    uint64_t v = 777;
    int rc = parse_bytes(s, &v);
    OK(rc == want_rc && v == (rc == 0 ? want : 777), "parse_bytes(\"%s\") %s %llu", s, rc ? "fails" : "=",
       (unsigned long long)(rc ? 777 : v));
}

static void duration_is(const char *s, int want_rc, int64_t want)
{
    int64_t v = 777;
    int rc = parse_duration_ms(s, &v);
    OK(rc == want_rc && v == (rc == 0 ? want : 777), "parse_duration_ms(\"%s\") %s %lld", s,
       rc ? "fails" : "=", (long long)(rc ? 777 : v));
}

static void address_is(const char *s, const char *host, const char *port)
{
    char h[64] = "untouched", p[8] = "x";
    int rc = parse_listen_address(s, h, sizeof h, p, sizeof p);
    if (host)
        OK(rc == 0 && strcmp(h, host) == 0 && strcmp(p, port) == 0, "\"%s\" is host \"%s\" port %s", s,
           host, port);
    else
        OK(rc == -1 && strcmp(h, "untouched") == 0, "\"%s\" is refused", s);
}

int main(void)
{
    u64_is("0", 0, 0);
    u64_is("42", 0, 42);
    u64_is("18446744073709551615", 0, UINT64_MAX);
    u64_is("18446744073709551616", -1, 0);     /* overflow */
    u64_is("", -1, 0);
    u64_is("-1", -1, 0);
    u64_is("+1", -1, 0);
    u64_is(" 1", -1, 0);
    u64_is("1 ", -1, 0);
    u64_is("1x", -1, 0);
    u64_is("0x10", -1, 0);

    bytes_is("1048576", 0, 1048576);
    bytes_is("64KiB", 0, 65536);
    bytes_is("64kib", 0, 65536);               /* units in any case */
    bytes_is("64K", 0, 65536);
    bytes_is("100KB", 0, 100000);
    bytes_is("1.5GiB", 0, 1610612736);
    bytes_is("100MB", 0, 100000000);
    bytes_is("2TiB", 0, 2199023255552ULL);
    bytes_is("10B", 0, 10);
    bytes_is("", -1, 0);
    bytes_is("MiB", -1, 0);
    bytes_is("-1MiB", -1, 0);
    bytes_is("1 MiB", -1, 0);
    bytes_is("1PiB", -1, 0);                   /* no such unit */
    bytes_is("20000000TB", -1, 0);             /* above 2^64 */

    duration_is("0", 0, 0);
    duration_is("250ms", 0, 250);
    duration_is("10s", 0, 10000);
    duration_is("1m30s", 0, 90000);
    duration_is("2h", 0, 7200000);
    duration_is("1.5s", 0, 1500);
    duration_is("1h1m1s1ms", 0, 3661001);
    duration_is("", -1, 0);
    duration_is("10", -1, 0);                  /* a unit is required (but for 0) */
    duration_is("10d", -1, 0);
    duration_is("s", -1, 0);
    duration_is("-1s", -1, 0);
    duration_is("1s ", -1, 0);
    duration_is("3000000000000h", -1, 0);      /* beyond int64 milliseconds */

    bool b = false;
    OK(parse_bool("true", &b) == 0 && b, "parse_bool(\"true\")");
    OK(parse_bool("YES", &b) == 0 && b, "parse_bool(\"YES\")");
    OK(parse_bool("on", &b) == 0 && b, "parse_bool(\"on\")");
    OK(parse_bool("1", &b) == 0 && b, "parse_bool(\"1\")");
    OK(parse_bool("false", &b) == 0 && !b, "parse_bool(\"false\")");
    OK(parse_bool("Off", &b) == 0 && !b, "parse_bool(\"Off\")");
    OK(parse_bool("no", &b) == 0 && !b, "parse_bool(\"no\")");
    b = true;
    OK(parse_bool("0", &b) == 0 && !b, "parse_bool(\"0\")");
    b = true;
    OK(parse_bool("maybe", &b) == -1 && b, "parse_bool(\"maybe\") fails, value kept");
    OK(parse_bool("", &b) == -1, "parse_bool(\"\") fails");

    address_is("127.0.0.1:19180", "127.0.0.1", "19180");
    address_is(":9100", "", "9100");
    address_is("[::1]:80", "::1", "80");
    address_is("localhost:0", "localhost", "0");
    address_is("host:65535", "host", "65535");
    address_is("host:65536", NULL, NULL);
    address_is("host:", NULL, NULL);
    address_is("host", NULL, NULL);
    address_is("host:80x", NULL, NULL);
    address_is("host:123456", NULL, NULL);
    address_is("::1:80", NULL, NULL);          /* IPv6 needs brackets */
    address_is("[::1]80", NULL, NULL);
    address_is("[::1", NULL, NULL);
    char h[4], p[8];
    OK(parse_listen_address("toolong:80", h, sizeof h, p, sizeof p) == -1, "a host longer than the buffer is refused");
    return tap_done();
}
