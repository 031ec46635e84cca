/* Loads store/mqchat.lua (embedded at build time) into Redis as the function
 * library "mqchat_v1" on every new connection: the broker's (mqc_store) and
 * mqchat-push's (store/pushq.c, store/jobs.c), so whichever connects first
 * after a Redis restart without persistence brings the functions back.
 * FUNCTION LOAD REPLACE is idempotent, and the library also persists in
 * Redis' AOF. One implementation (the bare-connection one) for both. */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "store/internal.h"
#include "store/mqchat_lua.h"

int mqc_store__load_library_ctx(redisContext *c, char *why, size_t len)
{
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", mqc_lua_library};
    redisReply *r = redisCommandArgv(c, 4, argv, NULL);
    if (!r) {
        snprintf(why, len, "FUNCTION LOAD: %s", c->errstr[0] ? c->errstr : "no reply");
        return MQC_EUNAVAIL;
    }
    int rc = MQC_OK;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, len, "cannot load functions (Redis 7 needed): %.100s", r->str);
        rc = MQC_EUNAVAIL;
    }
    freeReplyObject(r);
    return rc;
}

int mqc_store__load_library(struct mqc_store *s)
{
    char why[160];
    if (!s->ctx)
        return MQC_EUNAVAIL;
    if (mqc_store__load_library_ctx(s->ctx, why, sizeof why) != MQC_OK) {
        snprintf(s->last_error, sizeof s->last_error, "%s", why);
        mqc_store__drop(s, why);
        return MQC_EUNAVAIL;
    }
    return MQC_OK;
}
