/* Verified-password cache (see authcache.h). */
#include "core/authcache.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/id.h"

#define FP_LEN 32
/* Entries are found in sets of WAYS: a user only loses their entry when WAYS
 * others hashed to the same set are fresher. */
#define WAYS_LOG2 2
#define WAYS (1 << WAYS_LOG2)

struct entry {
    char user[MQC_ID_MAX + 1];
    unsigned char fp[FP_LEN];
    int64_t expires_ms;
};

struct mqc_authcache {
    struct entry *slots;
    size_t mask;
    int64_t ttl_ms;
    unsigned char key[crypto_generichash_KEYBYTES];
};

struct mqc_authcache *mqc_authcache_new(size_t slots, int64_t ttl_ms)
{
    size_t n = WAYS;
    while (n < slots && n < ((size_t)1 << 24))
        n <<= 1;
    struct mqc_authcache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (!(c->slots = calloc(n, sizeof *c->slots))) {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    c->ttl_ms = ttl_ms;
    randombytes_buf(c->key, sizeof c->key);
    return c;
}

void mqc_authcache_free(struct mqc_authcache *c)
{
    if (!c)
        return;
    sodium_memzero(c->slots, (c->mask + 1) * sizeof *c->slots);
    free(c->slots);
    sodium_memzero(c->key, sizeof c->key);
    free(c);
}

/* The set of WAYS entries user belongs to. */
static struct entry *set_for(struct mqc_authcache *c, const char *user)
{
    uint64_t h = 0;
    crypto_shorthash((unsigned char *)&h, (const unsigned char *)user, strlen(user), c->key);
    return &c->slots[(h & (c->mask >> WAYS_LOG2)) << WAYS_LOG2];
}

/* user's entry in its set, or NULL. */
static struct entry *find(struct mqc_authcache *c, const char *user)
{
    struct entry *set = set_for(c, user);
    for (int i = 0; i < WAYS; i++) {
        if (strcmp(set[i].user, user) == 0)
            return &set[i];
    }
    return NULL;
}

static void fingerprint(struct mqc_authcache *c, const char *user, const char *stored,
                        const char *pw, size_t pwlen, unsigned char *fp)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, c->key, sizeof c->key, FP_LEN);
    crypto_generichash_update(&st, (const unsigned char *)user, strlen(user) + 1);
    crypto_generichash_update(&st, (const unsigned char *)stored, strlen(stored) + 1);
    crypto_generichash_update(&st, (const unsigned char *)pw, pwlen);
    crypto_generichash_final(&st, fp, FP_LEN);
}

bool mqc_authcache_check(struct mqc_authcache *c, const char *user, const char *stored,
                         const char *pw, size_t pwlen, int64_t now_ms)
{
    if (!c || c->ttl_ms <= 0 || !mqc_id_valid_str(user) || !stored || !pw)
        return false;
    struct entry *e = find(c, user);
    if (!e || now_ms >= e->expires_ms)
        return false;
    unsigned char fp[FP_LEN];
    fingerprint(c, user, stored, pw, pwlen, fp);
    if (sodium_memcmp(fp, e->fp, FP_LEN) != 0)
        return false;
    e->expires_ms = now_ms + c->ttl_ms; /* in use: keep it */
    return true;
}

void mqc_authcache_remember(struct mqc_authcache *c, const char *user, const char *stored,
                            const char *pw, size_t pwlen, int64_t now_ms)
{
    if (!c || c->ttl_ms <= 0 || !mqc_id_valid_str(user) || !stored || !pw)
        return;
    struct entry *e = find(c, user);
    if (!e) {
        /* The set's stalest entry (an empty one expires at 0) makes room. */
        struct entry *set = set_for(c, user);
        e = &set[0];
        for (int i = 1; i < WAYS; i++) {
            if (set[i].expires_ms < e->expires_ms)
                e = &set[i];
        }
    }
    strcpy(e->user, user);
    fingerprint(c, user, stored, pw, pwlen, e->fp);
    e->expires_ms = now_ms + c->ttl_ms;
}

void mqc_authcache_forget(struct mqc_authcache *c, const char *user)
{
    if (!c || !mqc_id_valid_str(user))
        return;
    struct entry *e = find(c, user);
    if (e)
        memset(e, 0, sizeof *e);
}
