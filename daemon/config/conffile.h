/* The config file: key = value lines, the keys named as the long flags. */
#ifndef POOLD_CONFFILE_H
#define POOLD_CONFFILE_H

#include "config/options.h"

/* Parses a config file held in memory into o. */
int conffile_parse(const char *text, size_t len, const char *filename, options_t *o,
                   char *err, size_t errlen);
/* Reads and applies a file. A missing file is an error only if required. */
int conffile_load(const char *path, bool required, options_t *o, char *err, size_t errlen);

#endif
