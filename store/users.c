/* User accounts in Redis: the password hash per user and the set of all
 * users. Creation is two single-slot steps (mqc2_user_add / mqc2_user_ensure
 * write the record, then the entry in the set of all users; a crash between
 * them is repaired by the next add or ensure); a password change
 * (mqc1_user_passwd) also ends every device session. Deletion:
 * store/user_del.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "store/internal.h"
#include "store/keys.h"
#include "store/pipe.h"

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

/* Step 2 of a creation: the index entry, then the record's ix mark off
 * (store/mqchat.lua, user_add). Idempotent. */
static int index_user(struct mqc_store *s, const char *user, const char *ukey, const char *skey)
{
    const char *sadd[] = {"SADD", skey, user};
    redisReply *r = mqc_store__cmd(s, 3, sadd);
    if (!r)
        return MQC_EUNAVAIL;
    freeReplyObject(r);
    const char *hdel[] = {"HDEL", ukey, "ix"};
    if (!(r = mqc_store__cmd(s, 3, hdel)))
        return MQC_EUNAVAIL;
    freeReplyObject(r);
    return MQC_OK;
}

int mqc_store_user_add(struct mqc_store *s, const char *user, const char *hash, int64_t now_ms)
{
    char ukey[MQC_KEY_MAX], skey[MQC_KEY_MAX], ts[24];
    int rc = user_keys(s, user, ukey, skey);
    if (rc != MQC_OK)
        return rc;
    snprintf(ts, sizeof ts, "%lld", (long long)now_ms);
    const char *kv[] = {ukey, hash, ts};
    long long n = 0;
    if ((rc = fcall_int(s, "mqc2_user_add", 1, kv, 3, &n)) != MQC_OK)
        return rc;
    if (n != 0 && (rc = index_user(s, user, ukey, skey)) != MQC_OK)
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
    const char *kv[] = {ukey, ts};
    long long n = 0;
    if ((rc = fcall_int(s, "mqc2_user_ensure", 1, kv, 2, &n)) != MQC_OK)
        return rc;
    return n != 0 ? index_user(s, user, ukey, skey) : MQC_OK;
}

int mqc_store_user_passwd(struct mqc_store *s, const char *user, const char *hash)
{
    char ukey[MQC_KEY_MAX], skey[MQC_KEY_MAX], chan[MQC_KEY_MAX];
    int rc = mqc_key_user(s->prefix, user, ukey, sizeof ukey);
    if (rc == MQC_OK)
        rc = mqc_key_user_part(s->prefix, user, "sess", skey, sizeof skey);
    if (rc != MQC_OK)
        return rc;
    const char *bus = mqc_store__bus_script_chan(s, chan, sizeof chan);
    const char *argv[] = {"FCALL", "mqc1_user_passwd", "2", ukey, skey, hash, user, bus};
    redisReply *r = mqc_store__cmd(s, 8, argv);
    if (!r)
        return MQC_EUNAVAIL;
    rc = MQC_EUNAVAIL;
    bool ended = false; /* sessions ended: the function's second element */
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        rc = !strcmp(r->element[0]->str, "ok")          ? MQC_OK
             : !strcmp(r->element[0]->str, "not_found") ? MQC_ENOTFOUND
                                                        : MQC_EUNAVAIL;
        ended = r->elements < 2 || r->element[1]->type != REDIS_REPLY_INTEGER ||
                r->element[1]->integer > 0;
    }
    freeReplyObject(r);
    if (rc == MQC_OK && ended && mqc_store__cluster(s)) {
        /* A cluster: the function could not publish the kick (store/bus.c). */
        char kick[MQC_ID_MAX + 16];
        snprintf(chan, sizeof chan, "%sbus:all", s->prefix);
        snprintf(kick, sizeof kick, "skick * %s *", user);
        const char *pub[] = {mqc_store__bus_verb(s), chan, kick};
        redisReply *p = mqc_store__cmd(s, 3, pub);
        if (!p || p->type == REDIS_REPLY_ERROR)
            rc = MQC_EUNAVAIL;
        if (p)
            freeReplyObject(p);
    }
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
    int rc = r->type == REDIS_REPLY_ARRAY ? MQC_OK : MQC_EUNAVAIL;
    /* The index may keep a user whose record is gone (a deletion stopped
     * half-way, a creation racing one): each record is checked, in its slot. */
    size_t n = rc == MQC_OK ? r->elements : 0;
    struct mqc_store__args *cmds = calloc(n ? n : 1, sizeof *cmds);
    redisReply **out = calloc(n ? n : 1, sizeof *out);
    if (!cmds || !out)
        rc = MQC_ENOMEM;
    for (size_t i = 0; rc == MQC_OK && i < n; i++) {
        const redisReply *u = r->element[i];
        mqc_store__args_str(&cmds[i], "EXISTS");
        if (u->type == REDIS_REPLY_STRING && mqc_id_valid_str(u->str))
            mqc_store__args_user_key(&cmds[i], s, u->str, "user");
        else
            mqc_store__args_str(&cmds[i], skey); /* not a user: skipped below */
    }
    if (rc == MQC_OK)
        rc = mqc_store__pipeline(s, cmds, n, out);
    for (size_t i = 0; rc == MQC_OK && i < n; i++) {
        const redisReply *u = r->element[i];
        if (u->type == REDIS_REPLY_STRING && mqc_id_valid_str(u->str) &&
            out[i]->type == REDIS_REPLY_INTEGER && out[i]->integer == 1)
            fn(u->str, ctx);
    }
    for (size_t i = 0; out && i < n; i++)
        if (out[i])
            freeReplyObject(out[i]);
    free(out);
    free(cmds);
    freeReplyObject(r);
    return rc;
}
