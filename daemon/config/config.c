/* Command-line parsing and the order of sources: defaults < file < flags.
 * Flags: --name=value, --name value, --name (a boolean set to true),
 * --no-name (a boolean set to false), -h. */
#define _GNU_SOURCE
#include "config/config.h"
#include "config/conffile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One command-line flag, split into its parts. */
typedef struct {
    const flag_t *flag;
    const char   *value;    /* NULL when none was given */
    bool          negated;  /* --no-name */
} cli_arg_t;

/* Reads the flag at argv[*i] (advancing *i past a separate value). */
static int next_arg(int argc, char **argv, int *i, cli_arg_t *a, char *err, size_t errlen)
{
    const char *arg = argv[*i];
    memset(a, 0, sizeof *a);
    if (strcmp(arg, "-h") == 0)
        arg = "--help";
    if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
        snprintf(err, errlen, "unexpected argument \"%.80s\" (flags start with --)", arg);
        return -1;
    }
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    a->flag = flag_find(name, len);
    if (!a->flag && len > 3 && strncmp(name, "no-", 3) == 0) {
        a->flag = flag_find(name + 3, len - 3);
        a->negated = a->flag && a->flag->kind == FK_BOOL && !eq;
        if (!a->negated)
            a->flag = NULL;
    }
    if (!a->flag) {
        snprintf(err, errlen, "unknown flag --%.*s", (int)(len > 80 ? 80 : len), name);
        return -1;
    }
    if (eq) {
        a->value = eq + 1;
    } else if (a->flag->kind != FK_BOOL && a->flag->kind != FK_ACTION && !a->negated) {
        if (*i + 1 >= argc) {
            snprintf(err, errlen, "--%s: missing value", a->flag->name);
            return -1;
        }
        a->value = argv[++*i];
    }
    if (a->flag->kind == FK_ACTION && a->value) {
        snprintf(err, errlen, "--%s takes no value", a->flag->name);
        return -1;
    }
    return 0;
}

static int apply_arg(options_t *o, const cli_arg_t *a, char *err, size_t errlen)
{
    if (a->flag->kind == FK_ACTION)
        return 0;
    const char *v = a->value ? a->value : a->negated ? "false" : "true";
    char why[200];
    if (opt_set(o, a->flag, v, SRC_CLI, why, sizeof why) != 0) {
        snprintf(err, errlen, "--%s: %s", a->flag->name, why);
        return -1;
    }
    return 0;
}

/* Pass one: which config file, and whether --help or --version was asked. */
static int scan_cli(int argc, char **argv, const char **config, bool *config_given,
                    enum config_action *action, char *err, size_t errlen)
{
    *action = ACTION_RUN;
    for (int i = 1; i < argc; i++) {
        cli_arg_t a;
        if (next_arg(argc, argv, &i, &a, err, errlen) != 0)
            return -1;
        if (strcmp(a.flag->name, "config") == 0) {
            *config = a.value;
            *config_given = true;
        } else if (strcmp(a.flag->name, "help") == 0 && *action == ACTION_RUN) {
            *action = ACTION_HELP;
        } else if (strcmp(a.flag->name, "version") == 0 && *action == ACTION_RUN) {
            *action = ACTION_VERSION;
        }
    }
    return 0;
}

int config_build(int argc, char **argv, options_t *out, enum config_action *action,
                 char *err, size_t errlen)
{
    const char *config = DEFAULT_CONFIG_FILE;
    bool given = false;
    if (scan_cli(argc, argv, &config, &given, action, err, errlen) != 0)
        return -1;
    options_init(out);
    if (*action != ACTION_RUN)
        return 0;
    if (*config && conffile_load(config, given, out, err, errlen) != 0)
        goto fail;
    for (int i = 1; i < argc; i++) {
        cli_arg_t a;
        if (next_arg(argc, argv, &i, &a, err, errlen) != 0 || apply_arg(out, &a, err, errlen) != 0)
            goto fail;
    }
    return 0;
fail:
    options_free(out);
    return -1;
}

void config_print_help(const char *argv0)
{
    options_t def;
    options_init(&def);
    printf("usage: %s [flags]\n\n"
           "poold runs an allocation workload through the pool allocator and serves its\n"
           "live statistics over HTTP (Prometheus /metrics, JSON /stats).\n\nFlags:\n", argv0);
    for (size_t i = 0; i < flag_count; i++) {
        const flag_t *f = &flag_table[i];
        char value[256];
        opt_format(&def, f, value, sizeof value);
        printf("  --%s%s\n      %s", f->name,
               f->kind == FK_BOOL || f->kind == FK_ACTION ? "" : "=VALUE", f->help);
        if (f->kind != FK_ACTION && f->kind != FK_BOOL)
            printf(" (default: \"%s\")", value);
        printf("%s\n", f->reloadable ? " [reloadable]" : "");
    }
    printf("\nSIGHUP re-reads the config file; flags marked [reloadable] take effect at\n"
           "once, the others at the next start.\n");
    options_free(&def);
}
