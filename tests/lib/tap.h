/* Minimal TAP output for C tests: OK(cond, "what") prints "ok N - what" or
 * "not ok N - what" with the file and line; tap_done() prints the plan and
 * returns the exit status. */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count, tap_failed;

__attribute__((format(printf, 4, 5), unused))
static int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    printf("%sok %d - ", pass ? "" : "not ", ++tap_count);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!pass) {
        printf("#   failed at %s:%d\n", file, line);
        tap_failed++;
    }
    fflush(stdout);
    return pass;
}

#define OK(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define SKIP(...) (printf("ok %d - ", ++tap_count), printf(__VA_ARGS__), printf(" # SKIP\n"))
#define DIAG(...) (printf("# "), printf(__VA_ARGS__), printf("\n"), fflush(stdout))

__attribute__((unused)) static int tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
