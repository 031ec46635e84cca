/* Device sessions in Redis (PROTOCOL.md "Device sessions"): one hash per
 * user, <p>{u:U}:sess, device id -> record (core/session_token.h). The token
 * check at CONNECT reads one field (blocking, like the password hash read,
 * but on the store's side connection so it never waits for the pipeline);
 * everything else is a queued call of the mqc1_sess_* functions of
 * store/mqchat.lua, which also tell every node to disconnect the devices of
 * the sessions they end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/session_token.h"
#include "store/internal.h"
#include "store/keys.h"

/* Map a function's status word; MQC_EINTERNAL for any other shape. */
static int status(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return MQC_EINTERNAL;
    if (!strcmp(r->element[0]->str, "ok"))
        return MQC_OK;
    if (!strcmp(r->element[0]->str, "not_found"))
        return MQC_ENOTFOUND;
    if (!strcmp(r->element[0]->str, "forbidden"))
        return MQC_EFORBIDDEN;
    return MQC_EINTERNAL;
}

/* The kick of user's sessions (device, or "*" every one) on the bus; the
 * function publishes it itself on one Redis, the store after it on a
 * cluster (store/bus.c, mqc_store__bus_script_chan). */
static void bus_all(struct mqc_store__args *a, const struct mqc_store *s)
{
    char chan[MQC_KEY_MAX];
    mqc_store__args_str(a, mqc_store__bus_script_chan(s, chan, sizeof chan));
}

/* A copy of "skick * <user> <device or *>" for the publish after the
 * function on a cluster (NULL on one Redis or without memory). */
static char *kick_after(const struct mqc_store *s, const char *user, const char *device)
{
    if (!mqc_store__cluster(s))
        return NULL;
    size_t len = strlen(user) + strlen(device && *device ? device : "*") + 16;
    char *k = malloc(len);
    if (k)
        snprintf(k, len, "skick * %s %s", user, device && *device ? device : "*");
    return k;
}

int mqc_store_session_secret(struct mqc_store *s, const char *candidate, char *out, size_t size)
{
    char key[MQC_KEY_MAX];
    int n = snprintf(key, sizeof key, "%ssession:key", s->prefix);
    if (n < 0 || (size_t)n >= sizeof key)
        return MQC_EINTERNAL;
    const char *argv[] = {"FCALL", "mqc1_sess_secret", "1", key, candidate};
    redisReply *r = mqc_store__cmd(s, 5, argv);
    if (!r)
        return MQC_EUNAVAIL;
    int rc = MQC_EUNAVAIL;
    if (r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < size) {
        memcpy(out, r->str, r->len);
        out[r->len] = '\0';
        rc = MQC_OK;
    }
    freeReplyObject(r);
    return rc;
}

int mqc_store_session_get(struct mqc_store *s, const char *user, const char *device, char *out,
                          size_t size)
{
    char key[MQC_KEY_MAX];
    if (mqc_key_user_part(s->prefix, user, "sess", key, sizeof key) != MQC_OK)
        return MQC_ENOTFOUND;
    /* On the side connection: a login storm's reads do not each wait for
     * the pipeline batch in flight. */
    const char *argv[] = {"HGET", key, device};
    return mqc_store__string_reply(mqc_store__side_cmd(s, 3, argv), out, size,
                                   MQC_ENOTFOUND /* no record of ours is that long */);
}

static void fetch_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    mqc_store_session_fetch_cb cb = (mqc_store_session_fetch_cb)j->cb;
    const char *record = NULL;
    if (rc == MQC_OK) {
        if (r->type == REDIS_REPLY_NIL)
            rc = MQC_ENOTFOUND;
        else if (r->type == REDIS_REPLY_STRING && r->len < MQC_SESS_RECORD_MAX)
            record = r->str;
        else if (r->type == REDIS_REPLY_STRING)
            rc = MQC_ENOTFOUND; /* no record of ours is that long */
        else
            rc = MQC_EUNAVAIL;
    }
    cb(j->ctx, rc, record);
}

int mqc_store_session_fetch(struct mqc_store *s, const char *user, const char *device,
                            mqc_store_session_fetch_cb cb, void *ctx)
{
    struct mqc_store__args a = {0};
    mqc_store__args_str(&a, "HGET");
    mqc_store__args_user_key(&a, s, user, "sess");
    mqc_store__args_str(&a, device);
    return mqc_store__submit(s, &a, fetch_done, (void *)cb, ctx);
}

static void done_plain(struct mqc_store__job *j, int rc, redisReply *r)
{
    mqc_store_done_cb cb = (mqc_store_done_cb)j->cb;
    if (rc == MQC_OK)
        rc = status(r);
    if (cb)
        cb(j->ctx, rc);
}

int mqc_store_session_put(struct mqc_store *s, const char *user, const char *device,
                          const char *hash, int64_t now_ms, int64_t expires_ms, const char *label,
                          bool rotate, mqc_store_done_cb cb, void *ctx)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc1_sess_put", 2);
    mqc_store__args_user_key(&a, s, user, "sess");
    mqc_store__args_user_key(&a, s, user, "user");
    mqc_store__args_str(&a, device);
    mqc_store__args_str(&a, hash);
    mqc_store__args_fmt(&a, "%lld", (long long)now_ms);
    mqc_store__args_fmt(&a, "%lld", (long long)expires_ms);
    mqc_store__args_str(&a, label ? label : "");
    mqc_store__args_str(&a, label ? "1" : "0");
    mqc_store__args_str(&a, rotate ? "1" : "0");
    mqc_store__args_fmt(&a, "%d", MQC_SESS_PER_USER_MAX);
    return mqc_store__submit(s, &a, done_plain, (void *)cb, ctx);
}

int mqc_store_session_touch(struct mqc_store *s, const char *user, const char *device,
                            const char *hash, int64_t now_ms)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc1_sess_touch", 1);
    mqc_store__args_user_key(&a, s, user, "sess");
    mqc_store__args_str(&a, device);
    mqc_store__args_str(&a, hash);
    mqc_store__args_fmt(&a, "%lld", (long long)now_ms);
    return mqc_store__submit(s, &a, done_plain, NULL, NULL);
}

static void list_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    mqc_store_sessions_cb cb = (mqc_store_sessions_cb)j->cb;
    const char **v = NULL;
    size_t *lens = NULL, n = 0;
    if (rc == MQC_OK && (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0))
        rc = MQC_EINTERNAL;
    if (rc == MQC_OK && r->elements > 0) {
        v = calloc(r->elements, sizeof *v);
        lens = calloc(r->elements, sizeof *lens);
        if (!v || !lens)
            rc = MQC_ENOMEM;
        for (size_t i = 0; rc == MQC_OK && i < r->elements; i++) {
            if (r->element[i]->type != REDIS_REPLY_STRING) {
                rc = MQC_EINTERNAL;
                break;
            }
            v[i] = r->element[i]->str;
            lens[i] = r->element[i]->len;
        }
        n = r->elements / 2;
    }
    if (rc != MQC_OK)
        n = 0;
    cb(j->ctx, rc, v, lens, n);
    free(v);
    free(lens);
}

int mqc_store_sessions(struct mqc_store *s, const char *user, mqc_store_sessions_cb cb, void *ctx)
{
    struct mqc_store__args a = {0};
    mqc_store__args_str(&a, "HGETALL");
    mqc_store__args_user_key(&a, s, user, "sess");
    return mqc_store__submit(s, &a, list_done, (void *)cb, ctx);
}

struct end_ctx {
    mqc_store_count_cb cb;
    void *ctx;
    char *kick; /* cluster: published here once the function ended sessions */
};

static void end_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct end_ctx *e = j->ctx;
    long long n = 0;
    if (rc == MQC_OK)
        rc = status(r);
    if (rc == MQC_OK) {
        if (r->elements == 2 && r->element[1]->type == REDIS_REPLY_INTEGER)
            n = r->element[1]->integer;
        else
            rc = MQC_EINTERNAL;
    }
    if (rc == MQC_OK && n > 0 && e->kick && mqc_store__bus_publish_all(j->store, e->kick) != MQC_OK)
        mqc_log(MQC_LOG_WARNING, "store: the kick of ended sessions was not queued");
    mqc_store_count_cb cb = e->cb;
    void *ctx = e->ctx;
    free(e->kick);
    free(e);
    if (cb)
        cb(ctx, rc, n);
}

int mqc_store_session_end(struct mqc_store *s, const char *user, const char *device,
                          mqc_store_count_cb cb, void *ctx)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc1_sess_end", 1);
    mqc_store__args_user_key(&a, s, user, "sess");
    mqc_store__args_str(&a, device ? device : "");
    mqc_store__args_str(&a, user);
    bus_all(&a, s);
    struct end_ctx *e = calloc(1, sizeof *e);
    if (!e) {
        mqc_store__args_free(&a);
        return MQC_ENOMEM;
    }
    e->cb = cb;
    e->ctx = ctx;
    e->kick = kick_after(s, user, device);
    if (mqc_store__cluster(s) && !e->kick) {
        free(e);
        mqc_store__args_free(&a);
        return MQC_ENOMEM;
    }
    int rc = mqc_store__submit(s, &a, end_done, NULL, e);
    if (rc != MQC_OK) {
        free(e->kick);
        free(e);
    }
    return rc;
}
