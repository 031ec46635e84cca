/* Loads store/mqchat.lua (embedded at build time) into Redis as the function
 * library "mqchat_v2" on every new connection, in one MULTI that first
 * deletes the previous library "mqchat_v1" (its function names overlap, so
 * loading next to it would fail): no moment without functions, and a Redis
 * that never had v1 only answers an error for the DELETE inside the EXEC.
 * FUNCTION LOAD REPLACE is idempotent, and the library persists in Redis'
 * AOF. A v1 broker still running against the same Redis would load v1 back
 * (and fail on the v2 names): upgrade every node together (docs/OPERATIONS.md). */
#include <string.h>

#include "core/err.h"
#include "store/internal.h"
#include "store/mqchat_lua.h"

/* The library this code replaces. */
#define OLD_LIBRARY "mqchat_v1"

int mqc_store__load_library(struct mqc_store *s)
{
    const char *multi[] = {"MULTI"}, *del[] = {"FUNCTION", "DELETE", OLD_LIBRARY},
               *load[] = {"FUNCTION", "LOAD", "REPLACE", mqc_lua_library}, *exec[] = {"EXEC"};
    if (redisAppendCommandArgv(s->ctx, 1, multi, NULL) != REDIS_OK ||
        redisAppendCommandArgv(s->ctx, 3, del, NULL) != REDIS_OK ||
        redisAppendCommandArgv(s->ctx, 4, load, NULL) != REDIS_OK ||
        redisAppendCommandArgv(s->ctx, 1, exec, NULL) != REDIS_OK) {
        mqc_store__io_failed(s, "cannot load functions");
        return MQC_EUNAVAIL;
    }
    redisReply *r[4] = {0};
    for (int i = 0; i < 4; i++) {
        if (redisGetReply(s->ctx, (void **)&r[i]) != REDIS_OK) {
            for (int k = 0; k < i; k++)
                freeReplyObject(r[k]);
            mqc_store__io_failed(s, "cannot load functions");
            return MQC_EUNAVAIL;
        }
    }
    /* EXEC's array: [DELETE's reply (an error when v1 is absent), LOAD's]. */
    const redisReply *x = r[3];
    char why[200] = "";
    if (x->type == REDIS_REPLY_ERROR)
        snprintf(why, sizeof why, "%.150s", x->str);
    else if (r[2]->type == REDIS_REPLY_ERROR)
        snprintf(why, sizeof why, "%.150s", r[2]->str);
    else if (x->type != REDIS_REPLY_ARRAY || x->elements != 2)
        snprintf(why, sizeof why, "unexpected reply to EXEC");
    else if (x->element[1]->type == REDIS_REPLY_ERROR)
        snprintf(why, sizeof why, "%.150s", x->element[1]->str);
    for (int i = 0; i < 4; i++)
        freeReplyObject(r[i]);
    if (why[0]) {
        char msg[240];
        snprintf(msg, sizeof msg, "cannot load functions (Redis 7 needed): %s", why);
        mqc_store__drop(s, msg);
        return MQC_EUNAVAIL;
    }
    return MQC_OK;
}
