/* Presence in Redis: per-user records (so other brokers and ops can read
 * them), the set of users each node published as present (to clear them when
 * the node restarts), the node heartbeat, and the contact list used for
 * presence visibility. Writes are queued on the per-pass pipeline; the two
 * blocking reads happen only at node start and at a user's first
 * connection (a visibility re-check after a change is queued). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store/internal.h"
#include "core/id.h"
#include "store/keys.h"
#include "store/pipe.h"

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
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_INTEGER &&
            r->element[2]->type == REDIS_REPLY_STRING &&
            r->element[3]->type == REDIS_REPLY_STRING) {
            /* "gone": a deleted user, answered as offline and unchanged. */
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

/* The node's set of users is written around the user's step (two slots):
 * SADD before a present state and SREM after offline, so a crash between
 * them leaves at most an extra entry, which a node reset ignores. */
int mqc_store_presence(struct mqc_store *s, const char *user, const char *state, int64_t last_seen,
                       const char *node, size_t devices, mqc_store_presence_cb cb, void *ctx)
{
    char pk[MQC_KEY_MAX], uk[MQC_KEY_MAX], nk[MQC_KEY_MAX], seen[24], dev[24];
    if (mqc_key_user_part(s->prefix, user, "presence", pk, sizeof pk) != MQC_OK ||
        mqc_key_user(s->prefix, user, uk, sizeof uk) != MQC_OK ||
        snprintf(nk, sizeof nk, "%s{n:%s}:users", s->prefix, node) >= (int)sizeof nk)
        return MQC_EBADREQ;
    snprintf(seen, sizeof seen, "%lld", (long long)last_seen);
    snprintf(dev, sizeof dev, "%zu", devices);
    bool offline = !strcmp(state, "offline");
    const char *set[] = {offline ? "SREM" : "SADD", nk, user};
    int rc = MQC_OK;
    if (!offline)
        rc = mqc_store__enqueue(s, 3, set, NULL, logged_done, NULL, (void *)"node users");
    const char *argv[] = {"FCALL", "mqc2_presence", "2", pk, uk, state, seen, node, dev};
    if (rc == MQC_OK)
        rc = mqc_store__enqueue(s, 9, argv, NULL, presence_done, (void *)cb, ctx);
    if (rc == MQC_OK && offline)
        mqc_store__enqueue(s, 3, set, NULL, logged_done, NULL, (void *)"node users");
    return rc;
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
    int64_t seen =
        r->element[1]->type == REDIS_REPLY_STRING ? strtoll(r->element[1]->str, NULL, 10) : 0;
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

/* Whether r is an array whose first element is "ok". */
static bool reply_ok(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
           r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "ok");
}

/* ---- node reset: the node's users (its slot), then one mqc2_presence_reset
 * per user (each in the user's slot), pipelined; then the node's set is
 * dropped. A crash between the steps leaves the set: the next reset of the
 * node runs the (idempotent) user steps again. */

static void reset_cmd(struct mqc_store *s, struct mqc_store__args *a, const char *user,
                      const char *node, const char *now)
{
    mqc_store__args_fcall(a, "mqc2_presence_reset", 2);
    mqc_store__args_user_key(a, s, user, "presence");
    mqc_store__args_user_key(a, s, user, "user");
    mqc_store__args_str(a, node);
    mqc_store__args_str(a, now);
}

int mqc_store_node_reset(struct mqc_store *s, const char *node, int64_t now_ms,
                         void (*fn)(const char *user, int64_t last_seen, void *ctx), void *ctx)
{
    char nk[MQC_KEY_MAX], now[24];
    if (snprintf(nk, sizeof nk, "%s{n:%s}:users", s->prefix, node) >= (int)sizeof nk)
        return MQC_EBADREQ;
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    const char *argv[] = {"SMEMBERS", nk};
    redisReply *users = mqc_store__cmd(s, 2, argv);
    if (!users)
        return MQC_EUNAVAIL;
    int rc = users->type == REDIS_REPLY_ARRAY ? MQC_OK : MQC_EUNAVAIL;
    size_t n = rc == MQC_OK ? users->elements : 0;
    struct mqc_store__args *cmds = calloc(n ? n : 1, sizeof *cmds);
    redisReply **out = calloc(n ? n : 1, sizeof *out);
    if (!cmds || !out)
        rc = MQC_ENOMEM;
    for (size_t i = 0; rc == MQC_OK && i < n; i++) {
        const redisReply *u = users->element[i];
        if (u->type == REDIS_REPLY_STRING && mqc_id_valid_str(u->str))
            reset_cmd(s, &cmds[i], u->str, node, now);
        else
            mqc_store__args_str(&cmds[i], "PING"); /* never written by mqchat: skipped */
    }
    if (rc == MQC_OK)
        rc = mqc_store__pipeline(s, cmds, n, out);
    else
        for (size_t i = 0; cmds && i < n; i++)
            mqc_store__args_free(&cmds[i]);
    for (size_t i = 0; rc == MQC_OK && i < n; i++) {
        const redisReply *r = out[i];
        if (!reply_ok(r) || r->elements != 3 || r->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        if (r->element[1]->integer == 1)
            fn(users->element[i]->str,
               strtoll(r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : "0", NULL,
                       10),
               ctx);
    }
    if (rc == MQC_OK) {
        const char *del[] = {"DEL", nk};
        redisReply *r = mqc_store__cmd(s, 2, del);
        if (r)
            freeReplyObject(r);
        else
            rc = MQC_EUNAVAIL;
    }
    for (size_t i = 0; out && i < n; i++)
        if (out[i])
            freeReplyObject(out[i]);
    free(out);
    free(cmds);
    freeReplyObject(users);
    return rc == MQC_OK ? MQC_OK : MQC_EUNAVAIL;
}

/* ---- contacts: who may see whose presence. Step 1 (the user's slot,
 * mqc2_user_lists): the user's conversations and blocked set; step 2 (each
 * conversation's slot, mqc1_members): the members of those the user is a
 * member of; step 3 (each other member's slot): whether they block the
 * user. Blocking (mqc_store_contacts) or queued (mqc_store_visibility),
 * the same steps and the same state below. */

struct contacts {
    char user[MQC_ID_MAX + 1];
    char **convs, **blocked, **shared;
    size_t nconvs, nblocked, nshared, cap;
    bool *sees;
};

static void contacts_free(struct contacts *c)
{
    for (size_t i = 0; i < c->nconvs; i++)
        free(c->convs[i]);
    for (size_t i = 0; i < c->nblocked; i++)
        free(c->blocked[i]);
    for (size_t i = 0; i < c->nshared; i++)
        free(c->shared[i]);
    free(c->convs);
    free(c->blocked);
    free(c->shared);
    free(c->sees);
    free(c);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Copy the strings r->element[from..to) that are ids into *list. */
static int copy_ids(const redisReply *r, size_t from, size_t to, char ***list, size_t *n)
{
    *list = calloc(to > from ? to - from : 1, sizeof **list);
    if (!*list)
        return MQC_ENOMEM;
    for (size_t i = from; i < to; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || !mqc_id_valid_str(e->str))
            continue;
        if (!((*list)[*n] = strdup(e->str)))
            return MQC_ENOMEM;
        (*n)++;
    }
    return MQC_OK;
}

/* Step 1's reply: ok, n, convs (n), blocked. */
static int contacts_lists_read(struct contacts *c, const redisReply *r)
{
    if (!reply_ok(r) || r->elements < 2 || r->element[1]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->integer < 0 || (size_t)r->element[1]->integer > r->elements - 2)
        return MQC_EINTERNAL;
    size_t n = (size_t)r->element[1]->integer;
    int rc = copy_ids(r, 2, 2 + n, &c->convs, &c->nconvs);
    if (rc == MQC_OK)
        rc = copy_ids(r, 2 + n, r->elements, &c->blocked, &c->nblocked);
    if (rc == MQC_OK)
        qsort(c->blocked, c->nblocked, sizeof *c->blocked, cmp_str);
    return rc;
}

static void members_cmd(struct mqc_store *s, struct mqc_store__args *a, const char *conv,
                        const char *user)
{
    mqc_store__args_fcall(a, "mqc1_members", 2);
    mqc_store__args_conv_key(a, s, conv, "meta");
    mqc_store__args_conv_key(a, s, conv, "members");
    mqc_store__args_str(a, user);
    mqc_store__args_str(a, ""); /* no cached version: the members come back */
}

/* Step 2's reply for one conversation: ok, 0, mver, n, (user, role) pairs;
 * not_member (the index is a moment late: not the user's) adds nobody. */
static int contacts_members_read(struct contacts *c, const redisReply *r)
{
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "not_member"))
        return MQC_OK;
    if (!reply_ok(r) || r->elements < 4)
        return MQC_EINTERNAL;
    for (size_t i = 4; i + 1 < r->elements; i += 2) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || !strcmp(e->str, c->user) || !mqc_id_valid_str(e->str))
            continue;
        if (c->nshared == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 32;
            char **v = realloc(c->shared, cap * sizeof *v);
            if (!v)
                return MQC_ENOMEM;
            c->shared = v;
            c->cap = cap;
        }
        if (!(c->shared[c->nshared] = strdup(e->str)))
            return MQC_ENOMEM;
        c->nshared++;
    }
    return MQC_OK;
}

/* After step 2: each other member once, sorted; room for step 3's answers. */
static int contacts_shared_done(struct contacts *c)
{
    if (c->nshared > 1)
        qsort(c->shared, c->nshared, sizeof *c->shared, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < c->nshared; i++) {
        if (k > 0 && !strcmp(c->shared[k - 1], c->shared[i]))
            free(c->shared[i]);
        else
            c->shared[k++] = c->shared[i];
    }
    c->nshared = k;
    c->sees = calloc(k ? k : 1, sizeof *c->sees);
    return c->sees ? MQC_OK : MQC_ENOMEM;
}

static void blocks_cmd(struct mqc_store *s, struct mqc_store__args *a, const char *other,
                       const char *user)
{
    mqc_store__args_str(a, "SISMEMBER");
    mqc_store__args_user_key(a, s, other, "blocked");
    mqc_store__args_str(a, user);
}

/* Step 3's reply for other member i: 0 = i does not block the user. */
static int contacts_blocks_read(struct contacts *c, size_t i, const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_INTEGER)
        return MQC_EINTERNAL;
    c->sees[i] = r->integer == 0;
    return MQC_OK;
}

/* The result: sees (those who do not block the user), then seen_by (those
 * the user does not block), strings borrowed from c; *all one malloc'd array. */
static int contacts_result(const struct contacts *c, const char ***all, size_t *nsees,
                           size_t *nseen)
{
    *all = calloc(2 * c->nshared + 1, sizeof **all);
    if (!*all)
        return MQC_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < c->nshared; i++)
        if (c->sees[i])
            (*all)[k++] = c->shared[i];
    *nsees = k;
    for (size_t i = 0; i < c->nshared; i++)
        if (!bsearch(&c->shared[i], c->blocked, c->nblocked, sizeof *c->blocked, cmp_str))
            (*all)[k++] = c->shared[i];
    *nseen = k - *nsees;
    return MQC_OK;
}

static void lists_cmd(struct mqc_store *s, struct mqc_store__args *a, const char *user)
{
    mqc_store__args_fcall(a, "mqc2_user_lists", 2);
    mqc_store__args_user_key(a, s, user, "convs");
    mqc_store__args_user_key(a, s, user, "blocked");
}

static struct contacts *contacts_new(const char *user)
{
    if (!mqc_id_valid_str(user))
        return NULL;
    struct contacts *c = calloc(1, sizeof *c);
    if (c)
        memcpy(c->user, user, strlen(user) + 1);
    return c;
}

/* Run steps 2 and 3 with blocking pipelines. */
static int contacts_blocking(struct mqc_store *s, struct contacts *c)
{
    size_t n = c->nconvs > c->nshared ? c->nconvs : c->nshared;
    struct mqc_store__args *cmds = calloc(n ? n : 1, sizeof *cmds);
    redisReply **out = calloc(n ? n : 1, sizeof *out);
    int rc = cmds && out ? MQC_OK : MQC_ENOMEM;
    for (size_t i = 0; rc == MQC_OK && i < c->nconvs; i++)
        members_cmd(s, &cmds[i], c->convs[i], c->user);
    if (rc == MQC_OK)
        rc = mqc_store__pipeline(s, cmds, c->nconvs, out);
    for (size_t i = 0; i < c->nconvs && out && out[i]; i++) {
        if (rc == MQC_OK)
            rc = contacts_members_read(c, out[i]);
        freeReplyObject(out[i]);
        out[i] = NULL;
    }
    if (rc == MQC_OK)
        rc = contacts_shared_done(c);
    struct mqc_store__args *cmds3 = NULL;
    redisReply **out3 = NULL;
    if (rc == MQC_OK) {
        cmds3 = calloc(c->nshared ? c->nshared : 1, sizeof *cmds3);
        out3 = calloc(c->nshared ? c->nshared : 1, sizeof *out3);
        if (!cmds3 || !out3)
            rc = MQC_ENOMEM;
    }
    for (size_t i = 0; rc == MQC_OK && i < c->nshared; i++)
        blocks_cmd(s, &cmds3[i], c->shared[i], c->user);
    if (rc == MQC_OK)
        rc = mqc_store__pipeline(s, cmds3, c->nshared, out3);
    for (size_t i = 0; out3 && i < c->nshared && out3[i]; i++) {
        if (rc == MQC_OK)
            rc = contacts_blocks_read(c, i, out3[i]);
        freeReplyObject(out3[i]);
    }
    free(cmds);
    free(out);
    free(cmds3);
    free(out3);
    return rc;
}

int mqc_store_contacts(struct mqc_store *s, const char *user,
                       void (*fn)(const char *other, void *ctx), void *ctx)
{
    struct contacts *c = contacts_new(user);
    if (!c)
        return mqc_id_valid_str(user) ? MQC_ENOMEM : MQC_EBADREQ;
    struct mqc_store__args a = {0};
    lists_cmd(s, &a, user);
    redisReply *r = NULL;
    int rc = mqc_store__pipeline(s, &a, 1, &r);
    if (rc == MQC_OK)
        rc = contacts_lists_read(c, r);
    if (r)
        freeReplyObject(r);
    if (rc == MQC_OK)
        rc = contacts_blocking(s, c);
    const char **all = NULL;
    size_t nsees = 0, nseen = 0;
    if (rc == MQC_OK)
        rc = contacts_result(c, &all, &nsees, &nseen);
    for (size_t i = 0; rc == MQC_OK && i < nsees; i++)
        fn(all[i], ctx);
    free(all);
    contacts_free(c);
    if (rc == MQC_EBADREQ || rc == MQC_ENOMEM)
        return rc;
    return rc == MQC_OK ? MQC_OK : MQC_EUNAVAIL;
}

/* The queued contacts read in flight. */
struct vis_run {
    struct mqc_store *s;
    struct contacts *c;
    mqc_store_visibility_cb cb;
    void *ctx;
    size_t left;
    int rc;
};

static void vis_finish(struct vis_run *x)
{
    const char **all = NULL;
    size_t nsees = 0, nseen = 0;
    int rc = x->rc;
    if (rc == MQC_OK)
        rc = contacts_result(x->c, &all, &nsees, &nseen);
    if (rc == MQC_OK)
        x->cb(x->ctx, rc, all, nsees, all + nsees, nseen);
    else
        x->cb(x->ctx, rc, NULL, 0, NULL, 0);
    free(all);
    contacts_free(x->c);
    free(x);
}

/* One step-2 or step-3 reply is in (or failed); the last one moves on. */
static void vis_step_done(struct vis_run *x, int rc);

static void vis_blocks_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct vis_run *x = j->ctx;
    if (rc == MQC_OK && x->rc == MQC_OK)
        rc = contacts_blocks_read(x->c, (size_t)(uintptr_t)j->cb, r);
    vis_step_done(x, rc);
}

static void vis_step_done(struct vis_run *x, int rc)
{
    if (rc != MQC_OK && x->rc == MQC_OK)
        x->rc = rc;
    if (--x->left == 0)
        vis_finish(x);
}

/* Queue step 3 (after the last step-2 reply). */
static void vis_blocks(struct vis_run *x)
{
    int rc = contacts_shared_done(x->c);
    if (rc != MQC_OK || x->c->nshared == 0) {
        x->rc = rc;
        vis_finish(x);
        return;
    }
    x->left = x->c->nshared;
    for (size_t i = 0; i < x->c->nshared; i++) {
        struct mqc_store__args a = {0};
        blocks_cmd(x->s, &a, x->c->shared[i], x->c->user);
        int qrc = mqc_store__submit(x->s, &a, vis_blocks_done, (void *)(uintptr_t)i, x);
        if (qrc != MQC_OK) {
            if (x->rc == MQC_OK)
                x->rc = qrc;
            if (--x->left == 0) {
                vis_finish(x);
                return;
            }
        }
    }
}

static void vis_members_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct vis_run *x = j->ctx;
    if (rc == MQC_OK && x->rc == MQC_OK)
        rc = contacts_members_read(x->c, r);
    if (rc != MQC_OK && x->rc == MQC_OK)
        x->rc = rc;
    if (--x->left > 0)
        return;
    if (x->rc == MQC_OK)
        vis_blocks(x);
    else
        vis_finish(x);
}

static void vis_lists_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct vis_run *x = j->ctx;
    if (rc == MQC_OK)
        rc = contacts_lists_read(x->c, r);
    if (rc != MQC_OK) {
        x->rc = rc;
        vis_finish(x);
        return;
    }
    if (x->c->nconvs == 0) {
        vis_finish(x);
        return;
    }
    x->left = x->c->nconvs;
    for (size_t i = 0; i < x->c->nconvs; i++) {
        struct mqc_store__args a = {0};
        members_cmd(x->s, &a, x->c->convs[i], x->c->user);
        int qrc = mqc_store__submit(x->s, &a, vis_members_done, NULL, x);
        if (qrc != MQC_OK) {
            if (x->rc == MQC_OK)
                x->rc = qrc;
            if (--x->left == 0) {
                vis_finish(x);
                return;
            }
        }
    }
}

int mqc_store_visibility(struct mqc_store *s, const char *user, mqc_store_visibility_cb cb,
                         void *ctx)
{
    struct vis_run *x = calloc(1, sizeof *x);
    if (!x)
        return MQC_ENOMEM;
    if (!(x->c = contacts_new(user))) {
        free(x);
        return mqc_id_valid_str(user) ? MQC_ENOMEM : MQC_EBADREQ;
    }
    x->s = s;
    x->cb = cb;
    x->ctx = ctx;
    struct mqc_store__args a = {0};
    lists_cmd(s, &a, user);
    int rc = mqc_store__submit(s, &a, vis_lists_done, NULL, x);
    if (rc != MQC_OK) {
        contacts_free(x->c);
        free(x);
    }
    return rc;
}
