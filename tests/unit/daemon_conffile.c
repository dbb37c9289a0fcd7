/* Unit tests of the config file parser (config/conffile.c) and of the order
 * of sources (config/config.c): defaults < file < flags. */
#include "config/conffile.h"
#include "config/config.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[512];

/* Parses text into fresh options; returns conffile_parse's result. */
static int parse(const char *text, options_t *o)
{
    options_init(o);
    err[0] = '\0';
    return conffile_parse(text, strlen(text), "t.conf", o, err, sizeof err);
}

static void refused(const char *text, const char *want)
{
    options_t o;
    int rc = parse(text, &o);
    OK(rc == -1 && strstr(err, want), "refused with \"%s\" (got \"%s\")", want, err);
    options_free(&o);
}

static void value_is(const options_t *o, const char *flag, const char *want)
{
    char got[256];
    opt_format(o, flag_find(flag, strlen(flag)), got, sizeof got);
    OK(strcmp(got, want) == 0, "%s = %s (got %s)", flag, want, got);
}

int main(void)
{
    options_t o;
    OK(parse("", &o) == 0, "an empty file is fine");
    value_is(&o, "workload", "python");
    value_is(&o, "web.listen-address", "127.0.0.1:19180");
    value_is(&o, "allocator.purge-delay", "100ms");
    OK(!opt_is_explicit(&o, "workload"), "defaults are not explicit");
    options_free(&o);

    OK(parse("# comment\n\n  workload = steady  \r\nworkload.threads=4\n"
             "workload.max-bytes = \"1GiB\"\nlog.level = 'warn'\n"
             "web.listen-address = 127.0.0.1:1\nweb.listen-address = [::1]:2\n"
             "allocator.purge-delay = never\nweb.connection-timeout = 1m30s\n"
             "workload.speed = 2.5\ncollector.processes = yes",
             &o) == 0,
       "a file with comments, blanks, quotes, CRLF, a repeated key and no final newline");
    value_is(&o, "workload", "steady");
    value_is(&o, "workload.threads", "4");
    value_is(&o, "workload.max-bytes", "1073741824");
    value_is(&o, "log.level", "warn");
    value_is(&o, "web.listen-address", "127.0.0.1:1,[::1]:2");
    value_is(&o, "allocator.purge-delay", "never");
    value_is(&o, "web.connection-timeout", "90s");
    value_is(&o, "workload.speed", "2.5");
    value_is(&o, "collector.processes", "true");
    OK(opt_is_explicit(&o, "workload") && !opt_is_explicit(&o, "log.format"), "what the file sets is explicit");
    options_free(&o);

    refused("nonsense\n", "t.conf:1: expected key = value");
    refused("\n\nbogus = 1\n", "t.conf:3: unknown key \"bogus\"");
    refused("config = /etc/x\n", "unknown key \"config\"");          /* command line only */
    refused("help = true\n", "unknown key \"help\"");
    refused("workload = nope\n", "t.conf:1: workload: invalid value \"nope\": expected one of: ");
    refused("workload.threads = 0\n", "expected an integer from 1 to 64");
    refused("workload.threads = 65\n", "expected an integer from 1 to 64");
    refused("workload.max-bytes = 1KiB\n", "at least 4096");
    refused("web.connection-timeout = 10\n", "expected a duration");
    refused("web.telemetry-path = metrics\n", "invalid value \"metrics\"");
    refused("web.listen-address = nohost\n", "expected HOST:PORT");
    refused("log.format = xml\n", "expected logfmt, json or journal");
    refused("workload.speed = fast\n", "expected a number from 0 to 1000000");
    refused("collector.processes = perhaps\n", "expected true or false");
    {
        char nul[] = "workload = steady\nlog.level = info\0x\n";
        options_init(&o);
        int rc = conffile_parse(nul, sizeof nul - 1, "t.conf", &o, err, sizeof err);
        OK(rc == -1 && strstr(err, "t.conf:2: NUL byte in line"), "a NUL byte is refused with its line (%s)", err);
        options_free(&o);
    }
    {
        char many[2048] = "";
        for (int i = 0; i < 17; i++)
            snprintf(many + strlen(many), sizeof many - strlen(many), "web.listen-address = :%d\n", 1000 + i);
        refused(many, "too many addresses (at most 16)");
    }

    /* the order of sources: flags override the file, the file the defaults */
    char path[] = "/tmp/poold-unit-conf.XXXXXX";
    int fd = mkstemp(path);
    const char *file = "workload = steady\nworkload.threads = 3\nweb.listen-address = :1\n";
    OK(fd >= 0 && write(fd, file, strlen(file)) == (ssize_t)strlen(file), "a config file written to %s", path);
    close(fd);
    char config[64];
    snprintf(config, sizeof config, "--config=%s", path);
    char *argv[] = { "poold", config, "--workload.threads", "5", "--web.listen-address=:2",
                     "--no-collector.processes", NULL };
    enum config_action action;
    OK(config_build(6, argv, &o, &action, err, sizeof err) == 0 && action == ACTION_RUN, "config_build runs (%s)", err);
    value_is(&o, "workload", "steady");                 /* from the file */
    value_is(&o, "workload.threads", "5");              /* the flag wins */
    value_is(&o, "web.listen-address", ":2");           /* a new source replaces the list */
    value_is(&o, "collector.processes", "false");
    value_is(&o, "log.level", "info");                  /* the default */
    options_free(&o);

    char *bad[] = { "poold", config, "--workload.threads=99", NULL };
    OK(config_build(3, bad, &o, &action, err, sizeof err) == -1 && strstr(err, "--workload.threads: invalid value \"99\""),
       "a bad flag names itself (%s)", err);
    char *unknown[] = { "poold", config, "--bogus", NULL };
    OK(config_build(3, unknown, &o, &action, err, sizeof err) == -1 && strstr(err, "bogus"), "an unknown flag is named (%s)", err);
    char *help[] = { "poold", "--config=/nonexistent", "-h", NULL };
    OK(config_build(3, help, &o, &action, err, sizeof err) == 0 && action == ACTION_HELP, "-h asks for help");
    if (action == ACTION_HELP)
        options_free(&o);
    unlink(path);
    char *missing[] = { "poold", "--config=/nonexistent/poold.conf", NULL };
    OK(config_build(2, missing, &o, &action, err, sizeof err) == -1 && strstr(err, "/nonexistent/poold.conf"),
       "a missing --config file is an error (%s)", err);
    return tap_done();
}
