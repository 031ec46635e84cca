/* The Redis key schema, in one place. Every key starts with the configured
 * prefix (default "mqchat:"). Per-user and per-conversation keys carry a
 * Redis Cluster hash tag ({u:<id>} / {c:<id>}) so that each entity's keys
 * share a slot.
 *
 *   <p>users               SET   all user ids
 *   <p>{u:<user>}:user     HASH  pw (argon2id PHC string), created (ms)
 */
#ifndef MQC_STORE_KEYS_H
#define MQC_STORE_KEYS_H

#include <stddef.h>

#define MQC_KEY_MAX 192

/* Write "<prefix>users" into buf. Returns MQC_OK or MQC_EINTERNAL. */
int mqc_key_users(const char *prefix, char *buf, size_t size);
/* Write "<prefix>{u:<user>}:user" into buf. MQC_EBADREQ for a bad id. */
int mqc_key_user(const char *prefix, const char *user, char *buf, size_t size);

#endif
