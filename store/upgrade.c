/* The store's layout version ("<prefix>version") and the in-place upgrade
 * from the v1 layout (per-user timelines) to lazy fan-out (issue #15): each
 * conversation gets its message count and last event time
 * (mqc2_upgrade_conv), each user unread counters built from the v1 cursors
 * and no timeline (the cursors read in each conversation's slot, then
 * mqc3_upgrade_user in the user's: every call single-slot), the push
 * queue's keys renamed to their hash-tagged names (store/push_rename.h),
 * then the version key. Blocking calls:
 * for `mqchat store upgrade` and for the connect-time check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store/internal.h"
#include "core/id.h"
#include "store/keys.h"
#include "store/pipe.h"
#include "store/push_rename.h"

bool mqc_store_needs_upgrade(const struct mqc_store *s)
{
    return s && s->needs_upgrade;
}

int mqc_store_check_version(struct mqc_store *s)
{
    char vkey[MQC_KEY_MAX], ukey[MQC_KEY_MAX], v[8];
    snprintf(vkey, sizeof vkey, "%sversion", s->prefix);
    snprintf(v, sizeof v, "%d", MQC_STORE_VERSION);
    if (mqc_key_users(s->prefix, ukey, sizeof ukey) != MQC_OK)
        return MQC_EINTERNAL;
    const char *get[] = {"GET", vkey};
    redisReply *r = mqc_store__cmd(s, 2, get);
    if (!r)
        return MQC_EUNAVAIL;
    int rc = MQC_OK;
    if (r->type == REDIS_REPLY_STRING) {
        if (strcmp(r->str, v) != 0) {
            mqc_log(MQC_LOG_ERR, "store: the store has layout version %.20s, this mqchat reads %s",
                    r->str, v);
            rc = MQC_EFORBIDDEN;
        }
    } else {
        /* No version: data means v1 wrote it; an empty store is ours. */
        const char *ex[] = {"EXISTS", ukey};
        redisReply *e = mqc_store__cmd(s, 2, ex);
        if (!e) {
            freeReplyObject(r);
            return MQC_EUNAVAIL;
        }
        if (e->type == REDIS_REPLY_INTEGER && e->integer > 0) {
            mqc_log(MQC_LOG_ERR,
                    "store: the store holds data of an older mqchat (no %s key): "
                    "run `mqchat store upgrade` first",
                    vkey);
            rc = MQC_EFORBIDDEN;
        } else {
            const char *set[] = {"SET", vkey, v, "NX"};
            redisReply *x = mqc_store__cmd(s, 4, set);
            if (!x)
                rc = MQC_EUNAVAIL;
            freeReplyObject(x);
        }
        freeReplyObject(e);
    }
    freeReplyObject(r);
    s->needs_upgrade = rc == MQC_EFORBIDDEN;
    return rc;
}

/* FCALL fn with the keys and args given; *changed += the reply's second
 * element. MQC_OK or MQC_EUNAVAIL. */
static int upgrade_call(struct mqc_store *s, struct mqc_store__args *a, long long *changed)
{
    if (a->failed) {
        mqc_store__args_free(a);
        return MQC_EBADREQ;
    }
    redisReply *r = mqc_store__argv(s, a->n, (const char **)a->v, a->lens);
    mqc_store__args_free(a);
    if (!r)
        return MQC_EUNAVAIL;
    int rc = MQC_EUNAVAIL;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_INTEGER) {
        *changed += r->element[1]->integer;
        rc = MQC_OK;
    }
    freeReplyObject(r);
    return rc;
}

struct scan_ids_ctx {
    struct mqc_store *s;
    size_t plen, slen; /* bytes before and after the id in a key */
    int (*fn)(struct mqc_store *, const char *, long long *);
    long long *changed;
};

static int scan_id(const char *key, size_t len, void *arg)
{
    struct scan_ids_ctx *c = arg;
    if (len <= c->plen + c->slen || len - c->plen - c->slen > MQC_ID_MAX)
        return MQC_OK;
    char id[MQC_ID_MAX + 1];
    size_t idl = len - c->plen - c->slen;
    memcpy(id, key + c->plen, idl);
    id[idl] = '\0';
    int rc = c->fn(c->s, id, c->changed);
    return rc == MQC_EBADREQ ? MQC_OK : rc; /* not an id of ours: leave it */
}

/* Call fn(s, id, changed) for every id in "<prefix>{<kind>:<id>}:<part>"
 * keys (mqc_store__scan). */
static int scan_ids(struct mqc_store *s, char kind, const char *part,
                    int (*fn)(struct mqc_store *, const char *, long long *), long long *changed)
{
    char suffix[64];
    snprintf(suffix, sizeof suffix, "{%c:*}:%s", kind, part);
    struct scan_ids_ctx c = {s, strlen(s->prefix) + 3, strlen(part) + 2, fn, changed};
    return mqc_store__scan(s, suffix, scan_id, &c);
}

static int upgrade_conv(struct mqc_store *s, const char *conv, long long *changed)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc2_upgrade_conv", 3);
    mqc_store__args_conv_key(&a, s, conv, "meta");
    mqc_store__args_conv_key(&a, s, conv, "log");
    mqc_store__args_conv_key(&a, s, conv, "rcpt");
    return upgrade_call(s, &a, changed);
}

/* One user: the last seq and the user's read cursor of each of their
 * conversations (two reads in each conversation's slot, pipelined), then
 * mqc3_upgrade_user in the user's slot. */
static int upgrade_user(struct mqc_store *s, const char *user, long long *changed)
{
    char ckey[MQC_KEY_MAX], rf[MQC_ID_MAX + 4];
    if (!mqc_id_valid_str(user) ||
        mqc_key_user_part(s->prefix, user, "convs", ckey, sizeof ckey) != MQC_OK)
        return MQC_EBADREQ;
    snprintf(rf, sizeof rf, "r:%s", user);
    const char *argv[] = {"SMEMBERS", ckey};
    redisReply *ids = mqc_store__cmd(s, 2, argv);
    if (!ids)
        return MQC_EUNAVAIL;
    int rc = ids->type == REDIS_REPLY_ARRAY ? MQC_OK : MQC_EUNAVAIL;
    size_t n = rc == MQC_OK ? ids->elements : 0;
    struct mqc_store__args *cmds = calloc(2 * n + 1, sizeof *cmds);
    redisReply **out = calloc(2 * n + 1, sizeof *out);
    if (!cmds || !out)
        rc = MQC_ENOMEM;
    for (size_t i = 0; rc == MQC_OK && i < n; i++) {
        const char *c = ids->element[i]->type == REDIS_REPLY_STRING ? ids->element[i]->str : "";
        mqc_store__args_str(&cmds[2 * i], "HGET");
        mqc_store__args_conv_key(&cmds[2 * i], s, c, "meta");
        mqc_store__args_str(&cmds[2 * i], "seq");
        mqc_store__args_str(&cmds[2 * i + 1], "HGET");
        mqc_store__args_conv_key(&cmds[2 * i + 1], s, c, "rcpt");
        mqc_store__args_str(&cmds[2 * i + 1], rf);
    }
    if (rc == MQC_OK)
        rc = mqc_store__pipeline(s, cmds, 2 * n, out);
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc3_upgrade_user", 3);
    mqc_store__args_user_key(&a, s, user, "unread");
    mqc_store__args_user_key(&a, s, user, "tl");
    mqc_store__args_user_key(&a, s, user, "tlfloor");
    for (size_t i = 0; rc == MQC_OK && i < n; i++) {
        const redisReply *last = out[2 * i], *read = out[2 * i + 1];
        mqc_store__args_str(&a, ids->element[i]->str);
        mqc_store__args_str(&a, last->type == REDIS_REPLY_STRING ? last->str : "0");
        mqc_store__args_str(&a, read->type == REDIS_REPLY_STRING ? read->str : "0");
    }
    for (size_t i = 0; out && i < 2 * n; i++)
        if (out[i])
            freeReplyObject(out[i]);
    free(out);
    free(cmds);
    freeReplyObject(ids);
    if (rc != MQC_OK) {
        mqc_store__args_free(&a);
        return rc;
    }
    return upgrade_call(s, &a, changed);
}

/* mqc_store__push_rename's call on the store's blocking path (an error
 * reply comes back as NULL there too). */
static redisReply *push_call(void *ctx, int argc, const char **argv, const size_t *lens)
{
    return mqc_store__argv(ctx, argc, argv, lens);
}

int mqc_store_upgrade(struct mqc_store *s, long long *convs, long long *users)
{
    *convs = *users = 0;
    int rc = scan_ids(s, 'c', "meta", upgrade_conv, convs);
    /* Users: every user with a conversation set or a v1 timeline. */
    if (rc == MQC_OK)
        rc = scan_ids(s, 'u', "user", upgrade_user, users);
    /* The push queue's keys under one hash tag (mqchat-push does it too). */
    long long moved = 0;
    if (rc == MQC_OK && (rc = mqc_store__push_rename(s->prefix, push_call, s, &moved)) == MQC_OK &&
        moved)
        mqc_log(MQC_LOG_NOTICE, "store: push queue renamed to %s{push} (%lld keys/entries)",
                s->prefix, moved);
    if (rc != MQC_OK)
        return rc;
    char vkey[MQC_KEY_MAX], v[8];
    snprintf(vkey, sizeof vkey, "%sversion", s->prefix);
    snprintf(v, sizeof v, "%d", MQC_STORE_VERSION);
    const char *set[] = {"SET", vkey, v};
    redisReply *r = mqc_store__cmd(s, 3, set);
    if (!r)
        return MQC_EUNAVAIL;
    freeReplyObject(r);
    s->needs_upgrade = false;
    return MQC_OK;
}
