/* Presence in Redis: per-user records (so other brokers and ops can read
 * them), the set of users each node published as present (to clear them when
 * the node restarts), the node heartbeat, and the contact list used for
 * presence visibility. Writes are queued on the per-pass pipeline; the two
 * blocking reads happen only at node start and at a user's first
 * connection (a visibility re-check after a change is queued). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store/internal.h"
#include "store/keys.h"

static void logged_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    (void)r;
    if (rc != MQC_OK)
        mqc_log(MQC_LOG_WARNING, "store: presence write failed: %s (what=%s)", mqc_err_str(rc),
                (const char *)j->ctx);
}

static void presence_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    mqc_store_presence_cb cb = (mqc_store_presence_cb)j->cb;
    bool changed = false;
    const char *st = NULL;
    int64_t seen = 0;
    if (rc == MQC_OK) {
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
            r->element[1]->type == REDIS_REPLY_INTEGER &&
            r->element[2]->type == REDIS_REPLY_STRING &&
            r->element[3]->type == REDIS_REPLY_STRING) {
            changed = r->element[1]->integer == 1;
            st = r->element[2]->str;
            seen = strtoll(r->element[3]->str, NULL, 10);
        } else {
            rc = MQC_EUNAVAIL;
        }
    }
    if (rc != MQC_OK)
        mqc_log(MQC_LOG_WARNING, "store: presence write failed: %s", mqc_err_str(rc));
    if (cb)
        cb(j->ctx, rc, changed, st, seen);
}

int mqc_store_presence(struct mqc_store *s, const char *user, const char *state,
                       int64_t last_seen, const char *node, size_t devices,
                       mqc_store_presence_cb cb, void *ctx)
{
    char pk[MQC_KEY_MAX], nk[MQC_KEY_MAX], seen[24], dev[24];
    if (mqc_key_user_part(s->prefix, user, "presence", pk, sizeof pk) != MQC_OK ||
        snprintf(nk, sizeof nk, "%s{n:%s}:users", s->prefix, node) >= (int)sizeof nk)
        return MQC_EBADREQ;
    snprintf(seen, sizeof seen, "%lld", (long long)last_seen);
    snprintf(dev, sizeof dev, "%zu", devices);
    const char *argv[] = {"FCALL", "mqc1_presence", "2", pk, nk, state, seen, node, dev, user};
    return mqc_store__enqueue(s, 10, argv, NULL, presence_done, (void *)cb, ctx);
}

static void presence_get_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    mqc_store_presence_cb cb = (mqc_store_presence_cb)j->cb;
    if (rc == MQC_OK && (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                         r->element[0]->type != REDIS_REPLY_STRING))
        rc = MQC_ENOTFOUND;
    if (rc != MQC_OK) {
        cb(j->ctx, rc, false, NULL, 0);
        return;
    }
    int64_t seen = r->element[1]->type == REDIS_REPLY_STRING
                       ? strtoll(r->element[1]->str, NULL, 10)
                       : 0;
    cb(j->ctx, MQC_OK, false, r->element[0]->str, seen);
}

int mqc_store_presence_get(struct mqc_store *s, const char *user, mqc_store_presence_cb cb,
                           void *ctx)
{
    char pk[MQC_KEY_MAX];
    if (mqc_key_user_part(s->prefix, user, "presence", pk, sizeof pk) != MQC_OK)
        return MQC_EBADREQ;
    const char *argv[] = {"HMGET", pk, "state", "last_seen"};
    return mqc_store__enqueue(s, 4, argv, NULL, presence_get_done, (void *)cb, ctx);
}

int mqc_store_heartbeat(struct mqc_store *s, const char *node, int64_t now_ms, int64_t ttl_ms)
{
    char k[MQC_KEY_MAX], now[24], ttl[24];
    if (snprintf(k, sizeof k, "%s{n:%s}:alive", s->prefix, node) >= (int)sizeof k)
        return MQC_EBADREQ;
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *argv[] = {"SET", k, now, "PX", ttl};
    int rc = mqc_store__enqueue(s, 5, argv, NULL, logged_done, NULL, (void *)"heartbeat");
    char nodes[MQC_KEY_MAX];
    snprintf(nodes, sizeof nodes, "%snodes", s->prefix);
    const char *reg[] = {"SADD", nodes, node};
    if (rc == MQC_OK)
        rc = mqc_store__enqueue(s, 3, reg, NULL, logged_done, NULL, (void *)"node registry");
    return rc;
}

/* Run a blocking FCALL whose reply is {"ok", items...}. */
static redisReply *call_ok(struct mqc_store *s, int argc, const char **argv)
{
    redisReply *r = mqc_store__cmd(s, argc, argv);
    if (r && (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
              r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "ok"))) {
        mqc_log(MQC_LOG_ERR, "store: unexpected reply to %s", argv[1]);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

int mqc_store_node_reset(struct mqc_store *s, const char *node, int64_t now_ms,
                         void (*fn)(const char *user, int64_t last_seen, void *ctx), void *ctx)
{
    char nk[MQC_KEY_MAX], now[24];
    if (snprintf(nk, sizeof nk, "%s{n:%s}:users", s->prefix, node) >= (int)sizeof nk)
        return MQC_EBADREQ;
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    const char *argv[] = {"FCALL", "mqc1_node_reset", "1", nk, node, now, s->prefix};
    redisReply *r = call_ok(s, 7, argv);
    if (!r)
        return MQC_EUNAVAIL;
    for (size_t i = 1; i + 1 < r->elements; i += 2) {
        if (r->element[i]->type == REDIS_REPLY_STRING)
            fn(r->element[i]->str, strtoll(r->element[i + 1]->str ? r->element[i + 1]->str : "0",
                                           NULL, 10), ctx);
    }
    freeReplyObject(r);
    return MQC_OK;
}

/* The users of an mqc1_contacts reply: sees = element[2 .. 2+n), seen_by =
 * the rest (borrowed from r; *sees and *seen_by one malloc'd array). */
static int contacts_lists(const redisReply *r, const char ***sees, size_t *nsees,
                          const char ***seen_by, size_t *nseen)
{
    *sees = NULL;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[1]->type != REDIS_REPLY_INTEGER || r->element[1]->integer < 0 ||
        (size_t)r->element[1]->integer > r->elements - 2)
        return MQC_EINTERNAL;
    size_t total = r->elements - 2, n = (size_t)r->element[1]->integer;
    const char **all = calloc(total ? total : 1, sizeof *all);
    if (!all)
        return MQC_ENOMEM;
    for (size_t i = 0; i < total; i++) {
        const redisReply *e = r->element[2 + i];
        all[i] = e->type == REDIS_REPLY_STRING ? e->str : "";
    }
    *sees = all;
    *nsees = n;
    *seen_by = all + n;
    *nseen = total - n;
    return MQC_OK;
}

static void contacts_argv(struct mqc_store *s, const char *user, char *ck, char *bk,
                          const char **argv)
{
    argv[0] = "FCALL";
    argv[1] = "mqc1_contacts";
    argv[2] = "2";
    argv[3] = ck;
    argv[4] = bk;
    argv[5] = user;
    argv[6] = s->prefix;
}

int mqc_store_contacts(struct mqc_store *s, const char *user,
                       void (*fn)(const char *other, void *ctx), void *ctx)
{
    char ck[MQC_KEY_MAX], bk[MQC_KEY_MAX];
    if (mqc_key_user_part(s->prefix, user, "convs", ck, sizeof ck) != MQC_OK ||
        mqc_key_user_part(s->prefix, user, "blocked", bk, sizeof bk) != MQC_OK)
        return MQC_EBADREQ;
    const char *argv[7];
    contacts_argv(s, user, ck, bk, argv);
    redisReply *r = call_ok(s, 7, argv);
    if (!r)
        return MQC_EUNAVAIL;
    const char **sees, **seen_by;
    size_t nsees, nseen;
    int rc = contacts_lists(r, &sees, &nsees, &seen_by, &nseen);
    for (size_t i = 0; rc == MQC_OK && i < nsees; i++)
        fn(sees[i], ctx);
    free(sees);
    freeReplyObject(r);
    return rc == MQC_OK ? MQC_OK : MQC_EUNAVAIL;
}

static void visibility_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    mqc_store_visibility_cb cb = (mqc_store_visibility_cb)j->cb;
    const char **sees = NULL, **seen_by = NULL;
    size_t nsees = 0, nseen = 0;
    if (rc == MQC_OK) {
        const char *word = (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                            r->element[0]->type == REDIS_REPLY_STRING)
                               ? r->element[0]->str
                               : "";
        rc =
            strcmp(word, "ok") ? MQC_EINTERNAL : contacts_lists(r, &sees, &nsees, &seen_by, &nseen);
    }
    cb(j->ctx, rc, sees, nsees, seen_by, nseen);
    free(sees);
}

int mqc_store_visibility(struct mqc_store *s, const char *user, mqc_store_visibility_cb cb,
                         void *ctx)
{
    char ck[MQC_KEY_MAX], bk[MQC_KEY_MAX];
    if (mqc_key_user_part(s->prefix, user, "convs", ck, sizeof ck) != MQC_OK ||
        mqc_key_user_part(s->prefix, user, "blocked", bk, sizeof bk) != MQC_OK)
        return MQC_EBADREQ;
    const char *argv[7];
    contacts_argv(s, user, ck, bk, argv);
    return mqc_store__enqueue(s, 7, argv, NULL, visibility_done, (void *)cb, ctx);
}
