/* Offline sync and push settings: paging through a user's timeline
 * (mqc1_sync), push device registration, mutes, and the live device count
 * that push decisions read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "store/internal.h"
#include "store/keys.h"

static int ok_status(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return MQC_EINTERNAL;
    const char *w = r->element[0]->str;
    if (!strcmp(w, "ok"))
        return MQC_OK;
    if (!strcmp(w, "not_member"))
        return MQC_ENOTMEMBER;
    return MQC_EINTERNAL;
}

static void sync_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    mqc_store_sync_cb cb = (mqc_store_sync_cb)j->cb;
    struct mqc_sync_result res = {0};
    const char **events = NULL;
    size_t *lens = NULL;
    if (rc == MQC_OK)
        rc = ok_status(r);
    if (rc == MQC_OK && r->elements < 4)
        rc = MQC_EINTERNAL;
    if (rc == MQC_OK) {
        res.reset = r->element[1]->integer == 1;
        res.more = r->element[2]->integer == 1;
        res.next = r->element[3]->type == REDIS_REPLY_STRING ? r->element[3]->str : "0-0";
        rc = mqc_store__event_list(r, 4, &events, &lens, &res.n);
        res.events = events;
        res.lens = lens;
    }
    cb(j->ctx, rc, &res);
    free(events);
    free(lens);
}

int mqc_store_sync(struct mqc_store *s, const char *user, const char *since, int64_t limit,
                   size_t max_bytes, mqc_store_sync_cb cb, void *ctx)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc1_sync", 2);
    mqc_store__args_user_key(&a, s, user, "tl");
    mqc_store__args_user_key(&a, s, user, "tlfloor");
    mqc_store__args_str(&a, since ? since : "");
    mqc_store__args_fmt(&a, "%lld", (long long)limit);
    mqc_store__args_fmt(&a, "%zu", max_bytes);
    mqc_store__args_dctx(&a, s);
    return mqc_store__submit(s, &a, sync_done, (void *)cb, ctx);
}

static void simple_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    mqc_store_done_cb cb = (mqc_store_done_cb)j->cb;
    if (rc == MQC_OK)
        rc = ok_status(r);
    if (cb)
        cb(j->ctx, rc);
}

int mqc_store_device(struct mqc_store *s, const char *user, const char *token, const char *platform,
                     const char *app, bool sandbox, mqc_store_done_cb cb, void *ctx)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc1_device", 1);
    mqc_store__args_user_key(&a, s, user, "devices");
    mqc_store__args_str(&a, token);
    mqc_store__args_str(&a, platform);
    mqc_store__args_str(&a, app);
    mqc_store__args_str(&a, sandbox ? "1" : "0");
    mqc_store__args_str(&a, user);
    mqc_store__args_str(&a, s->prefix);
    return mqc_store__submit(s, &a, simple_done, (void *)cb, ctx);
}

int mqc_store_undevice(struct mqc_store *s, const char *user, const char *token,
                       mqc_store_done_cb cb, void *ctx)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc1_undevice", 1);
    mqc_store__args_user_key(&a, s, user, "devices");
    mqc_store__args_str(&a, token);
    mqc_store__args_str(&a, user);
    mqc_store__args_str(&a, s->prefix);
    return mqc_store__submit(s, &a, simple_done, (void *)cb, ctx);
}

int mqc_store_mute(struct mqc_store *s, const char *user, const char *conv, int64_t until_ms,
                   int64_t now_ms, mqc_store_done_cb cb, void *ctx)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc1_mute", 2);
    mqc_store__args_conv_key(&a, s, conv, "members");
    mqc_store__args_user_key(&a, s, user, "mute");
    mqc_store__args_str(&a, user);
    mqc_store__args_str(&a, conv);
    mqc_store__args_fmt(&a, "%lld", (long long)until_ms);
    mqc_store__args_fmt(&a, "%lld", (long long)now_ms);
    return mqc_store__submit(s, &a, simple_done, (void *)cb, ctx);
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
    mqc_store__args_fcall(&a, "mqc1_devices", 1);
    mqc_store__args_user_key(&a, s, user, "presence");
    mqc_store__args_str(&a, node);
    mqc_store__args_fmt(&a, "%zu", devices);
    return mqc_store__submit(s, &a, ignore_done, NULL, NULL);
}
