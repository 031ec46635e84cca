/* Posts into a conversation: chat/c/{conv}/send, /receipt and /typing.
 * Each is validated here, queued for Redis (membership is checked there,
 * atomically with the write), and finished in the store callback during the
 * tick: fan-out only after Redis confirmed the write, so nobody ever sees a
 * message that is not stored. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/envelope.h"
#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "core/preview.h"
#include "core/relation.h"
#include "core/utf8.h"
#include "plugin/metrics.h"
#include "plugin/plugin.h"

/* A send in flight (a message or a relation: edit, delete, react): who
 * asked, what kind, and the event around its future seq. */
struct send_ctx {
    struct mqc_origin *o;
    enum mqc_send_kind kind;
    char *prefix, *suffix;
};

static void send_ctx_free(struct send_ctx *c)
{
    if (!c)
        return;
    mqc_plugin__origin_free(c->o);
    free(c->prefix);
    free(c->suffix);
    free(c);
}

/* Answer a post that failed in the store. */
static void post_failed(const struct mqc_origin *o, int rc)
{
    if (rc == MQC_ENOTMEMBER || rc == MQC_EUNAVAIL)
        mqc_plugin__send_err(o->p, &o->to, o->ref ? "id" : NULL, o->ref, rc, NULL);
    else if (rc == MQC_EFORBIDDEN)
        mqc_plugin__send_err(o->p, &o->to, o->ref ? "id" : NULL, o->ref, rc,
                             "blocked by the other member of this conversation");
    else
        mqc_plugin__send_err(o->p, &o->to, o->ref ? "id" : NULL, o->ref, MQC_EINTERNAL, NULL);
}

/* Answer the refusals that only sends with relations get (a target that is
 * no message, or one the sender may not change). false: not one of them. */
static bool relation_failed(const struct mqc_origin *o, int rc, const char *reason,
                            enum mqc_send_kind kind)
{
    const char *why = NULL;
    if (rc == MQC_ENOTFOUND)
        why = kind == MQC_SEND_MSG ? "reply_to: no such message in this conversation"
                                   : "no such message in this conversation (or it was deleted)";
    else if (rc == MQC_EFORBIDDEN && reason && !strcmp(reason, "not_sender"))
        why = kind == MQC_SEND_EDIT ? "only its sender may edit a message"
                                    : "only its sender or a group admin may delete a message";
    if (!why)
        return false;
    mqc_plugin__send_err(o->p, &o->to, o->ref ? "id" : NULL, o->ref, rc, why);
    return true;
}

static void send_done(void *ctx, int rc, const struct mqc_post_result *r)
{
    struct send_ctx *c = ctx;
    struct mqc_origin *o = c->o;
    if (rc != MQC_OK) {
        bool told = rc == MQC_ENOTMEMBER || rc == MQC_EUNAVAIL || rc == MQC_EFORBIDDEN ||
                    rc == MQC_ENOTFOUND; /* as post_failed and relation_failed say */
        mqc_plugin__metric_rejected(told ? rc : MQC_EINTERNAL);
        if (!relation_failed(o, rc, r->reason, c->kind))
            post_failed(o, rc);
        goto out;
    }
    if (r->dup && r->announce && r->event_len) {
        /* A retry of a send answered unavailable that Redis had stored after
         * all: nobody was told, so the original goes to everyone now. */
        if (r->has_members)
            mqc_plugin__members_update(o->p, o->conv, r->mver, r->members, r->nmembers);
        if (!mqc_plugin__fanout_conv(o->p, o->conv, r->seq, NULL, r->event, r->event_len, 1))
            mqc_plugin__reply(o->p, &o->to, r->event, r->event_len);
        goto out;
    }
    if (r->dup) {
        /* A retry: the retrying device gets the original, nobody else anything. */
        if (r->event_len)
            mqc_plugin__reply(o->p, &o->to, r->event, r->event_len);
        goto out;
    }
    mqc_plugin__metric_stored();
    if (o->p->cfg.test_crash_after_sends > 0 &&
        ++o->p->test_sends >= o->p->cfg.test_crash_after_sends)
        raise(SIGKILL); /* tests: the recovery path (stored, not delivered) */
    if (r->has_members)
        mqc_plugin__members_update(o->p, o->conv, r->mver, r->members, r->nmembers);
    size_t hl = strlen(c->prefix), tl = strlen(c->suffix);
    char *ev = malloc(hl + tl + 24);
    if (!ev) {
        mqc_log(MQC_LOG_ERR, "send: out of memory building the event (conv=%s seq=%lld)", o->conv,
                (long long)r->seq);
        goto out;
    }
    int n = snprintf(ev, hl + tl + 24, "%s%lld%s", c->prefix, (long long)r->seq, c->suffix);
    /* Live copies: members here, and the other nodes the directory says
     * hold a member (core/directory.c, as the nodes announce it on the bus).
     * A device that connects meanwhile gets the message from its sync. */
    if (!mqc_plugin__fanout_conv(o->p, o->conv, r->seq, NULL, ev, (size_t)n, 1)) {
        mqc_log(MQC_LOG_WARNING, "send: members not cached, only the sender is told (conv=%s)",
                o->conv);
        const char *self[] = {o->user};
        mqc_plugin__fanout(o->p, o->conv, r->seq, self, 1, ev, (size_t)n, 1);
    }
    free(ev);
out:
    send_ctx_free(c);
}

/* The checked fields of a send: a message (possibly a reply) or a
 * relation (core/relation.h). MQC_OK, or MQC_EBADREQ with *why. */
static int parse_send(const cJSON *root, struct mqc_relation *rel, struct mqc_send *m,
                      const char **why)
{
    memset(m, 0, sizeof *m);
    if (mqc_relation_parse(root, rel, why) != MQC_OK)
        return MQC_EBADREQ;
    if (rel->kind == MQC_SEND_MSG || rel->kind == MQC_SEND_EDIT)
        return mqc_send_parse(root, m, why);
    m->id = mqc_envelope_ref(root, "id");
    if (!m->id) {
        *why = "id must be a string of 1-64 characters";
        return MQC_EBADREQ;
    }
    return MQC_OK;
}

static int post_send(struct mqc_plugin *p, const struct mqc_sender *from, const char *conv,
                     cJSON *root, size_t payload_len)
{
    struct mqc_send m;
    struct mqc_relation rel;
    const char *why = NULL;
    if (parse_send(root, &rel, &m, &why) != MQC_OK) {
        const char *id = mqc_envelope_ref(root, "id");
        mqc_plugin__send_err(p, from, id ? "id" : NULL, id, MQC_EBADREQ, why);
        mqc_plugin__metric_rejected(MQC_EBADREQ);
        return MOSQ_ERR_ACL_DENIED;
    }
    /* Flood limits per user (all devices together): over them, nothing is
     * stored and the sender is told; other users are not slowed down. */
    int64_t now = mqc_clock_mono_ms();
    size_t ulen = strlen(from->user);
    if (!mqc_ratelimit_allow(p->rate_msgs, from->user, ulen, now) ||
        !mqc_ratelimit_allow_n(p->rate_bytes, from->user, ulen, payload_len, now)) {
        mqc_plugin__send_err(p, from, "id", m.id, MQC_ERATE,
                             "too many messages; retry later with the same id");
        mqc_plugin__metric_rejected(MQC_ERATE);
        return MOSQ_ERR_ACL_DENIED;
    }
    struct send_ctx *c = calloc(1, sizeof *c);
    int rc = c ? MQC_OK : MQC_ENOMEM;
    if (rc == MQC_OK && !(c->o = mqc_plugin__origin_new(p, from, conv, m.id, NULL)))
        rc = MQC_ENOMEM;
    if (rc == MQC_OK) {
        c->kind = rel.kind;
        rc = mqc_relation_event_parts(conv, m.id, from->user, mqc_clock_wall_ms(), &rel, m.body,
                                      m.attrs, &c->prefix, &c->suffix);
    }
    int64_t mver = mqc_members_version(p->members, conv);
    if (rc == MQC_OK && rel.kind == MQC_SEND_MSG) {
        char preview[MQC_PREVIEW_MAX + 1];
        mqc_preview_make(m.body->valuestring, m.attrs ? m.attrs->valuestring : NULL, preview,
                         sizeof preview);
        rc = mqc_store_send(p->store, conv, from->user, m.id, c->prefix, c->suffix, preview,
                            rel.reply_to, mver, send_done, c);
    } else if (rc == MQC_OK) {
        /* edit, delete, react: no preview, no job (relations never push) */
        rc = mqc_store_relate(p->store, conv, from->user, m.id, mqc_send_kind_name(rel.kind),
                              rel.target, c->prefix, c->suffix, mver, send_done, c);
    }
    if (rc != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "send: cannot queue: %s (user=%s conv=%s)", mqc_err_str(rc),
                from->user, conv);
        mqc_plugin__send_err(p, from, "id", m.id, MQC_EINTERNAL, NULL);
        mqc_plugin__metric_rejected(MQC_EINTERNAL);
        send_ctx_free(c);
    }
    return MOSQ_ERR_SUCCESS;
}

static void receipt_done(void *ctx, int rc, const struct mqc_post_result *r)
{
    struct mqc_origin *o = ctx;
    if (rc != MQC_OK) {
        post_failed(o, rc);
    } else if (!r->ignored) {
        if (r->has_members)
            mqc_plugin__members_update(o->p, o->conv, r->mver, r->members, r->nmembers);
        char *ev = mqc_event_receipt(o->conv, o->user, o->op, r->seq, mqc_clock_wall_ms());
        if (ev)
            mqc_plugin__fanout_conv(o->p, o->conv, -1, NULL, ev, strlen(ev), 1);
        free(ev);
    }
    mqc_plugin__origin_free(o);
}

static void typing_done(void *ctx, int rc, const struct mqc_post_result *r)
{
    struct mqc_origin *o = ctx;
    if (rc == MQC_ENOTMEMBER) {
        post_failed(o, rc);
    } else if (rc == MQC_OK) {
        if (r->has_members)
            mqc_plugin__members_update(o->p, o->conv, r->mver, r->members, r->nmembers);
        char *ev = mqc_event_typing(o->conv, o->user, o->op, mqc_clock_wall_ms());
        if (ev)
            mqc_plugin__fanout_conv(o->p, o->conv, -1, o->user, ev, strlen(ev), 0);
        free(ev);
    } /* typing is ephemeral: with Redis down it is dropped without a word */
    mqc_plugin__origin_free(o);
}

int mqc_plugin__post(struct mqc_plugin *p, const struct mqc_sender *from, const struct mqc_topic *t,
                     cJSON *root, size_t payload_len)
{
    int ret = MOSQ_ERR_SUCCESS, rc = MQC_OK;
    const char *why = NULL;
    struct mqc_origin *o = NULL;
    int64_t mver = mqc_members_version(p->members, t->id);

    if (t->leaf == MQC_CONV_SEND) {
        ret = post_send(p, from, t->id, root, payload_len);
    } else if (t->leaf == MQC_CONV_RECEIPT) {
        struct mqc_receipt rcp;
        if (mqc_receipt_parse(root, &rcp, &why) != MQC_OK) {
            mqc_plugin__send_err(p, from, NULL, NULL, MQC_EBADREQ, why);
            ret = MOSQ_ERR_ACL_DENIED;
        } else if (!mqc_ratelimit_allow(p->rate_reqs, from->user, strlen(from->user),
                                        mqc_clock_mono_ms())) {
            /* Receipts cost a Redis call each: they share the requests' limit. */
            mqc_plugin__send_err(p, from, NULL, NULL, MQC_ERATE,
                                 "too many receipts and requests; send the latest seq later");
            ret = MOSQ_ERR_ACL_DENIED;
        } else if (!(o = mqc_plugin__origin_new(p, from, t->id, NULL,
                                                mqc_receipt_type_name(rcp.type)))) {
            rc = MQC_ENOMEM;
        } else {
            rc = mqc_store_receipt(p->store, t->id, from->user, o->op, rcp.seq, mver, receipt_done,
                                   o);
        }
    } else {
        struct mqc_typing ty;
        char key[2 * MQC_ID_MAX + 2];
        int klen = snprintf(key, sizeof key, "%s\n%s", from->user, t->id);
        if (mqc_typing_parse(root, &ty, &why) != MQC_OK) {
            mqc_plugin__send_err(p, from, NULL, NULL, MQC_EBADREQ, why);
            ret = MOSQ_ERR_ACL_DENIED;
        } else if (!mqc_ratelimit_allow(p->typing, key, (size_t)klen, mqc_clock_mono_ms())) {
            ret = MOSQ_ERR_SUCCESS; /* over 4/s: dropped silently */
        } else if (mqc_members_version(p->members, t->id) >= 0 &&
                   !mqc_members_has(p->members, t->id, from->user)) {
            /* The cache knows the member list (and drops it on any change,
             * also on other nodes): no Redis call to learn the answer. */
            mqc_plugin__send_err(p, from, NULL, NULL, MQC_ENOTMEMBER, NULL);
            ret = MOSQ_ERR_ACL_DENIED;
        } else if (!mqc_ratelimit_allow(p->rate_reqs, from->user, strlen(from->user),
                                        mqc_clock_mono_ms())) {
            /* Each typing event that reaches Redis costs a call: it shares
             * the requests' limit, like receipts. */
            mqc_plugin__send_err(p, from, NULL, NULL, MQC_ERATE,
                                 "too many typing events and requests; retry later");
            ret = MOSQ_ERR_ACL_DENIED;
        } else if (!(o = mqc_plugin__origin_new(p, from, t->id, NULL,
                                                ty.composing ? "composing" : "paused"))) {
            rc = MQC_ENOMEM;
        } else {
            rc = mqc_store_members(p->store, t->id, from->user, mver, typing_done, o);
        }
    }
    if (rc != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "post: cannot queue: %s (user=%s conv=%s)", mqc_err_str(rc),
                from->user, t->id);
        mqc_plugin__send_err(p, from, NULL, NULL, MQC_EINTERNAL, NULL);
        mqc_plugin__origin_free(o);
    }
    cJSON_Delete(root);
    return ret;
}
