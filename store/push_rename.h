/* The push queue's keys got one hash tag (<p>push -> <p>{push},
 * <p>push:delay -> <p>{push}:delay) so that moving due retries is one
 * single-slot call on a Redis Cluster. This renames keys of the old names
 * so the pushes they hold are sent: run by mqchat-push on every connect and
 * by `mqchat store upgrade`. Internal to store/. */
#ifndef MQC_STORE_PUSH_RENAME_H
#define MQC_STORE_PUSH_RENAME_H

#include <hiredis/hiredis.h>

/* Run one command: the reply (owned), or NULL when it failed or Redis
 * answered an error. */
typedef redisReply *(*mqc_store__push_call)(void *ctx, int argc, const char **argv,
                                            const size_t *lens);

/* For the stream and the delayed set: nothing to do without an old key;
 * without a new one, DUMP + RESTORE (consumer group and pending entries
 * kept; works across slots and nodes) then DEL of the old; with both (a
 * rename cut short, or an old bridge still writing), what the new one lacks
 * is copied (retries by member; stream entries not yet done by the group,
 * pending or undelivered, by id when it is free, else under a new id),
 * then the old key is deleted. Idempotent: a run cut short is finished by
 * the next (an entry copied under a new id just before a crash may be
 * copied again: a push sent twice, never lost). *moved += keys restored
 * and entries copied. MQC_OK or MQC_EUNAVAIL. prefix borrowed. */
int mqc_store__push_rename(const char *prefix, mqc_store__push_call call, void *ctx,
                           long long *moved);

#endif
