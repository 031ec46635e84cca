/* The Redis store: one connection (hiredis, blocking with timeouts) that knows
 * when it is down and reconnects by itself, no more often than retry_ms.
 * Everything that talks to Redis lives in store/; callers see MQC_* codes and
 * core types only. A store is used from one thread. */
#ifndef MQC_STORE_H
#define MQC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mqc_store_opts {
    const char *host;      /* borrowed during _new only (copied) */
    int port;
    const char *unix_path; /* wins over host/port when set */
    const char *password;  /* NULL = no AUTH */
    int db;
    const char *prefix;    /* key prefix, e.g. "mqchat:" */
    int timeout_ms;        /* connect and per-command timeout */
    int retry_ms;          /* least time between reconnect attempts */
};

struct mqc_store;

/* Returns a new store (not yet connected) or NULL when out of memory. */
struct mqc_store *mqc_store_new(const struct mqc_store_opts *opts);
void mqc_store_free(struct mqc_store *s);
/* Make sure the connection is up, reconnecting if the last attempt is older
 * than retry_ms. Returns MQC_OK or MQC_EUNAVAIL. */
int mqc_store_ensure(struct mqc_store *s, int64_t now_mono_ms);
bool mqc_store_is_up(const struct mqc_store *s);
/* The last connection error, for the operator ("" when none). Borrowed. */
const char *mqc_store_last_error(const struct mqc_store *s);

/* Users (keys: see store/keys.h). All strings borrowed. */
/* Copy user's password hash into out. MQC_OK, MQC_ENOTFOUND, MQC_EUNAVAIL. */
int mqc_store_user_hash(struct mqc_store *s, const char *user, char *out, size_t size);
/* Create user with hash. MQC_OK, MQC_EEXIST, MQC_EUNAVAIL. */
int mqc_store_user_add(struct mqc_store *s, const char *user, const char *hash, int64_t now_ms);
/* Replace an existing user's hash. MQC_OK, MQC_ENOTFOUND, MQC_EUNAVAIL. */
int mqc_store_user_passwd(struct mqc_store *s, const char *user, const char *hash);
/* Delete user. MQC_OK, MQC_ENOTFOUND, MQC_EUNAVAIL. */
int mqc_store_user_del(struct mqc_store *s, const char *user);
/* Call fn(user, ctx) for every user, sorted. MQC_OK or MQC_EUNAVAIL. */
int mqc_store_user_list(struct mqc_store *s, void (*fn)(const char *user, void *ctx), void *ctx);

#endif
