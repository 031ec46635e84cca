/* The `convs` request in single-slot steps: the user's index of
 * conversations (SMEMBERS of {u:U}:convs, the user's slot), then one
 * mqc2_conv_info per conversation (its own slot), pipelined from the first
 * step's callback as sync does (store/sync.c), merged in C in conversation
 * order. A conversation the index lists but the user is not a member of
 * (the index follows membership a moment late, docs/ARCHITECTURE.md
 * "Membership split") or that no longer exists is left out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "store/internal.h"

/* A convs request in flight. */
struct convs_run {
    mqc_store_convs_cb cb;
    void *ctx;
    size_t nconvs, left;  /* conversations asked, replies still to come */
    char **convs;         /* sorted */
    redisReply **replies; /* taken from hiredis, one per conversation (NULL: skipped) */
    int rc;
};

static void convs_run_free(struct convs_run *x)
{
    for (size_t i = 0; i < x->nconvs; i++) {
        free(x->convs[i]);
        if (x->replies && x->replies[i])
            freeReplyObject(x->replies[i]);
    }
    free(x->convs);
    free(x->replies);
    free(x);
}

static int64_t elem_int(const redisReply *e)
{
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

static const char *elem_str(const redisReply *e)
{
    return e->type == REDIS_REPLY_STRING ? e->str : "";
}

/* Whether r is a well-formed "ok" reply of mqc2_conv_info. */
static bool info_ok(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 7 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "ok"))
        return false;
    int64_t m = elem_int(r->element[6]);
    return m >= 0 && r->elements == 7 + 2 * (size_t)m;
}

/* Every reply is in: build the items (pointing into the replies), answer, free. */
static void convs_finish(struct convs_run *x)
{
    struct mqc_conv_info *items = calloc(x->nconvs ? x->nconvs : 1, sizeof *items);
    const char **names = NULL;
    size_t n = 0, nnames = 0;
    int rc = x->rc;
    for (size_t i = 0; rc == MQC_OK && i < x->nconvs; i++)
        if (x->replies[i])
            nnames += x->replies[i]->elements - 7; /* m users and m roles */
    if (rc == MQC_OK && (!items || !(names = calloc(nnames ? nnames : 1, sizeof *names))))
        rc = MQC_ENOMEM;
    for (size_t i = 0, k = 0; rc == MQC_OK && i < x->nconvs; i++) {
        const redisReply *r = x->replies[i];
        if (!r)
            continue;
        struct mqc_conv_info *it = &items[n++];
        size_t m = (size_t)elem_int(r->element[6]);
        it->conv = x->convs[i];
        it->kind = elem_str(r->element[1]);
        it->title = elem_str(r->element[2]);
        it->last_seq = elem_int(r->element[3]);
        it->read_seq = elem_int(r->element[4]);
        it->unread = elem_int(r->element[5]);
        it->n = m;
        it->users = names + k;
        for (size_t u = 0; u < m; u++)
            names[k++] = elem_str(r->element[7 + 2 * u]);
        it->roles = names + k;
        for (size_t u = 0; u < m; u++)
            names[k++] = elem_str(r->element[8 + 2 * u]);
    }
    x->cb(x->ctx, rc, items, rc == MQC_OK ? n : 0);
    free(items);
    free(names);
    convs_run_free(x);
}

static void info_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct convs_run *x = j->ctx;
    size_t i = (size_t)(uintptr_t)j->cb;
    if (rc == MQC_OK && info_ok(r)) {
        x->replies[i] = r; /* kept until every conversation has answered */
        j->keep_reply = true;
    } else if (rc == MQC_OK && !(r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
                                 r->element[0]->type == REDIS_REPLY_STRING &&
                                 !strcmp(r->element[0]->str, "skip"))) {
        rc = MQC_EINTERNAL;
    }
    if (rc != MQC_OK && x->rc == MQC_OK)
        x->rc = rc;
    if (--x->left == 0)
        convs_finish(x);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The user's name travels with step 1. */
struct convs_start {
    struct mqc_store *s;
    struct convs_run *x;
    char user[MQC_ID_MAX + 1];
};

static int queue_info(struct mqc_store *s, struct convs_run *x, size_t i, const char *user)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc2_conv_info", 5);
    mqc_store__args_conv_key(&a, s, x->convs[i], "meta");
    mqc_store__args_conv_key(&a, s, x->convs[i], "members");
    mqc_store__args_conv_key(&a, s, x->convs[i], "rcpt");
    mqc_store__args_conv_key(&a, s, x->convs[i], "log");
    mqc_store__args_conv_key(&a, s, x->convs[i], "tomb");
    mqc_store__args_str(&a, user);
    return mqc_store__submit(s, &a, info_done, (void *)(uintptr_t)i, x);
}

static void index_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct convs_start *st = j->ctx;
    struct convs_run *x = st->x;
    if (rc == MQC_OK && (!r || r->type != REDIS_REPLY_ARRAY))
        rc = MQC_EINTERNAL;
    size_t n = rc == MQC_OK ? r->elements : 0;
    if (rc == MQC_OK && n > 0) {
        x->convs = calloc(n, sizeof *x->convs);
        x->replies = calloc(n, sizeof *x->replies);
        if (!x->convs || !x->replies)
            rc = MQC_ENOMEM;
    }
    for (size_t i = 0; rc == MQC_OK && i < n; i++) {
        const redisReply *c = r->element[i];
        if (c->type != REDIS_REPLY_STRING || !mqc_id_valid_str(c->str))
            continue; /* never written by mqchat: not a conversation */
        if (!(x->convs[x->nconvs] = strdup(c->str)))
            rc = MQC_ENOMEM;
        else
            x->nconvs++;
    }
    if (rc != MQC_OK || x->nconvs == 0) {
        x->cb(x->ctx, rc, NULL, 0);
        convs_run_free(x);
        free(st);
        return;
    }
    qsort(x->convs, x->nconvs, sizeof *x->convs, cmp_str);
    x->left = x->nconvs;
    for (size_t i = 0; i < x->nconvs; i++) {
        int qrc = queue_info(st->s, x, i, st->user);
        if (qrc != MQC_OK) {
            if (x->rc == MQC_OK)
                x->rc = qrc;
            if (--x->left == 0) {
                convs_finish(x);
                break;
            }
        }
    }
    free(st);
}

int mqc_store_convs(struct mqc_store *s, const char *user, mqc_store_convs_cb cb, void *ctx)
{
    if (!mqc_id_valid_str(user))
        return MQC_EBADREQ;
    struct convs_run *x = calloc(1, sizeof *x);
    struct convs_start *st = calloc(1, sizeof *st);
    if (!x || !st) {
        free(x);
        free(st);
        return MQC_ENOMEM;
    }
    x->cb = cb;
    x->ctx = ctx;
    st->s = s;
    st->x = x;
    memcpy(st->user, user, strlen(user) + 1);
    struct mqc_store__args a = {0};
    mqc_store__args_str(&a, "SMEMBERS");
    mqc_store__args_user_key(&a, s, user, "convs");
    int rc = mqc_store__submit(s, &a, index_done, NULL, st);
    if (rc != MQC_OK) {
        free(x);
        free(st);
    }
    return rc;
}
