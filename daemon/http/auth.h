/* HTTP basic authentication against bcrypt hashes (crypt_r from libcrypt).
 * The user table can be replaced at run time (config reload). */
#ifndef POOLD_AUTH_H
#define POOLD_AUTH_H

#include "config/webconfig.h"

#include <stdbool.h>

/* Installs a copy of the users (none: authentication off). Returns 0, or -1
 * when out of memory (the old table stays). */
int  auth_set_users(const kv_t *users, size_t n);
bool auth_enabled(void);
/* True when user and password match. Unknown users cost a bcrypt check
 * against a dummy hash too, so timing does not tell which users exist. */
bool auth_check(const char *user, const char *password);
void auth_shutdown(void);

#endif
