/* Loads store/mqchat.lua (embedded at build time) into Redis as the function
 * library "mqchat_v2" on every new connection: the broker's (mqc_store) and
 * mqchat-push's (store/pushq.c, store/jobs.c), so whichever connects first
 * after a Redis restart without persistence brings the functions back. One
 * MULTI first deletes the previous library "mqchat_v1" (its function names
 * overlap, so loading next to it would fail): no moment without functions,
 * and a Redis that never had v1 only answers an error for the DELETE inside
 * the EXEC. FUNCTION LOAD REPLACE is idempotent, and the library persists in
 * Redis' AOF. A v1 broker still running against the same Redis would load v1
 * back (and fail on the v2 names): upgrade every node together
 * (docs/OPERATIONS.md). One implementation (the bare-connection one) for
 * both programs, and, on a Redis Cluster, the slot router's hook for every
 * primary (mqc_store__library_hook). */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "store/internal.h"
#include "store/mqchat_lua.h"

/* The library this code replaces. */
#define OLD_LIBRARY "mqchat_v1"

int mqc_store__load_library_ctx(redisContext *c, char *why, size_t len)
{
    const char *multi[] = {"MULTI"}, *del[] = {"FUNCTION", "DELETE", OLD_LIBRARY},
               *load[] = {"FUNCTION", "LOAD", "REPLACE", mqc_lua_library}, *exec[] = {"EXEC"};
    if (redisAppendCommandArgv(c, 1, multi, NULL) != REDIS_OK ||
        redisAppendCommandArgv(c, 3, del, NULL) != REDIS_OK ||
        redisAppendCommandArgv(c, 4, load, NULL) != REDIS_OK ||
        redisAppendCommandArgv(c, 1, exec, NULL) != REDIS_OK) {
        snprintf(why, len, "FUNCTION LOAD: %s", c->errstr[0] ? c->errstr : "cannot write");
        return MQC_EUNAVAIL;
    }
    redisReply *r[4] = {0};
    for (int i = 0; i < 4; i++) {
        if (redisGetReply(c, (void **)&r[i]) != REDIS_OK || !r[i]) {
            snprintf(why, len, "FUNCTION LOAD: %s", c->errstr[0] ? c->errstr : "no reply");
            for (int k = 0; k < i; k++)
                freeReplyObject(r[k]);
            return MQC_EUNAVAIL;
        }
    }
    /* EXEC's array: [DELETE's reply (an error when v1 is absent), LOAD's]. */
    const redisReply *x = r[3];
    char err[160] = "";
    if (x->type == REDIS_REPLY_ERROR)
        snprintf(err, sizeof err, "%.150s", x->str);
    else if (r[2]->type == REDIS_REPLY_ERROR)
        snprintf(err, sizeof err, "%.150s", r[2]->str);
    else if (x->type != REDIS_REPLY_ARRAY || x->elements != 2)
        snprintf(err, sizeof err, "unexpected reply to EXEC");
    else if (x->element[1]->type == REDIS_REPLY_ERROR)
        snprintf(err, sizeof err, "%.150s", x->element[1]->str);
    for (int i = 0; i < 4; i++)
        freeReplyObject(r[i]);
    if (err[0]) {
        snprintf(why, len, "cannot load functions (Redis 7 needed): %s", err);
        return MQC_EUNAVAIL;
    }
    return MQC_OK;
}

int mqc_store__load_library(struct mqc_store *s)
{
    char why[240];
    if (!s->ctx)
        return MQC_EUNAVAIL;
    if (mqc_store__load_library_ctx(s->ctx, why, sizeof why) != MQC_OK) {
        snprintf(s->last_error, sizeof s->last_error, "%.150s", why);
        mqc_store__drop(s, why);
        return MQC_EUNAVAIL;
    }
    return MQC_OK;
}

int mqc_store__library_hook(redisContext *c, void *ctx, char *err, size_t errlen)
{
    (void)ctx;
    return mqc_store__load_library_ctx(c, err, errlen);
}
