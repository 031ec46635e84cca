/* A small cache of recent successful password verifications, so that a
 * reconnect storm (or SIGHUP, which re-runs auth for every session) does not
 * pay argon2id per connection. An entry is a keyed BLAKE2b fingerprint of
 * (user, stored hash, password) under a random per-process key: no password is
 * kept, a changed password or a deleted user never matches, and the cache
 * still asks Redis for the stored hash on every connect. 4-way set-associative
 * by user (a user loses their entry only to four fresher ones in the same
 * set), and an entry's lifetime starts again at every hit. Time is passed in
 * by the caller. */
#ifndef MQC_AUTHCACHE_H
#define MQC_AUTHCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mqc_authcache;

/* slots: entries (rounded up to a power of two); ttl_ms: lifetime; ttl 0 makes
 * a cache that never hits. Returns NULL on allocation failure. */
struct mqc_authcache *mqc_authcache_new(size_t slots, int64_t ttl_ms);
void mqc_authcache_free(struct mqc_authcache *cache);
/* All strings borrowed. True if this exact triple was remembered within ttl. */
bool mqc_authcache_check(struct mqc_authcache *cache, const char *user, const char *stored_hash,
                         const char *pw, size_t pwlen, int64_t now_ms);
void mqc_authcache_remember(struct mqc_authcache *cache, const char *user, const char *stored_hash,
                            const char *pw, size_t pwlen, int64_t now_ms);
void mqc_authcache_forget(struct mqc_authcache *cache, const char *user);

#endif
