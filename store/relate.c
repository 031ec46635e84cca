/* Message relations in the store (issue #18): edits, deletes and reactions
 * go to mqc2_relate in store/mqchat.lua, one call in the conversation's
 * slot that checks the target and the sender's right, dedupes by client id
 * like a message, stores the event, and on a delete erases the target's
 * body (and its edits) from the log, keeping tombstones. Replies have the
 * shape of a send's (store/conv.c parses them). */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "store/internal.h"

int mqc_store_relate(struct mqc_store *s, const char *conv, const char *sender, const char *id,
                     const char *kind, int64_t target, const char *prefix, const char *suffix,
                     int64_t cached_mver, mqc_store_post_cb cb, void *ctx)
{
    if (strcmp(kind, "edit") != 0 && strcmp(kind, "delete") != 0 && strcmp(kind, "react") != 0)
        return MQC_EBADREQ;
    if (target < 1)
        return MQC_EBADREQ;
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc2_relate", 6);
    mqc_store__args_conv_key(&a, s, conv, "meta");
    mqc_store__args_conv_key(&a, s, conv, "members");
    mqc_store__args_conv_key(&a, s, conv, "log");
    mqc_store__args_conv_key(&a, s, conv, "ids");
    mqc_store__args_conv_key(&a, s, conv, "rcpt");
    mqc_store__args_conv_key(&a, s, conv, "tomb");
    mqc_store__args_str(&a, sender);
    mqc_store__args_str(&a, id);
    mqc_store__args_str(&a, kind);
    mqc_store__args_fmt(&a, "%lld", (long long)target);
    mqc_store__args_str(&a, prefix);
    mqc_store__args_str(&a, suffix);
    mqc_store__args_fmt(&a, "%lld", (long long)cached_mver);
    mqc_store__args_fmt(&a, "%lld", (long long)s->retention_ms);
    /* no job: nothing for the hint */
    return mqc_store__submit_send(s, &a, conv, sender, id, false, cb, ctx);
}
