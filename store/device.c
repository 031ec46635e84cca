/* Push devices (PROTOCOL.md "device" / "undevice") in single-slot steps.
 * A push token has one owner: the index <prefix>devtoken:<token> (its own
 * slot) names the user whose {u:<user>}:devices hash holds it. Registering
 * a token that another user held (one phone, another account) takes it out
 * of the old owner's hash FIRST, then claims the index and writes the new
 * owner's entry: a broker killed half-way leaves the token nowhere (the
 * app registers it again on its next connect), never in two users' hashes,
 * so the old owner's pushes never reach the new owner's phone. Removing a
 * token: the user's entry, and the index when it still names the user
 * (mqc2_token_release), pipelined. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "store/internal.h"
#include "store/keys.h"

/* A registration or removal in flight. */
struct device_run {
    struct mqc_store *s;
    mqc_store_done_cb cb;
    void *ctx;
    int rc;
    size_t pending;
    char user[MQC_ID_MAX + 1];
    char *token, *value; /* value: "platform\napp\nsandbox" */
};

static void run_free(struct device_run *d)
{
    free(d->token);
    free(d->value);
    free(d);
}

/* One step of d is over with rc: the first failure is kept; the caller
 * hears once, when nothing of the run is pending. */
static void finish_one(struct device_run *d, int rc)
{
    if (rc != MQC_OK && d->rc == MQC_OK)
        d->rc = rc;
    if (--d->pending == 0) {
        if (d->cb)
            d->cb(d->ctx, d->rc);
        run_free(d);
    }
}

static void step_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    if (rc == MQC_OK && (!r || r->type == REDIS_REPLY_ERROR))
        rc = MQC_EINTERNAL;
    finish_one(j->ctx, rc);
}

/* Queue argv as one step of d. */
static int step(struct device_run *d, int argc, const char **argv)
{
    int rc = mqc_store__enqueue(d->s, argc, argv, NULL, step_done, NULL, d);
    if (rc == MQC_OK)
        d->pending++;
    return rc;
}

/* Steps 2 and 3 of a registration: out of the old owner's hash (when
 * another user held it), then the index and the new owner's entry. */
static int queue_claim(struct device_run *d, const char *old_owner)
{
    char ik[MQC_KEY_MAX], ok[MQC_KEY_MAX], dk[MQC_KEY_MAX];
    if (mqc_key_devtoken(d->s->prefix, d->token, ik, sizeof ik) != MQC_OK ||
        mqc_key_user_part(d->s->prefix, d->user, "devices", dk, sizeof dk) != MQC_OK)
        return MQC_EBADREQ;
    int rc = MQC_OK;
    if (old_owner && strcmp(old_owner, d->user) &&
        mqc_key_user_part(d->s->prefix, old_owner, "devices", ok, sizeof ok) == MQC_OK) {
        const char *hdel[] = {"HDEL", ok, d->token};
        rc = step(d, 3, hdel);
    }
    const char *set[] = {"SET", ik, d->user};
    const char *hset[] = {"HSET", dk, d->token, d->value};
    if (rc == MQC_OK)
        rc = step(d, 3, set);
    if (rc == MQC_OK)
        rc = step(d, 4, hset);
    return rc;
}

static void owner_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    /* The GET's own count keeps d alive while the next steps are queued. */
    struct device_run *d = j->ctx;
    if (rc == MQC_OK && r && r->type == REDIS_REPLY_STRING)
        rc = queue_claim(d, r->str);
    else if (rc == MQC_OK && r && r->type == REDIS_REPLY_NIL)
        rc = queue_claim(d, NULL);
    else if (rc == MQC_OK)
        rc = MQC_EINTERNAL;
    finish_one(d, rc);
}

static struct device_run *run_new(struct mqc_store *s, const char *user, const char *token,
                                  mqc_store_done_cb cb, void *ctx)
{
    if (!mqc_id_valid_str(user) || !token || !*token)
        return NULL;
    struct device_run *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->s = s;
    d->cb = cb;
    d->ctx = ctx;
    snprintf(d->user, sizeof d->user, "%s", user);
    d->token = strdup(token);
    if (!d->token) {
        free(d);
        return NULL;
    }
    return d;
}

int mqc_store_device(struct mqc_store *s, const char *user, const char *token, const char *platform,
                     const char *app, bool sandbox, mqc_store_done_cb cb, void *ctx)
{
    char ik[MQC_KEY_MAX];
    if (!token || mqc_key_devtoken(s->prefix, token, ik, sizeof ik) != MQC_OK)
        return MQC_EBADREQ;
    struct device_run *d = run_new(s, user, token, cb, ctx);
    if (!d)
        return mqc_id_valid_str(user) ? MQC_ENOMEM : MQC_EBADREQ;
    size_t n = strlen(platform) + strlen(app) + 4;
    d->value = malloc(n);
    if (!d->value) {
        run_free(d);
        return MQC_ENOMEM;
    }
    snprintf(d->value, n, "%s\n%s\n%s", platform, app, sandbox ? "1" : "0");
    const char *get[] = {"GET", ik};
    int rc = mqc_store__enqueue(s, 2, get, NULL, owner_done, NULL, d);
    if (rc != MQC_OK) {
        run_free(d);
        return rc;
    }
    d->pending = 1;
    return MQC_OK;
}

int mqc_store_undevice(struct mqc_store *s, const char *user, const char *token,
                       mqc_store_done_cb cb, void *ctx)
{
    char ik[MQC_KEY_MAX], dk[MQC_KEY_MAX];
    if (!token || mqc_key_devtoken(s->prefix, token, ik, sizeof ik) != MQC_OK ||
        mqc_key_user_part(s->prefix, user, "devices", dk, sizeof dk) != MQC_OK)
        return MQC_EBADREQ;
    struct device_run *d = run_new(s, user, token, cb, ctx);
    if (!d)
        return MQC_ENOMEM;
    const char *hdel[] = {"HDEL", dk, token};
    const char *rel[] = {"FCALL", "mqc2_token_release", "1", ik, user};
    int rc = step(d, 3, hdel);
    if (rc == MQC_OK)
        rc = step(d, 5, rel);
    if (rc != MQC_OK && d->pending == 0) {
        run_free(d);
        return rc;
    }
    if (rc != MQC_OK)
        d->rc = rc; /* the queued step answers the caller */
    return MQC_OK;
}
