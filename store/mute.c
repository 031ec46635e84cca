/* Muting a conversation (PROTOCOL.md "mute") in two single-slot steps:
 * the membership check in the conversation's slot (HEXISTS members), then
 * the user's mute entry in the user's slot (HSET until, or HDEL when until
 * is not in the future). A member removed between the two keeps a mute
 * entry for a conversation they left: harmless (it only silences pushes of
 * a conversation that sends them none), and a later mute overwrites it. */
#include <stdio.h>
#include <stdlib.h>

#include "core/err.h"
#include "core/id.h"
#include "store/internal.h"
#include "store/keys.h"

struct mute_run {
    struct mqc_store *s;
    mqc_store_done_cb cb;
    void *ctx;
    int64_t until_ms, now_ms;
    char user[MQC_ID_MAX + 1], conv[MQC_ID_MAX + 1];
};

static void write_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct mute_run *m = j->ctx;
    if (rc == MQC_OK && (!r || r->type != REDIS_REPLY_INTEGER))
        rc = MQC_EINTERNAL;
    if (m->cb)
        m->cb(m->ctx, rc);
    free(m);
}

static void member_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct mute_run *m = j->ctx;
    if (rc == MQC_OK && (!r || r->type != REDIS_REPLY_INTEGER))
        rc = MQC_EINTERNAL;
    else if (rc == MQC_OK && r->integer == 0)
        rc = MQC_ENOTMEMBER;
    if (rc == MQC_OK) {
        struct mqc_store__args a = {0};
        bool on = m->until_ms > m->now_ms;
        mqc_store__args_str(&a, on ? "HSET" : "HDEL");
        mqc_store__args_user_key(&a, m->s, m->user, "mute");
        mqc_store__args_str(&a, m->conv);
        if (on)
            mqc_store__args_fmt(&a, "%lld", (long long)m->until_ms);
        rc = mqc_store__submit(m->s, &a, write_done, NULL, m);
        if (rc == MQC_OK)
            return;
    }
    if (m->cb)
        m->cb(m->ctx, rc);
    free(m);
}

int mqc_store_mute(struct mqc_store *s, const char *user, const char *conv, int64_t until_ms,
                   int64_t now_ms, mqc_store_done_cb cb, void *ctx)
{
    if (!mqc_id_valid_str(user) || !mqc_id_valid_str(conv))
        return MQC_EBADREQ;
    struct mute_run *m = calloc(1, sizeof *m);
    if (!m)
        return MQC_ENOMEM;
    m->s = s;
    m->cb = cb;
    m->ctx = ctx;
    m->until_ms = until_ms;
    m->now_ms = now_ms;
    snprintf(m->user, sizeof m->user, "%s", user);
    snprintf(m->conv, sizeof m->conv, "%s", conv);
    struct mqc_store__args a = {0};
    mqc_store__args_str(&a, "HEXISTS");
    mqc_store__args_conv_key(&a, s, conv, "members");
    mqc_store__args_str(&a, user);
    int rc = mqc_store__submit(s, &a, member_done, NULL, m);
    if (rc != MQC_OK)
        free(m);
    return rc;
}
