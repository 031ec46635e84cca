/* Blocking (PROTOCOL.md "Blocking"): block / unblock in two single-slot
 * steps, and the FCALL of mqc1_blocked. The blocked set lives in the
 * blocker's hash tag ({u:<user>}:blocked); the refusals it causes (create,
 * add, sends into the direct conversation) and the presence it hides are
 * decided by the functions that do those things (store/mqchat.lua,
 * store/member.c). A block: 1. does the other user exist, is the other in
 * the set (two reads, pipelined); 2. SADD / SREM in the blocker's slot and
 * mqc2_block_mark on the pair's direct conversation (its slot), pipelined.
 * Both writes are idempotent: a broker killed between them is repaired by
 * the same request again (the client's retry). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
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

/* A block or unblock in flight. */
struct block_run {
    struct mqc_store *s;
    mqc_store_done_cb cb;
    void *ctx;
    bool block, exists, listed;
    bool abandoned; /* the caller was told a queueing error: no callback */
    int rc;
    size_t pending;
    char user[MQC_ID_MAX + 1], other[MQC_ID_MAX + 1], direct[MQC_ID_MAX + 1];
};

static void block_end(struct block_run *b)
{
    if (!b->abandoned)
        b->cb(b->ctx, b->rc);
    free(b);
}

static void write_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct block_run *b = j->ctx;
    if (rc == MQC_OK && r && r->type == REDIS_REPLY_ARRAY)
        rc = block_status(r); /* mqc2_block_mark's reply; SADD/SREM answer an integer */
    if (rc != MQC_OK && b->rc == MQC_OK)
        b->rc = rc;
    if (--b->pending == 0)
        block_end(b);
}

/* Step 2: the blocker's set and the direct conversation's mark. */
static int queue_writes(struct block_run *b)
{
    struct mqc_store__args a = {0}, m = {0};
    mqc_store__args_str(&a, b->block ? "SADD" : "SREM");
    mqc_store__args_user_key(&a, b->s, b->user, "blocked");
    mqc_store__args_str(&a, b->other);
    int rc = mqc_store__submit(b->s, &a, write_done, NULL, b);
    if (rc == MQC_OK)
        b->pending++;
    mqc_store__args_fcall(&m, "mqc2_block_mark", 1);
    mqc_store__args_conv_key(&m, b->s, b->direct, "meta");
    mqc_store__args_str(&m, b->other);
    mqc_store__args_str(&m, b->block ? "block" : "unblock");
    if (rc == MQC_OK)
        rc = mqc_store__submit(b->s, &m, write_done, NULL, b);
    else
        mqc_store__args_free(&m);
    if (rc == MQC_OK)
        b->pending++;
    return rc;
}

static void read_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct block_run *b = j->ctx;
    bool *out = j->cb;
    if (rc == MQC_OK && r && r->type == REDIS_REPLY_INTEGER)
        *out = r->integer != 0;
    else if (b->rc == MQC_OK)
        b->rc = rc == MQC_OK ? MQC_EINTERNAL : rc;
    if (--b->pending > 0)
        return;
    if (b->abandoned) {
        free(b);
        return;
    }
    /* not_found for a user that does not exist; unblocking a deleted user
     * still in the set works */
    if (b->rc == MQC_OK && !b->exists && !(b->listed && !b->block))
        b->rc = MQC_ENOTFOUND;
    if (b->rc == MQC_OK) {
        b->rc = queue_writes(b);
        if (b->pending > 0)
            return;
    }
    block_end(b);
}

int mqc_store_block(struct mqc_store *s, const char *user, const char *other, const char *direct,
                    bool block, mqc_store_done_cb cb, void *ctx)
{
    if (!mqc_id_valid_str(user) || !mqc_id_valid_str(other) || !mqc_id_valid_str(direct))
        return MQC_EBADREQ;
    struct block_run *b = calloc(1, sizeof *b);
    if (!b)
        return MQC_ENOMEM;
    b->s = s;
    b->cb = cb;
    b->ctx = ctx;
    b->block = block;
    snprintf(b->user, sizeof b->user, "%s", user);
    snprintf(b->other, sizeof b->other, "%s", other);
    snprintf(b->direct, sizeof b->direct, "%s", direct);
    struct mqc_store__args a = {0}, l = {0};
    mqc_store__args_str(&a, "EXISTS");
    mqc_store__args_user_key(&a, s, other, "user");
    int rc = mqc_store__submit(s, &a, read_done, &b->exists, b);
    if (rc == MQC_OK)
        b->pending++;
    mqc_store__args_str(&l, "SISMEMBER");
    mqc_store__args_user_key(&l, s, user, "blocked");
    mqc_store__args_str(&l, other);
    if (rc == MQC_OK)
        rc = mqc_store__submit(s, &l, read_done, &b->listed, b);
    else
        mqc_store__args_free(&l);
    if (rc == MQC_OK) {
        b->pending++;
        return MQC_OK;
    }
    if (b->pending == 0)
        free(b);
    else
        b->abandoned = true;
    return rc;
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
