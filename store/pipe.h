/* Blocking pipelines for the store's blocking callers (node reset, the
 * contacts read at a user's first connection, the CLI): the per-slot steps
 * of one operation sent together, one round trip for all. Internal to
 * store/. */
#ifndef MQC_STORE_PIPE_H
#define MQC_STORE_PIPE_H

#include <stddef.h>

#include "store/internal.h"

/* Run the n built commands cmds[0..n) (each freed here, whatever happens)
 * as pipelines of at most a few hundred commands, with blocking calls.
 * out[i] gets command i's reply (owned by the caller: freeReplyObject).
 * MQC_OK when every command got a reply that is not an error; otherwise
 * every out[i] is NULL and the result is MQC_EBADREQ (a builder failed),
 * or MQC_EUNAVAIL (the connection failed or Redis refused one: the one
 * rule of store/internal.h, with the reason in mqc_store_last_error). */
int mqc_store__pipeline(struct mqc_store *s, struct mqc_store__args *cmds, size_t n,
                        redisReply **out);

#endif
