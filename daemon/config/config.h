/* Building the options: defaults, then the config file, then the command
 * line (flags override the file). Used at start-up and again on SIGHUP. */
#ifndef POOLD_CONFIG_H
#define POOLD_CONFIG_H

#include "config/options.h"

enum config_action { ACTION_RUN, ACTION_HELP, ACTION_VERSION };

/* Returns 0, or -1 with a message in err that names the flag
 * ("--workload.threads: invalid value ...") or the file and line
 * ("/etc/poold/poold.conf:3: unknown key \"x\""). */
int config_build(int argc, char **argv, options_t *out, enum config_action *action,
                 char *err, size_t errlen);

/* --help text, to stdout. */
void config_print_help(const char *argv0);

#endif
