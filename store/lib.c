/* Loads store/mqchat.lua (embedded at build time) into Redis as the function
 * library "mqchat_v1" on every new connection. FUNCTION LOAD REPLACE is
 * idempotent, and the library also persists in Redis' AOF. On a Redis
 * Cluster the slot router runs mqc_store__library_hook on every primary. */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "store/internal.h"
#include "store/mqchat_lua.h"

int mqc_store__load_library(struct mqc_store *s)
{
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", mqc_lua_library};
    redisReply *r = mqc_store__cmd(s, 4, argv);
    if (!r) {
        if (s->ctx) { /* refused, not a broken connection */
            char why[160];
            snprintf(why, sizeof why, "cannot load functions (Redis 7 needed): %.100s",
                     s->last_error);
            mqc_store__drop(s, why);
        }
        return MQC_EUNAVAIL;
    }
    freeReplyObject(r);
    return MQC_OK;
}

int mqc_store__library_hook(redisContext *c, void *ctx, char *err, size_t errlen)
{
    (void)ctx;
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", mqc_lua_library};
    redisReply *r = redisCommandArgv(c, 4, argv, NULL);
    int rc = MQC_OK;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "cannot load functions (Redis 7 needed): %.100s",
                 r ? r->str : c->errstr);
        rc = MQC_EUNAVAIL;
    }
    if (r)
        freeReplyObject(r);
    return rc;
}
