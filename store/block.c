/* Blocking (PROTOCOL.md "Blocking"): the FCALLs of mqc1_block and
 * mqc1_blocked and their replies. The blocked set lives in the blocker's
 * hash tag ({u:<user>}:blocked); the refusals it causes (create, add, sends
 * into the direct conversation) and the presence it hides are decided by the
 * functions that do those things (store/mqchat.lua). */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/internal.h"

static int block_status(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return MQC_EINTERNAL;
    if (!strcmp(r->element[0]->str, "ok"))
        return MQC_OK;
    if (!strcmp(r->element[0]->str, "not_found"))
        return MQC_ENOTFOUND;
    return MQC_EINTERNAL;
}

static void block_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    mqc_store_done_cb cb = (mqc_store_done_cb)j->cb;
    if (rc == MQC_OK)
        rc = block_status(r);
    cb(j->ctx, rc);
}

int mqc_store_block(struct mqc_store *s, const char *user, const char *other, const char *direct,
                    bool block, mqc_store_done_cb cb, void *ctx)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc1_block", 3);
    mqc_store__args_user_key(&a, s, user, "blocked");
    mqc_store__args_user_key(&a, s, other, "user");
    mqc_store__args_conv_key(&a, s, direct, "meta");
    mqc_store__args_str(&a, other);
    mqc_store__args_str(&a, block ? "block" : "unblock");
    return mqc_store__submit(s, &a, block_done, (void *)cb, ctx);
}

static void blocked_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    mqc_store_list_cb cb = (mqc_store_list_cb)j->cb;
    const char **users = NULL;
    size_t n = 0;
    if (rc == MQC_OK)
        rc = block_status(r);
    if (rc == MQC_OK) {
        n = r->elements - 1;
        users = calloc(n ? n : 1, sizeof *users);
        if (!users)
            rc = MQC_ENOMEM;
        for (size_t i = 0; users && i < n; i++) {
            const redisReply *e = r->element[1 + i];
            users[i] = e->type == REDIS_REPLY_STRING ? e->str : "";
        }
    }
    cb(j->ctx, rc, users, rc == MQC_OK ? n : 0);
    free(users);
}

int mqc_store_blocked(struct mqc_store *s, const char *user, mqc_store_list_cb cb, void *ctx)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc1_blocked", 1);
    mqc_store__args_user_key(&a, s, user, "blocked");
    return mqc_store__submit(s, &a, blocked_done, (void *)cb, ctx);
}
