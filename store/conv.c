/* Conversation operations: build the FCALL for each function of
 * store/mqchat.lua, queue it, and turn its reply into core types for the
 * caller's callback. The only file that knows those replies' layout. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "store/internal.h"
#include "store/keys.h"

/* ---- reply helpers ---- */

static int64_t reply_int(const redisReply *e)
{
    if (!e)
        return 0;
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

static const char *reply_str(const redisReply *e)
{
    return (e && (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS)) ? e->str : "";
}

/* The status of a function's reply: MQC_OK for "ok"/"dup"/"ignored"/"noop",
 * the matching error otherwise. */
static int status(const redisReply *r, const char **word)
{
    *word = "";
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return MQC_EINTERNAL;
    *word = reply_str(r->element[0]);
    if (!strcmp(*word, "ok") || !strcmp(*word, "dup") || !strcmp(*word, "ignored") ||
        !strcmp(*word, "noop"))
        return MQC_OK;
    return mqc_store__error_word(*word);
}

int mqc_store__error_word(const char *word)
{
    if (!strcmp(word, "not_member"))
        return MQC_ENOTMEMBER;
    if (!strcmp(word, "forbidden"))
        return MQC_EFORBIDDEN;
    if (!strcmp(word, "not_found"))
        return MQC_ENOTFOUND;
    if (!strcmp(word, "exists"))
        return MQC_EEXIST;
    return MQC_EINTERNAL;
}

/* Point out[i] at the strings of r->element[from .. from+n) (borrowed). */
static const char **strings(const redisReply *r, size_t from, size_t n, size_t stride)
{
    const char **out = calloc(n ? n : 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t k = from + i * stride;
        out[i] = k < r->elements ? reply_str(r->element[k]) : "";
    }
    return out;
}

int mqc_store__event_list(const redisReply *r, size_t from, const char ***events, size_t **lens,
                          size_t *n)
{
    *n = r->elements > from ? r->elements - from : 0;
    *events = calloc(*n ? *n : 1, sizeof **events);
    *lens = calloc(*n ? *n : 1, sizeof **lens);
    if (!*events || !*lens)
        return MQC_ENOMEM;
    for (size_t i = 0; i < *n; i++) {
        const redisReply *e = r->element[from + i];
        bool str = e->type == REDIS_REPLY_STRING;
        (*events)[i] = str ? e->str : "{}";
        (*lens)[i] = str ? e->len : 2;
    }
    return MQC_OK;
}

/* ---- send / receipt / members ---- */

/* The member list that add_members() in store/mqchat.lua put at
 * r->element[at] (count, then user/role pairs; -1: the cache is current). */
static int parse_members(const redisReply *r, size_t at, struct mqc_post_result *res,
                         const char ***members)
{
    int64_t n = reply_int(at < r->elements ? r->element[at] : NULL);
    if (n < 0 || at + 1 + 2 * (size_t)n > r->elements)
        return MQC_OK;
    *members = strings(r, at + 1, (size_t)n, 2);
    if (!*members)
        return MQC_ENOMEM;
    res->members = *members;
    res->nmembers = (size_t)n;
    res->has_members = true;
    return MQC_OK;
}

/* Turn a post function's reply into res; *members (returned owned, may be
 * NULL) holds res->members. */
static int post_parse(int rc, const redisReply *r, struct mqc_post_result *res,
                      const char ***members)
{
    const char *word;
    if (rc == MQC_OK)
        rc = status(r, &word);
    if (rc == MQC_EFORBIDDEN && r->elements > 1)
        res->reason = reply_str(r->element[1]);
    if (rc == MQC_OK && !strcmp(word, "dup")) {
        res->dup = true;
        res->seq = reply_int(r->elements > 1 ? r->element[1] : NULL);
        if (r->elements > 2) {
            res->event = reply_str(r->element[2]);
            res->event_len = r->element[2]->len;
        }
        if (r->elements > 4) {
            res->mver = reply_int(r->element[3]);
            rc = parse_members(r, 4, res, members);
        }
    } else if (rc == MQC_OK && !strcmp(word, "ignored")) {
        res->ignored = true;
        res->read_m = -1;
        res->seq = reply_int(r->elements > 1 ? r->element[1] : NULL);
    } else if (rc == MQC_OK) {
        if (r->elements < 4)
            return MQC_EINTERNAL;
        res->seq = reply_int(r->element[1]);
        res->mver = reply_int(r->element[2]);
        rc = parse_members(r, 3, res, members);
        /* receipt: m after the members ("" = unknown) */
        int64_t nm = reply_int(r->element[3]);
        size_t at = 4 + (nm > 0 ? 2 * (size_t)nm : 0);
        res->read_m = -1;
        if (at < r->elements && r->element[at]->type == REDIS_REPLY_INTEGER)
            res->read_m = r->element[at]->integer;
    }
    return rc;
}

static void post_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    mqc_store_post_cb cb = (mqc_store_post_cb)j->cb;
    struct mqc_post_result res = {0};
    const char **members = NULL;
    rc = post_parse(rc, r, &res, &members);
    cb(j->ctx, rc, &res);
    free(members);
}

/* Most keys remembered in s->unsure; past it the set starts over (a retry
 * then only reaches its own device, as if its first attempt had failed). */
#define UNSURE_MAX 100000

/* A send in flight: the caller's callback and the dedupe key. */
struct send_job {
    struct mqc_store *s;
    mqc_store_post_cb cb;
    void *ctx;
    bool hint; /* a stored event has a job (msg): hint its slot */
    char key[];
};

static void send_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct send_job *w = j->ctx;
    struct mqc_post_result res = {0};
    const char **members = NULL;
    rc = post_parse(rc, r, &res, &members);
    if (rc == MQC_OK && w->s->wait_replicas > 0 && j->acked < w->s->wait_replicas) {
        /* stored, but not on enough replicas: a failover now could lose it.
         * Unsure, as if the reply had been lost: the retry is deduplicated. */
        snprintf(w->s->last_error, sizeof w->s->last_error,
                 "WAIT: %lld of %d replicas acknowledged", j->acked < 0 ? 0 : j->acked,
                 w->s->wait_replicas);
        rc = MQC_EUNAVAIL;
        j->maybe_run = true;
        memset(&res, 0, sizeof res);
    }
    if (rc == MQC_EUNAVAIL && j->maybe_run) {
        if (mqc_map_count(w->s->unsure) >= UNSURE_MAX) {
            mqc_log(MQC_LOG_WARNING,
                    "store: %d sends of unknown outcome remembered; "
                    "forgetting them",
                    UNSURE_MAX);
            mqc_map_free(w->s->unsure);
            w->s->unsure = mqc_map_new();
        }
        static char marker; /* the map's values only need to be non-NULL */
        if (!w->s->unsure || mqc_map_put(w->s->unsure, w->key, &marker) != MQC_OK)
            mqc_log(MQC_LOG_ERR, "store: out of memory remembering a send of unknown outcome");
    } else if (w->s->unsure && mqc_map_del(w->s->unsure, w->key) && res.dup) {
        res.announce = true;
    }
    if (rc == MQC_OK && !res.dup && w->hint)
        mqc_store__hint(w->s, w->key, strcspn(w->key, "\n")); /* key: conv\n... */
    w->cb(w->ctx, rc, &res);
    free(members);
    free(w);
}

int mqc_store__submit_send(struct mqc_store *s, struct mqc_store__args *a, const char *conv,
                           const char *sender, const char *id, bool hint, mqc_store_post_cb cb,
                           void *ctx)
{
    size_t kl = strlen(conv) + strlen(sender) + strlen(id) + 3;
    struct send_job *w = malloc(sizeof *w + kl);
    if (!w) {
        mqc_store__args_free(a);
        return MQC_ENOMEM;
    }
    w->s = s;
    w->cb = cb;
    w->ctx = ctx;
    w->hint = hint;
    snprintf(w->key, kl, "%s\n%s\n%s", conv, sender, id);
    int rc = mqc_store__submit(s, a, send_done, NULL, w);
    if (rc != MQC_OK)
        free(w);
    else
        s->last_job->wait = s->wait_replicas; /* answered after WAIT (store/batch.c) */
    return rc;
}

int mqc_store_send(struct mqc_store *s, const char *conv, const char *sender, const char *id,
                   const char *prefix, const char *suffix, const char *preview, int64_t reply_to,
                   int64_t cached_mver, mqc_store_post_cb cb, void *ctx)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc2_send", 7);
    mqc_store__args_conv_key(&a, s, conv, "meta");
    mqc_store__args_conv_key(&a, s, conv, "members");
    mqc_store__args_conv_key(&a, s, conv, "log");
    mqc_store__args_conv_key(&a, s, conv, "ids");
    mqc_store__args_conv_key(&a, s, conv, "rcpt");
    char jobs[MQC_KEY_MAX];
    if (mqc_key_conv_jobs(s->prefix, conv, jobs, sizeof jobs) != MQC_OK)
        a.failed = 1;
    else
        mqc_store__args_str(&a, jobs);
    /* read only where the log comes back short (an entry a delete moved) */
    mqc_store__args_conv_key(&a, s, conv, "tomb");
    mqc_store__args_str(&a, sender);
    mqc_store__args_str(&a, id);
    mqc_store__args_str(&a, prefix);
    mqc_store__args_str(&a, suffix);
    mqc_store__args_fmt(&a, "%lld", (long long)cached_mver);
    mqc_store__args_fmt(&a, "%lld", (long long)s->retention_ms);
    mqc_store__args_str(&a, conv);
    mqc_store__args_str(&a, s->push_preview && preview ? preview : "");
    if (reply_to > 0)
        mqc_store__args_fmt(&a, "%lld", (long long)reply_to);
    return mqc_store__submit_send(s, &a, conv, sender, id, true, cb, ctx);
}

/* The reply of mqc2_unread (fire-and-forget): failures are logged; a
 * library without the function (mqchat-push's side of #15 not merged, or an
 * older library still loaded) is said once, and costs nothing else. */
static void unread_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct mqc_store *s = j->ctx;
    if (rc == MQC_OK || !r)
        return; /* no reply: the connection's failure is logged by the store */
    if (r->type == REDIS_REPLY_ERROR && r->str && strstr(r->str, "Function not found")) {
        if (!s->unread_missing_logged)
            mqc_log(MQC_LOG_WARNING, "store: mqc2_unread is not loaded; unread counters are "
                                     "not updated after reads (logged once)");
        s->unread_missing_logged = true;
        return;
    }
    mqc_log(MQC_LOG_ERR, "store: unread update failed: %.120s",
            r->type == REDIS_REPLY_ERROR && r->str ? r->str : "unexpected reply");
}

/* Queue the user-slot update after a read receipt.
 * Contract of mqc2_unread (store/mqchat.lua, written with mqchat-push):
 * KEYS "<p>{u:<user>}:unread"; ARGV conv, counted mc ("" = none), read mc
 * ("" = none); max-updates c:<conv> / r:<conv> and total (idempotent,
 * order-independent); replies with the new total, which is ignored here. */
static void queue_unread(struct mqc_store *s, const char *conv, const char *user, int64_t read_m)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc2_unread", 1);
    mqc_store__args_user_key(&a, s, user, "unread");
    mqc_store__args_str(&a, conv);
    mqc_store__args_str(&a, "");
    mqc_store__args_fmt(&a, "%lld", (long long)read_m);
    if (mqc_store__submit(s, &a, unread_done, NULL, s) != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "store: cannot queue an unread update (user=%s conv=%s)", user, conv);
        return;
    }
    s->last_job->soft = true;
}

/* A receipt in flight: the caller's callback, and what the unread update
 * needs. */
struct receipt_job {
    struct mqc_store *s;
    mqc_store_post_cb cb;
    void *ctx;
    bool read;
    char conv[MQC_ID_MAX + 1], user[MQC_ID_MAX + 1];
};

static void receipt_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct receipt_job *w = j->ctx;
    struct mqc_post_result res = {0};
    const char **members = NULL;
    rc = post_parse(rc, r, &res, &members);
    if (rc == MQC_OK && w->read && !res.ignored && res.read_m >= 0)
        queue_unread(w->s, w->conv, w->user, res.read_m);
    w->cb(w->ctx, rc, &res);
    free(members);
    free(w);
}

int mqc_store_receipt(struct mqc_store *s, const char *conv, const char *user, const char *type,
                      int64_t seq, int64_t cached_mver, mqc_store_post_cb cb, void *ctx)
{
    if (!mqc_id_valid_str(conv) || !mqc_id_valid_str(user))
        return MQC_EBADREQ;
    struct receipt_job *w = calloc(1, sizeof *w);
    if (!w)
        return MQC_ENOMEM;
    w->s = s;
    w->cb = cb;
    w->ctx = ctx;
    w->read = strcmp(type, "read") == 0;
    snprintf(w->conv, sizeof w->conv, "%s", conv);
    snprintf(w->user, sizeof w->user, "%s", user);
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc2_receipt", 5);
    mqc_store__args_conv_key(&a, s, conv, "meta");
    mqc_store__args_conv_key(&a, s, conv, "members");
    mqc_store__args_conv_key(&a, s, conv, "rcpt");
    mqc_store__args_conv_key(&a, s, conv, "log");
    mqc_store__args_conv_key(&a, s, conv, "tomb");
    mqc_store__args_str(&a, user);
    mqc_store__args_str(&a, type);
    mqc_store__args_fmt(&a, "%lld", (long long)seq);
    mqc_store__args_fmt(&a, "%lld", (long long)cached_mver);
    int rc = mqc_store__submit(s, &a, receipt_done, NULL, w);
    if (rc != MQC_OK)
        free(w);
    return rc;
}

int mqc_store_members(struct mqc_store *s, const char *conv, const char *user, int64_t cached_mver,
                      mqc_store_post_cb cb, void *ctx)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc1_members", 2);
    mqc_store__args_conv_key(&a, s, conv, "meta");
    mqc_store__args_conv_key(&a, s, conv, "members");
    mqc_store__args_str(&a, user);
    mqc_store__args_fmt(&a, "%lld", (long long)cached_mver);
    return mqc_store__submit(s, &a, post_done, (void *)cb, ctx);
}

/* ---- create / add / remove / leave: store/member.c ---- */

/* ---- history (convs: store/convs.c) ---- */

static void history_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    mqc_store_history_cb cb = (mqc_store_history_cb)j->cb;
    const char *word;
    const char **events = NULL;
    size_t *lens = NULL, n = 0;
    bool more = false;
    if (rc == MQC_OK)
        rc = status(r, &word);
    if (rc == MQC_OK) {
        more = r->elements > 1 && reply_int(r->element[1]) == 1;
        rc = mqc_store__event_list(r, 2, &events, &lens, &n);
    }
    cb(j->ctx, rc, more, events, lens, rc == MQC_OK ? n : 0);
    free(events);
    free(lens);
}

int mqc_store_history(struct mqc_store *s, const char *conv, const char *user, int64_t before,
                      int64_t limit, size_t max_bytes, mqc_store_history_cb cb, void *ctx)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc1_history", 4);
    mqc_store__args_conv_key(&a, s, conv, "meta");
    mqc_store__args_conv_key(&a, s, conv, "members");
    mqc_store__args_conv_key(&a, s, conv, "log");
    mqc_store__args_conv_key(&a, s, conv, "tomb");
    mqc_store__args_str(&a, user);
    if (before < 0)
        mqc_store__args_str(&a, "");
    else
        mqc_store__args_fmt(&a, "%lld", (long long)before);
    mqc_store__args_fmt(&a, "%lld", (long long)limit);
    mqc_store__args_fmt(&a, "%zu", max_bytes);
    return mqc_store__submit(s, &a, history_done, (void *)cb, ctx);
}
