/* `mqchat user del` in single-slot steps, blocking (the CLI's path):
 * 1. the user's conversations (their index, the user's slot);
 * 2. one mqc2_user_leave per conversation (its slot), pipelined: the user
 *    leaves it, groups store a "left" event with its job, an empty
 *    conversation is deleted, everyone else's history stays;
 * 3. the live copies of those events (the members' presence, each in their
 *    slot, tells which nodes have devices of them) and "mv" on the bus;
 * 4. the user's push tokens (each index entry in its own slot) and node
 *    sets, then every key of the user, the record last, then the entry in
 *    the set of all users, then "kick" on the bus.
 * Each step is idempotent and the record goes last: a run stopped half-way
 * (a crash, Redis lost) is simply run again; conversations it already left
 * answer "none" (no second event). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "store/internal.h"
#include "store/keys.h"
#include "store/pipe.h"

/* The user's keys of the schema (store/keys.h) deleted by name, besides the
 * record; others are found with SCAN. */
static const char *const USER_PARTS[] = {"convs",   "presence", "gone", "unread",
                                         "devices", "mute",     "sess"};

struct user_keys_ctx {
    struct mqc_store *s;
    const char *user;
    struct mqc_store__args *a;
};

/* Append key to the DEL unless it is the record or one of USER_PARTS
 * (already there). */
static int user_key(const char *key, size_t len, void *arg)
{
    struct user_keys_ctx *c = arg;
    char known[MQC_KEY_MAX];
    bool dup = false;
    for (size_t j = 0; j < sizeof USER_PARTS / sizeof *USER_PARTS && !dup; j++)
        dup = mqc_key_user_part(c->s->prefix, c->user, USER_PARTS[j], known, sizeof known) ==
                  MQC_OK &&
              strcmp(known, key) == 0;
    if (!dup && mqc_key_user(c->s->prefix, c->user, known, sizeof known) == MQC_OK)
        dup = strcmp(known, key) == 0;
    if (!dup)
        mqc_store__args_push(c->a, key, len);
    return MQC_OK;
}

/* Run one blocking command (argv borrowed); the reply or NULL. */
static redisReply *run(struct mqc_store *s, int argc, const char **argv)
{
    return mqc_store__cmd(s, argc, argv);
}

static void leave_cmd(struct mqc_store *s, struct mqc_store__args *a, const char *user,
                      const char *conv, const char *now)
{
    char jobs[MQC_KEY_MAX];
    mqc_store__args_fcall(a, "mqc2_user_leave", 7);
    static const char *const parts[] = {"meta", "members", "rcpt", "log", "ids", "tomb"};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        mqc_store__args_conv_key(a, s, conv, parts[i]);
    if (mqc_key_conv_jobs(s->prefix, conv, jobs, sizeof jobs) != MQC_OK)
        a->failed = 1;
    else
        mqc_store__args_str(a, jobs);
    mqc_store__args_str(a, user);
    mqc_store__args_str(a, conv);
    mqc_store__args_str(a, now);
}

/* A growable list of built commands. */
struct cmds {
    struct mqc_store__args *v;
    size_t n, cap;
    bool failed;
};

static struct mqc_store__args *cmds_add(struct cmds *c)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        struct mqc_store__args *v = realloc(c->v, cap * sizeof *v);
        if (!v) {
            c->failed = true;
            return NULL;
        }
        c->v = v;
        c->cap = cap;
    }
    memset(&c->v[c->n], 0, sizeof c->v[c->n]);
    return &c->v[c->n++];
}

/* Run the list (emptied either way); replies freed unless *out is given
 * (then the caller frees them and the array). */
static int cmds_run(struct mqc_store *s, struct cmds *c, redisReply ***keep)
{
    int rc = MQC_OK;
    redisReply **out = calloc(c->n ? c->n : 1, sizeof *out);
    if (c->failed || !out) {
        for (size_t i = 0; i < c->n; i++)
            mqc_store__args_free(&c->v[i]);
        rc = MQC_ENOMEM;
    } else {
        rc = mqc_store__pipeline(s, c->v, c->n, out);
    }
    if (keep && rc == MQC_OK) {
        *keep = out;
    } else {
        for (size_t i = 0; out && i < c->n; i++)
            if (out[i])
                freeReplyObject(out[i]);
        free(out);
    }
    c->n = 0;
    c->failed = false;
    return rc;
}

static void publish_cmd(const struct mqc_store *s, struct cmds *c, const char *chan,
                        const char *msg, size_t len)
{
    struct mqc_store__args *a = cmds_add(c);
    if (!a)
        return;
    mqc_store__args_bus_publish(a, s, chan, msg, len);
}

/* Nodes with a device of a member (a presence hash's d:<node> fields). */
struct route {
    const char *node; /* borrowed from a presence reply */
    char *users;      /* "u1,u2" */
};

static int route_add(struct route **routes, size_t *n, const char *node, const char *user)
{
    size_t i = 0;
    while (i < *n && strcmp((*routes)[i].node, node))
        i++;
    if (i == *n) {
        struct route *v = realloc(*routes, (*n + 1) * sizeof *v);
        if (!v)
            return MQC_ENOMEM;
        *routes = v;
        v[i].node = node;
        v[i].users = strdup(user);
        (*n)++;
        return v[i].users ? MQC_OK : MQC_ENOMEM;
    }
    size_t have = strlen((*routes)[i].users), ul = strlen(user);
    char *u = realloc((*routes)[i].users, have + ul + 2);
    if (!u)
        return MQC_ENOMEM;
    u[have] = ',';
    memcpy(u + have + 1, user, ul + 1);
    (*routes)[i].users = u;
    return MQC_OK;
}

/* Step 3 for one group left (r: its mqc2_user_leave reply, members from
 * element 4): read the members' presence, queue the "e" message for each
 * node with a device of one of them (core/busmsg.h). */
static int live_copies(struct mqc_store *s, const char *conv, const redisReply *r, struct cmds *pub)
{
    size_t m = r->elements - 4;
    struct cmds reads = {0};
    for (size_t i = 0; i < m; i++) {
        struct mqc_store__args *a = cmds_add(&reads);
        if (!a)
            break;
        mqc_store__args_str(a, "HGETALL");
        mqc_store__args_user_key(a, s, r->element[4 + i]->str, "presence");
    }
    redisReply **pr = NULL;
    int rc = cmds_run(s, &reads, &pr);
    free(reads.v);
    struct route *routes = NULL;
    size_t nroutes = 0;
    for (size_t i = 0; rc == MQC_OK && i < m; i++) {
        const redisReply *h = pr[i];
        for (size_t k = 0; rc == MQC_OK && h->type == REDIS_REPLY_ARRAY && k + 1 < h->elements;
             k += 2) {
            const redisReply *f = h->element[k], *v = h->element[k + 1];
            if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
                !strncmp(f->str, "d:", 2) && strtoll(v->str, NULL, 10) > 0)
                rc = route_add(&routes, &nroutes, f->str + 2, r->element[4 + i]->str);
        }
    }
    const redisReply *seq = r->element[2], *ev = r->element[3];
    for (size_t i = 0; rc == MQC_OK && i < nroutes; i++) {
        char chan[MQC_KEY_MAX];
        size_t len = strlen(conv) + strlen(routes[i].users) + ev->len + 64;
        char *msg = malloc(len);
        if (!msg) {
            rc = MQC_ENOMEM;
            break;
        }
        int n = snprintf(msg, len, "e 1 %s %lld %s\n", conv, seq->integer, routes[i].users);
        memcpy(msg + n, ev->str, ev->len);
        snprintf(chan, sizeof chan, "%sbus:n:%s", s->prefix, routes[i].node);
        publish_cmd(s, pub, chan, msg, (size_t)n + ev->len);
        free(msg);
    }
    for (size_t i = 0; i < nroutes; i++)
        free(routes[i].users);
    free(routes);
    for (size_t i = 0; pr && i < m; i++)
        freeReplyObject(pr[i]);
    free(pr);
    return rc;
}

/* Whether r is a well-formed mqc2_user_leave reply; *what its outcome. */
static bool leave_reply(const redisReply *r, const char **what)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "ok") ||
        r->element[1]->type != REDIS_REPLY_STRING)
        return false;
    *what = r->element[1]->str;
    if (strcmp(*what, "left"))
        return true;
    if (r->elements < 4 || r->element[2]->type != REDIS_REPLY_INTEGER ||
        r->element[3]->type != REDIS_REPLY_STRING)
        return false;
    for (size_t i = 4; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING || !mqc_id_valid_str(r->element[i]->str))
            return false;
    return true;
}

/* Steps 1 to 3. */
static int leave_all(struct mqc_store *s, const char *user, int64_t now_ms, long long *groups,
                     void (*fn)(const char *conv, const char *what, void *ctx), void *ctx)
{
    char ckey[MQC_KEY_MAX], now[24], all[MQC_KEY_MAX];
    if (mqc_key_user_part(s->prefix, user, "convs", ckey, sizeof ckey) != MQC_OK)
        return MQC_EBADREQ;
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(all, sizeof all, "%sbus:all", s->prefix);
    const char *argv[] = {"SMEMBERS", ckey};
    redisReply *ids = run(s, 2, argv);
    if (!ids)
        return MQC_EUNAVAIL;
    int rc = ids->type == REDIS_REPLY_ARRAY ? MQC_OK : MQC_EUNAVAIL;
    struct cmds steps = {0}, pub = {0};
    const char **convs = calloc(ids->elements ? ids->elements : 1, sizeof *convs);
    size_t n = 0;
    if (!convs)
        rc = MQC_ENOMEM;
    for (size_t i = 0; rc == MQC_OK && i < ids->elements; i++) {
        const redisReply *c = ids->element[i];
        if (c->type != REDIS_REPLY_STRING || !mqc_id_valid_str(c->str))
            continue;
        struct mqc_store__args *a = cmds_add(&steps);
        if (a)
            leave_cmd(s, a, user, c->str, now);
        convs[n++] = c->str;
    }
    redisReply **out = NULL;
    if (rc == MQC_OK)
        rc = cmds_run(s, &steps, &out);
    for (size_t i = 0; rc == MQC_OK && i < n; i++) {
        const char *what = "";
        if (!leave_reply(out[i], &what)) {
            rc = MQC_EUNAVAIL;
            break;
        }
        if (!strcmp(what, "left")) {
            (*groups)++;
            rc = live_copies(s, convs[i], out[i], &pub);
        }
        if (fn)
            fn(convs[i], what, ctx);
        /* Every node drops its cached membership of the conversation. */
        char mv[MQC_ID_MAX + 8];
        int len = snprintf(mv, sizeof mv, "mv * %s", convs[i]);
        publish_cmd(s, &pub, all, mv, (size_t)len);
    }
    if (rc == MQC_OK) {
        rc = cmds_run(s, &pub, NULL);
    } else {
        for (size_t i = 0; i < pub.n; i++)
            mqc_store__args_free(&pub.v[i]);
    }
    for (size_t i = 0; out && i < n; i++)
        freeReplyObject(out[i]);
    free(out);
    free(steps.v);
    free(pub.v);
    free(convs);
    freeReplyObject(ids);
    return rc;
}

/* Step 4's first part: the user's push tokens and the node sets naming the
 * user. */
static int drop_indexes(struct mqc_store *s, const char *user)
{
    char dkey[MQC_KEY_MAX], pkey[MQC_KEY_MAX];
    if (mqc_key_user_part(s->prefix, user, "devices", dkey, sizeof dkey) != MQC_OK ||
        mqc_key_user_part(s->prefix, user, "presence", pkey, sizeof pkey) != MQC_OK)
        return MQC_EBADREQ;
    const char *hk1[] = {"HKEYS", dkey}, *hk2[] = {"HKEYS", pkey};
    redisReply *toks = run(s, 2, hk1);
    redisReply *fields = toks ? run(s, 2, hk2) : NULL;
    int rc = toks && fields && toks->type == REDIS_REPLY_ARRAY && fields->type == REDIS_REPLY_ARRAY
                 ? MQC_OK
                 : MQC_EUNAVAIL;
    struct cmds c = {0};
    for (size_t i = 0; rc == MQC_OK && i < toks->elements; i++) {
        const redisReply *t = toks->element[i];
        char tk[MQC_KEY_MAX];
        if (t->type != REDIS_REPLY_STRING ||
            mqc_key_devtoken(s->prefix, t->str, tk, sizeof tk) != MQC_OK)
            continue;
        struct mqc_store__args *a = cmds_add(&c);
        if (!a)
            break;
        mqc_store__args_fcall(a, "mqc2_token_release", 1);
        mqc_store__args_str(a, tk);
        mqc_store__args_str(a, user);
    }
    for (size_t i = 0; rc == MQC_OK && i < fields->elements; i++) {
        const redisReply *f = fields->element[i];
        char nk[MQC_KEY_MAX];
        if (f->type != REDIS_REPLY_STRING ||
            (strncmp(f->str, "d:", 2) && strncmp(f->str, "s:", 2)) ||
            snprintf(nk, sizeof nk, "%s{n:%s}:users", s->prefix, f->str + 2) >= (int)sizeof nk)
            continue;
        struct mqc_store__args *a = cmds_add(&c);
        if (!a)
            break;
        mqc_store__args_str(a, "SREM");
        mqc_store__args_str(a, nk);
        mqc_store__args_str(a, user);
    }
    int prc = cmds_run(s, &c, NULL);
    if (rc == MQC_OK)
        rc = prc;
    free(c.v);
    if (toks)
        freeReplyObject(toks);
    if (fields)
        freeReplyObject(fields);
    return rc;
}

/* Step 4's second part: every key of the user (one slot: one DEL), the
 * record, the entry in the set of all users, the kick. */
static int drop_user(struct mqc_store *s, const char *user, const char *ukey, const char *skey)
{
    struct mqc_store__args del = {0};
    mqc_store__args_str(&del, "DEL");
    for (size_t i = 0; i < sizeof USER_PARTS / sizeof *USER_PARTS; i++)
        mqc_store__args_user_key(&del, s, user, USER_PARTS[i]);
    char suffix[MQC_KEY_MAX];
    snprintf(suffix, sizeof suffix, "{u:%s}:*", user);
    struct user_keys_ctx kc = {s, user, &del};
    int rc = mqc_store__scan(s, suffix, user_key, &kc);
    if (rc != MQC_OK) {
        mqc_store__args_free(&del);
        return rc;
    }
    char chan[MQC_KEY_MAX], kick[MQC_ID_MAX + 8];
    snprintf(chan, sizeof chan, "%sbus:all", s->prefix);
    int klen = snprintf(kick, sizeof kick, "kick * %s", user);
    struct mqc_store__args rest[4] = {{0}};
    rest[0] = del;
    mqc_store__args_str(&rest[1], "DEL");
    mqc_store__args_str(&rest[1], ukey);
    mqc_store__args_str(&rest[2], "SREM");
    mqc_store__args_str(&rest[2], skey);
    mqc_store__args_str(&rest[2], user);
    mqc_store__args_bus_publish(&rest[3], s, chan, kick, (size_t)klen);
    redisReply *out[4];
    rc = mqc_store__pipeline(s, rest, 4, out);
    for (size_t i = 0; rc == MQC_OK && i < 4; i++)
        freeReplyObject(out[i]);
    return rc;
}

int mqc_store_user_del_steps(struct mqc_store *s, const char *user, int64_t now_ms,
                             long long *groups,
                             void (*fn)(const char *conv, const char *what, void *ctx), void *ctx)
{
    char ukey[MQC_KEY_MAX], skey[MQC_KEY_MAX];
    *groups = 0;
    if (mqc_key_user(s->prefix, user, ukey, sizeof ukey) != MQC_OK ||
        mqc_key_users(s->prefix, skey, sizeof skey) != MQC_OK)
        return MQC_EBADREQ;
    const char *ex[] = {"EXISTS", ukey};
    redisReply *r = run(s, 2, ex);
    if (!r)
        return MQC_EUNAVAIL;
    bool exists = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    int rc = r->type == REDIS_REPLY_INTEGER ? MQC_OK : MQC_EUNAVAIL;
    freeReplyObject(r);
    if (rc != MQC_OK)
        return rc;
    if (!exists) {
        /* A run stopped after the record: only the index entry can be left. */
        const char *srem[] = {"SREM", skey, user};
        if ((r = run(s, 3, srem)))
            freeReplyObject(r);
        return MQC_ENOTFOUND;
    }
    if ((rc = leave_all(s, user, now_ms, groups, fn, ctx)) != MQC_OK)
        return rc;
    if ((rc = drop_indexes(s, user)) != MQC_OK)
        return rc;
    return drop_user(s, user, ukey, skey);
}

int mqc_store_user_del(struct mqc_store *s, const char *user, int64_t now_ms, long long *groups)
{
    return mqc_store_user_del_steps(s, user, now_ms, groups, NULL, NULL);
}
