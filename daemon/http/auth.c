/* Basic authentication. A bcrypt check costs tens of milliseconds by
 * design, and a scraper sends the same credentials every few seconds, so
 * successful checks are remembered (per table generation) and later ones
 * compare in constant time instead of hashing again. Failures always pay
 * the full price. */
#define _GNU_SOURCE
#include "http/auth.h"
#include "service/log.h"

#include <crypt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { CACHE_SLOTS = 16, CACHE_MAX_LEN = 256 };

typedef struct {
    kv_t    *users;
    size_t   n;
    char    *dummy;        /* a bcrypt hash of nothing anyone knows */
    uint64_t generation;
} table_t;

typedef struct {
    uint64_t generation;   /* 0: empty */
    char     user[CACHE_MAX_LEN], password[CACHE_MAX_LEN];
} cache_slot_t;

static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static table_t table;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cache_slot_t cache[CACHE_SLOTS];
static unsigned cache_next;

static bool equal_ct(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), n = la > lb ? la : lb;
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)((i < la ? a[i] : 0) ^ (i < lb ? b[i] : 0));
    return diff == 0;
}

/* crypt_r result compared with the stored hash. */
static bool bcrypt_matches(const char *password, const char *hash)
{
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd)
        return false;
    const char *out = crypt_r(password, hash, cd);
    bool ok = out && out[0] != '*' && equal_ct(out, hash);
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return ok;
}

/* A dummy hash with the cost of the real ones, so an unknown user takes as
 * long as a known one with a wrong password. */
static char *make_dummy(const kv_t *users, size_t n)
{
    unsigned long cost = n ? strtoul(users[0].value + 4, NULL, 10) : 10;
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!crypt_gensalt_rn("$2b$", cost, NULL, 0, setting, sizeof setting))
        return NULL;
    struct crypt_data *cd = calloc(1, sizeof *cd);
    const char *out = cd ? crypt_r("poold: no such user", setting, cd) : NULL;
    char *dummy = out && out[0] != '*' ? strdup(out) : NULL;
    free(cd);
    return dummy;
}

static void free_table(table_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->users[i].name);
        free(t->users[i].value);
    }
    free(t->users);
    free(t->dummy);
    t->users = NULL;
    t->dummy = NULL;
    t->n = 0;
}

static int copy_table(table_t *t, const kv_t *users, size_t n)
{
    memset(t, 0, sizeof *t);
    if (!n)
        return 0;
    if (!(t->users = calloc(n, sizeof *t->users)))
        return -1;
    t->n = n;
    for (size_t i = 0; i < n; i++) {
        t->users[i].name = strdup(users[i].name);
        t->users[i].value = strdup(users[i].value);
        if (!t->users[i].name || !t->users[i].value)
            return free_table(t), -1;
    }
    if (!(t->dummy = make_dummy(users, n)))
        return free_table(t), -1;
    return 0;
}

static void cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    explicit_bzero(cache, sizeof cache);
    pthread_mutex_unlock(&cache_lock);
}

int auth_set_users(const kv_t *users, size_t n)
{
    table_t fresh;
    if (copy_table(&fresh, users, n) != 0) {
        log_error("cannot install the basic_auth_users table (out of memory or bad hash)");
        return -1;
    }
    pthread_rwlock_wrlock(&table_lock);
    fresh.generation = table.generation + 1;
    free_table(&table);
    table = fresh;
    pthread_rwlock_unlock(&table_lock);
    cache_clear();
    return 0;
}

bool auth_enabled(void)
{
    pthread_rwlock_rdlock(&table_lock);
    bool on = table.n > 0;
    pthread_rwlock_unlock(&table_lock);
    return on;
}

static bool cache_hit(const char *user, const char *password, uint64_t gen)
{
    bool hit = false;
    pthread_mutex_lock(&cache_lock);
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        hit |= cache[i].generation == gen && equal_ct(cache[i].user, user) &&
               equal_ct(cache[i].password, password);
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void cache_store(const char *user, const char *password, uint64_t gen)
{
    if (strlen(user) >= CACHE_MAX_LEN || strlen(password) >= CACHE_MAX_LEN)
        return;
    pthread_mutex_lock(&cache_lock);
    cache_slot_t *s = &cache[cache_next++ % CACHE_SLOTS];
    s->generation = gen;
    strcpy(s->user, user);
    strcpy(s->password, password);
    pthread_mutex_unlock(&cache_lock);
}

bool auth_check(const char *user, const char *password)
{
    if (!user || !password)
        return false;
    pthread_rwlock_rdlock(&table_lock);
    uint64_t gen = table.generation;
    const char *hash = table.dummy;
    bool known = false;
    for (size_t i = 0; i < table.n; i++)
        if (strcmp(table.users[i].name, user) == 0) {
            hash = table.users[i].value;
            known = true;
        }
    bool ok = hash && (cache_hit(user, password, gen) || bcrypt_matches(password, hash)) && known;
    pthread_rwlock_unlock(&table_lock);
    if (ok)
        cache_store(user, password, gen);
    return ok;
}

void auth_shutdown(void)
{
    pthread_rwlock_wrlock(&table_lock);
    free_table(&table);
    pthread_rwlock_unlock(&table_lock);
    cache_clear();
}
