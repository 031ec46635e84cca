/* User accounts in Redis: the password hash per user and the set of all
 * users. Creation and password change are functions of the library
 * (mqc1_user_add, mqc1_user_ensure, mqc1_user_passwd in store/mqchat.lua) so
 * that they are atomic (no half-created user); a password change also ends
 * every device session; deletion is mqc2_user_del, which also takes the user
 * out of every conversation. */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "store/internal.h"
#include "store/keys.h"

/* Build the user and users keys; MQC_EBADREQ for a bad id. */
static int user_keys(struct mqc_store *s, const char *user, char *ukey, char *skey)
{
    int rc = mqc_key_user(s->prefix, user, ukey, MQC_KEY_MAX);
    if (rc == MQC_OK)
        rc = mqc_key_users(s->prefix, skey, MQC_KEY_MAX);
    return rc;
}

/* FCALL function with nkeys keys then the rest of kv (nkv strings in all,
 * borrowed); the function answers an integer, into *out. */
static int fcall_int(struct mqc_store *s, const char *function, int nkeys, const char **kv, int nkv,
                     long long *out)
{
    const char *argv[8];
    char nk[8];
    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[0] = "FCALL";
    argv[1] = function;
    argv[2] = nk;
    for (int i = 0; i < nkv && i < 5; i++)
        argv[3 + i] = kv[i];
    redisReply *r = mqc_store__cmd(s, 3 + (nkv < 5 ? nkv : 5), argv);
    if (!r)
        return MQC_EUNAVAIL;
    int rc = MQC_OK;
    if (r->type == REDIS_REPLY_INTEGER)
        *out = r->integer;
    else
        rc = MQC_EUNAVAIL; /* e.g. LOADING, OOM, READONLY */
    freeReplyObject(r);
    return rc;
}

int mqc_store_user_hash(struct mqc_store *s, const char *user, char *out, size_t size)
{
    char ukey[MQC_KEY_MAX];
    if (mqc_key_user(s->prefix, user, ukey, sizeof ukey) != MQC_OK)
        return MQC_ENOTFOUND;
    const char *argv[] = {"HGET", ukey, "pw"};
    /* On the side connection, as the session read: a login does not first
     * wait for the pipeline batch in flight (login pacing charges that wait
     * to the loop pass). Nothing the pipeline carries writes pw. */
    return mqc_store__string_reply(mqc_store__side_cmd(s, 3, argv), out, size, MQC_EINTERNAL);
}

int mqc_store_user_add(struct mqc_store *s, const char *user, const char *hash, int64_t now_ms)
{
    char ukey[MQC_KEY_MAX], skey[MQC_KEY_MAX], ts[24];
    int rc = user_keys(s, user, ukey, skey);
    if (rc != MQC_OK)
        return rc;
    snprintf(ts, sizeof ts, "%lld", (long long)now_ms);
    const char *kv[] = {ukey, skey, hash, ts, user};
    long long n = 0;
    if ((rc = fcall_int(s, "mqc1_user_add", 2, kv, 5, &n)) != MQC_OK)
        return rc;
    return n == 1 ? MQC_OK : MQC_EEXIST;
}

int mqc_store_user_ensure(struct mqc_store *s, const char *user, int64_t now_ms)
{
    char ukey[MQC_KEY_MAX], skey[MQC_KEY_MAX], ts[24];
    int rc = user_keys(s, user, ukey, skey);
    if (rc != MQC_OK)
        return rc;
    snprintf(ts, sizeof ts, "%lld", (long long)now_ms);
    const char *kv[] = {ukey, skey, ts, user};
    long long n = 0;
    return fcall_int(s, "mqc1_user_ensure", 2, kv, 4, &n);
}

int mqc_store_user_passwd(struct mqc_store *s, const char *user, const char *hash)
{
    char ukey[MQC_KEY_MAX], skey[MQC_KEY_MAX], chan[MQC_KEY_MAX];
    int rc = mqc_key_user(s->prefix, user, ukey, sizeof ukey);
    if (rc == MQC_OK)
        rc = mqc_key_user_part(s->prefix, user, "sess", skey, sizeof skey);
    if (rc != MQC_OK)
        return rc;
    snprintf(chan, sizeof chan, "%sbus:all", s->prefix);
    const char *argv[] = {"FCALL", "mqc1_user_passwd", "2", ukey, skey, hash, user, chan};
    redisReply *r = mqc_store__cmd(s, 8, argv);
    if (!r)
        return MQC_EUNAVAIL;
    rc = MQC_EUNAVAIL;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_STRING)
        rc = !strcmp(r->element[0]->str, "ok")          ? MQC_OK
             : !strcmp(r->element[0]->str, "not_found") ? MQC_ENOTFOUND
                                                        : MQC_EUNAVAIL;
    freeReplyObject(r);
    return rc;
}

/* The user's keys of the schema (store/keys.h) that user_del deletes by
 * name, after the record and the set of all users. */
static const char *const USER_PARTS[] = {"convs",   "presence", "gone", "unread",
                                         "devices", "mute",     "sess"};

/* Append to a every other key "<prefix>{u:<user>}:*" that exists (block
 * lists and whatever else a feature keeps per user), found with SCAN (a few
 * keys per call: Redis is never blocked for long). MQC_OK or MQC_EUNAVAIL. */
struct user_keys_ctx {
    struct mqc_store *s;
    const char *user;
    struct mqc_store__args *a;
};

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

static int scan_user_keys(struct mqc_store *s, const char *user, struct mqc_store__args *a)
{
    char suffix[MQC_KEY_MAX];
    snprintf(suffix, sizeof suffix, "{u:%s}:*", user);
    struct user_keys_ctx c = {s, user, a};
    return mqc_store__scan(s, suffix, user_key, &c);
}

/* Append (conv, job stream key of its slot) for each of user's conversations
 * to a: the "left" events mqc2_user_del stores get their jobs there (Lua
 * cannot compute slots cheaply). MQC_OK or MQC_EUNAVAIL. */
static int add_conv_jobs(struct mqc_store *s, const char *user, struct mqc_store__args *a)
{
    char ckey[MQC_KEY_MAX], jobs[MQC_KEY_MAX];
    if (mqc_key_user_part(s->prefix, user, "convs", ckey, sizeof ckey) != MQC_OK)
        return MQC_EBADREQ;
    const char *argv[] = {"SMEMBERS", ckey};
    redisReply *r = mqc_store__cmd(s, 2, argv);
    if (!r)
        return MQC_EUNAVAIL;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *c = r->element[i];
        if (c->type != REDIS_REPLY_STRING ||
            mqc_key_conv_jobs(s->prefix, c->str, jobs, sizeof jobs) != MQC_OK)
            continue;
        mqc_store__args_push(a, c->str, c->len);
        mqc_store__args_str(a, jobs);
    }
    freeReplyObject(r);
    return MQC_OK;
}

int mqc_store_user_del(struct mqc_store *s, const char *user, int64_t now_ms, long long *groups)
{
    char ukey[MQC_KEY_MAX], skey[MQC_KEY_MAX];
    int rc = user_keys(s, user, ukey, skey);
    if (rc != MQC_OK)
        return rc;
    /* Keys first, ARGV after: the extra keys are only known after SCAN. */
    struct mqc_store__args keys = {0};
    mqc_store__args_str(&keys, ukey);
    mqc_store__args_str(&keys, skey);
    for (size_t i = 0; i < sizeof USER_PARTS / sizeof *USER_PARTS; i++)
        mqc_store__args_user_key(&keys, s, user, USER_PARTS[i]);
    if ((rc = scan_user_keys(s, user, &keys)) != MQC_OK || keys.failed) {
        mqc_store__args_free(&keys);
        return rc != MQC_OK ? rc : MQC_ENOMEM;
    }
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc2_user_del", (size_t)keys.n);
    for (int i = 0; i < keys.n; i++)
        mqc_store__args_push(&a, keys.v[i], keys.lens[i]);
    mqc_store__args_free(&keys);
    mqc_store__args_str(&a, user);
    mqc_store__args_str(&a, s->prefix);
    mqc_store__args_fmt(&a, "%lld", (long long)now_ms);
    char chan[MQC_KEY_MAX];
    snprintf(chan, sizeof chan, "%sbus:all", s->prefix);
    mqc_store__args_str(&a, chan);
    snprintf(chan, sizeof chan, "%sbus:n:", s->prefix);
    mqc_store__args_str(&a, chan);
    if ((rc = add_conv_jobs(s, user, &a)) != MQC_OK) {
        mqc_store__args_free(&a);
        return rc;
    }
    if (a.failed) {
        mqc_store__args_free(&a);
        return MQC_ENOMEM;
    }
    redisReply *r = mqc_store__argv(s, a.n, (const char **)a.v, a.lens);
    mqc_store__args_free(&a);
    if (!r)
        return MQC_EUNAVAIL;
    rc = MQC_EUNAVAIL; /* an error reply (LOADING, OOM, READONLY) or a bad shape */
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        if (strcmp(r->element[0]->str, "not_found") == 0) {
            rc = MQC_ENOTFOUND;
        } else if (strcmp(r->element[0]->str, "ok") == 0 && r->elements == 2 &&
                   r->element[1]->type == REDIS_REPLY_INTEGER) {
            *groups = r->element[1]->integer;
            rc = MQC_OK;
        }
    }
    freeReplyObject(r);
    return rc;
}

int mqc_store_user_list(struct mqc_store *s, void (*fn)(const char *user, void *ctx), void *ctx)
{
    char skey[MQC_KEY_MAX];
    if (mqc_key_users(s->prefix, skey, sizeof skey) != MQC_OK)
        return MQC_EINTERNAL;
    const char *argv[] = {"SORT", skey, "ALPHA"};
    redisReply *r = mqc_store__cmd(s, 3, argv);
    if (!r)
        return MQC_EUNAVAIL;
    int rc = MQC_OK;
    if (r->type != REDIS_REPLY_ARRAY)
        rc = MQC_EUNAVAIL;
    for (size_t i = 0; rc == MQC_OK && i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING)
            fn(r->element[i]->str, ctx);
    }
    freeReplyObject(r);
    return rc;
}
