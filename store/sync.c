/* Offline sync and push settings: fan-out on read over the user's
 * conversations (mqc2_sync_user, mqc2_sync_conv), push device registration, mutes, and the live
 * device count that push decisions read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "store/internal.h"
#include "store/keys.h"

/* ---- sync: fan-out on read ----
 * Step 1 (mqc2_sync_user, the user's slot): Redis' time W, the user's
 * conversations, and those the user left since the token. Step 2, queued
 * from step 1's callback and pipelined (mqc2_sync_conv, each in its
 * conversation's slot): each conversation's visible events after the
 * position and before W. Then the merge below, by (t, conv, seq). */

/* Least bytes of events asked of one conversation per page. */
#define CONV_BYTES_MIN 16384

/* One event of a sync page, pointing into its conversation's reply. */
struct sync_ev {
    int64_t t, seq;
    const char *conv; /* borrowed from the sync */
    const char *text;
    size_t len;
};

/* A sync in flight. */
struct sync_run {
    struct mqc_store *s;
    mqc_store_sync_cb cb;
    void *ctx;
    struct mqc_syncpos since;
    bool has_since;
    int64_t w, limit;
    size_t max_bytes;
    size_t nconvs, left; /* conversations asked, replies still to come */
    char **convs;
    redisReply **replies; /* taken from hiredis (one per conversation) */
    int rc;
};

static void sync_run_free(struct sync_run *x)
{
    for (size_t i = 0; i < x->nconvs; i++) {
        free(x->convs[i]);
        if (x->replies[i])
            freeReplyObject(x->replies[i]);
    }
    free(x->convs);
    free(x->replies);
    free(x);
}

static int ev_cmp(const void *pa, const void *pb)
{
    const struct sync_ev *a = pa, *b = pb;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    int c = strcmp(a->conv, b->conv);
    if (c)
        return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Is a at or before the position (t, conv, seq)? */
static bool ev_le(const struct sync_ev *a, const struct sync_ev *pos)
{
    return ev_cmp(a, pos) <= 0;
}

/* Every reply is in: merge, cut, answer, free. */
static void sync_finish(struct sync_run *x)
{
    struct mqc_sync_result res = {0};
    struct sync_ev *evs = NULL, bound = {0};
    const char **events = NULL;
    size_t *lens = NULL, n = 0, total = 0;
    bool bounded = false;
    int rc = x->rc;
    for (size_t i = 0; rc == MQC_OK && i < x->nconvs; i++) {
        const redisReply *r = x->replies[i];
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || (r->elements - 2) % 3 != 0)
            rc = MQC_EINTERNAL;
        else
            total += (r->elements - 2) / 3;
    }
    if (rc == MQC_OK) {
        evs = calloc(total ? total : 1, sizeof *evs);
        events = calloc(total ? total : 1, sizeof *events);
        lens = calloc(total ? total : 1, sizeof *lens);
        if (!evs || !events || !lens)
            rc = MQC_ENOMEM;
    }
    for (size_t i = 0; rc == MQC_OK && i < x->nconvs; i++) {
        const redisReply *r = x->replies[i];
        size_t first = n;
        for (size_t k = 2; k + 2 < r->elements; k += 3) {
            const redisReply *t = r->element[k], *q = r->element[k + 1], *e = r->element[k + 2];
            if (t->type != REDIS_REPLY_INTEGER || q->type != REDIS_REPLY_INTEGER ||
                e->type != REDIS_REPLY_STRING)
                continue;
            evs[n++] = (struct sync_ev){t->integer, q->integer, x->convs[i], e->str, e->len};
        }
        /* A conversation with more left: nothing after its last event may
         * be returned now (its next events would come before it). */
        if (r->element[1]->type == REDIS_REPLY_INTEGER && r->element[1]->integer == 1 &&
            n > first && (!bounded || ev_cmp(&evs[n - 1], &bound) < 0)) {
            bound = evs[n - 1];
            bounded = true;
        }
    }
    if (rc == MQC_OK) {
        qsort(evs, n, sizeof *evs, ev_cmp);
        size_t bytes = 0, k = 0;
        bool more = false;
        for (; k < n; k++) {
            if (bounded && !ev_le(&evs[k], &bound)) {
                more = true;
                break;
            }
            if ((int64_t)k == x->limit || (k > 0 && bytes + evs[k].len > x->max_bytes)) {
                more = true;
                break;
            }
            events[k] = evs[k].text;
            lens[k] = evs[k].len;
            bytes += evs[k].len;
        }
        if (bounded)
            more = true; /* that conversation has events after its last one here */
        res.n = k;
        res.events = events;
        res.lens = lens;
        res.more = more;
        if (more && k > 0) {
            res.next.t = evs[k - 1].t;
            res.next.tie = true;
            snprintf(res.next.conv, sizeof res.next.conv, "%s", evs[k - 1].conv);
            res.next.seq = evs[k - 1].seq;
        } else if (more) {
            res.next = x->since; /* cannot happen: at least one event goes */
        } else {
            res.next.t = x->w - 1; /* every event before W was visible */
        }
    }
    x->cb(x->ctx, rc, &res);
    free(evs);
    free(events);
    free(lens);
    sync_run_free(x);
}

static void sync_conv_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct sync_run *x = j->ctx;
    size_t i = (size_t)(uintptr_t)j->cb;
    if (rc != MQC_OK && x->rc == MQC_OK)
        x->rc = rc;
    if (rc == MQC_OK && r) {
        /* Keep the reply until every conversation has answered. */
        x->replies[i] = r;
        j->keep_reply = true;
    }
    if (--x->left == 0)
        sync_finish(x);
}

/* Queue step 2 for conversation i of x. */
static int queue_conv(struct sync_run *x, size_t i, const char *user)
{
    struct mqc_store *s = x->s;
    const char *conv = x->convs[i];
    /* Events at time T come after the position when seq > S. */
    int64_t S = INT64_MAX / 4;
    if (x->since.tie) {
        int c = strcmp(conv, x->since.conv);
        S = c > 0 ? 0 : c < 0 ? INT64_MAX / 4 : x->since.seq;
    }
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc2_sync_conv", 5);
    mqc_store__args_conv_key(&a, s, conv, "meta");
    mqc_store__args_conv_key(&a, s, conv, "rcpt");
    mqc_store__args_conv_key(&a, s, conv, "log");
    mqc_store__args_conv_key(&a, s, conv, "tomb");
    /* members: a conversation of a stale index (the user neither a member
     * nor removed) yields nothing */
    mqc_store__args_conv_key(&a, s, conv, "members");
    mqc_store__args_str(&a, user);
    mqc_store__args_fmt(&a, "%lld", (long long)x->since.t);
    mqc_store__args_fmt(&a, "%lld", (long long)S);
    mqc_store__args_fmt(&a, "%lld", (long long)x->w);
    mqc_store__args_fmt(&a, "%lld", (long long)x->limit);
    /* Each conversation gets a share of the page's bytes (at least one
     * event always comes): a user in hundreds of busy conversations never
     * makes Redis build, or the broker hold, hundreds of full pages. A
     * conversation cut short bounds the merge (sync_finish), so nothing is
     * skipped, the page is only shorter. */
    size_t share = x->max_bytes / (x->nconvs ? x->nconvs : 1);
    mqc_store__args_fmt(&a, "%zu", share > CONV_BYTES_MIN ? share : CONV_BYTES_MIN);
    return mqc_store__submit(s, &a, sync_conv_done, (void *)(uintptr_t)i, x);
}

/* The user's name travels with step 1 (the run is created there). */
struct sync_start {
    struct sync_run *x;
    char user[MQC_ID_MAX + 1];
};

static void sync_user_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct sync_start *st = j->ctx;
    struct sync_run *x = st->x;
    struct mqc_sync_result res = {0};
    if (rc == MQC_OK &&
        (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
         r->element[1]->type != REDIS_REPLY_INTEGER || r->element[2]->type != REDIS_REPLY_INTEGER))
        rc = MQC_EINTERNAL;
    if (rc != MQC_OK) {
        x->cb(x->ctx, rc, &res);
        goto out;
    }
    x->w = r->element[1]->integer;
    res.reset = r->element[2]->integer == 1 || x->since.legacy;
    res.next.t = x->w - 1;
    size_t n = r->elements - 3;
    if (!x->has_since || res.reset || n == 0) {
        x->cb(x->ctx, MQC_OK, &res);
        goto out;
    }
    x->convs = calloc(n, sizeof *x->convs);
    x->replies = calloc(n, sizeof *x->replies);
    if (!x->convs || !x->replies) {
        x->cb(x->ctx, MQC_ENOMEM, &res);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *c = r->element[3 + i];
        x->convs[i] = strdup(c->type == REDIS_REPLY_STRING ? c->str : "");
        if (!x->convs[i]) {
            x->nconvs = i;
            x->cb(x->ctx, MQC_ENOMEM, &res);
            goto out;
        }
    }
    x->nconvs = n;
    x->left = n;
    for (size_t i = 0; i < n; i++) {
        int qrc = queue_conv(x, i, st->user);
        if (qrc != MQC_OK) {
            /* Those queued still answer: count this one as failed now. */
            if (x->rc == MQC_OK)
                x->rc = qrc;
            if (--x->left == 0) {
                sync_finish(x);
                free(st);
                return;
            }
        }
    }
    free(st);
    return;
out:
    sync_run_free(x);
    free(st);
}

int mqc_store_sync(struct mqc_store *s, const char *user, const struct mqc_syncpos *since,
                   int64_t limit, size_t max_bytes, mqc_store_sync_cb cb, void *ctx)
{
    if (!mqc_id_valid_str(user))
        return MQC_EBADREQ;
    struct sync_run *x = calloc(1, sizeof *x);
    struct sync_start *st = calloc(1, sizeof *st);
    if (!x || !st) {
        free(x);
        free(st);
        return MQC_ENOMEM;
    }
    x->s = s;
    x->cb = cb;
    x->ctx = ctx;
    x->limit = limit > 0 ? limit : 1;
    x->max_bytes = max_bytes;
    x->has_since = since != NULL;
    if (since)
        x->since = *since;
    st->x = x;
    snprintf(st->user, sizeof st->user, "%s", user);
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc2_sync_user", 2);
    mqc_store__args_user_key(&a, s, user, "convs");
    mqc_store__args_user_key(&a, s, user, "gone");
    if (since)
        mqc_store__args_fmt(&a, "%lld", (long long)since->t);
    else
        mqc_store__args_str(&a, "");
    mqc_store__args_fmt(&a, "%lld", (long long)s->retention_ms);
    int rc = mqc_store__submit(s, &a, sync_user_done, NULL, st);
    if (rc != MQC_OK) {
        free(x);
        free(st);
    }
    return rc;
}

static void ignore_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    (void)j;
    (void)rc;
    (void)r;
}

int mqc_store_presence_devices(struct mqc_store *s, const char *user, const char *node,
                               size_t devices)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc2_devices", 2);
    mqc_store__args_user_key(&a, s, user, "presence");
    mqc_store__args_user_key(&a, s, user, "user");
    mqc_store__args_str(&a, node);
    mqc_store__args_fmt(&a, "%zu", devices);
    return mqc_store__submit(s, &a, ignore_done, NULL, NULL);
}
