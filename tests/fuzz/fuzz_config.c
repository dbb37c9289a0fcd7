/* libFuzzer target: the config file parser and the command-line parser.
 * The first byte picks which; the rest is a config file, or NUL-separated
 * arguments. */
#include "config/conffile.h"
#include "config/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_file(const char *text, size_t len)
{
    options_t o;
    char err[512];
    options_init(&o);
    conffile_parse(text, len, "fuzz.conf", &o, err, sizeof err);
    options_free(&o);
}

static void fuzz_argv(const char *text, size_t len)
{
    enum { MAX_ARGS = 32 };
    char *copy = malloc(len + 1), *argv[MAX_ARGS + 2] = { "poold", "--config=" };
    if (!copy)
        return;
    memcpy(copy, text, len);
    copy[len] = '\0';
    int argc = 2;
    for (char *p = copy; p < copy + len && argc < MAX_ARGS + 2; p += strlen(p) + 1)
        argv[argc++] = p;
    options_t o;
    enum config_action action;
    char err[512];
    if (config_build(argc, argv, &o, &action, err, sizeof err) == 0)
        options_free(&o);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        fuzz_argv((const char *)data + 1, size - 1);
    else
        fuzz_file((const char *)data + 1, size - 1);
    return 0;
}
