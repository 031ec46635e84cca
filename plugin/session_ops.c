/* Device session requests on chat/u/{me}/req (PROTOCOL.md "Device
 * sessions"): session (a new token, or over a token login a rotated one),
 * sessions (the user's devices), logout (end the asking device's session)
 * and revoke (end another). The connection's session comes from its client
 * id holding (plugin/clientids.c); tokens are made and hashed here
 * (core/session_token.h) and only their hash reaches Redis. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "core/request.h"
#include "core/session_token.h"
#include "plugin/plugin.h"

#define DAY_MS (86400 * 1000LL)

/* Send {"t":"res",...} with fields (taken; NULL = none) to the asker. */
static void respond(const struct mqc_origin *o, cJSON *fields)
{
    char *json = mqc_event_res(o->ref, o->op, fields, mqc_clock_wall_ms());
    if (!json) {
        mqc_log(MQC_LOG_ERR, "session: out of memory building a reply (op=%s)", o->op);
        return;
    }
    mqc_plugin__reply(o->p, &o->to, json, strlen(json));
    free(json);
}

static void fail(const struct mqc_origin *o, int rc, const char *notfound)
{
    const char *text = rc == MQC_ENOTFOUND ? notfound : NULL;
    if (rc == MQC_EFORBIDDEN)
        text = "too many device sessions: revoke some first";
    else if (rc != MQC_ENOTFOUND && rc != MQC_EUNAVAIL)
        rc = MQC_EINTERNAL;
    mqc_plugin__send_err(o->p, &o->to, "req", o->ref, rc, text);
}

/* ---- session ---- */

/* A token on its way to Redis: the reply waits for its hash to be stored. */
struct put_ctx {
    struct mqc_origin *o;
    char token[MQC_SESS_TOKEN_LEN + 1];
    char device[MQC_SESS_DEVICE_LEN + 1];
    int64_t expires;
};

static void put_done(void *ctx, int rc)
{
    struct put_ctx *c = ctx;
    struct mqc_origin *o = c->o;
    if (rc != MQC_OK) {
        fail(o, rc, "this device's session has ended; sign in again");
    } else {
        /* This connection now stands for the device: logout ends it,
         * sessions marks it current, a revoke disconnects it. */
        mqc_plugin__client_session_set(o->p, o->to.client_id, o->user, o->to.conn, c->device);
        cJSON *f = cJSON_CreateObject();
        if (f && (!cJSON_AddStringToObject(f, "token", c->token) ||
                  !cJSON_AddStringToObject(f, "device", c->device) ||
                  !cJSON_AddNumberToObject(f, "expires", (double)c->expires))) {
            cJSON_Delete(f);
            f = NULL;
        }
        if (f)
            respond(o, f);
        else
            fail(o, MQC_ENOMEM, NULL);
    }
    sodium_memzero(c->token, sizeof c->token);
    mqc_plugin__origin_free(o);
    free(c);
}

static int session_new(struct mqc_plugin *p, const struct mqc_req *r, struct mqc_origin *o)
{
    const char *current = mqc_plugin__client_session(p, o->to.client_id, o->user, o->to.conn);
    struct put_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return MQC_ENOMEM;
    struct mqc_sess_token t;
    char hash[MQC_SESS_HASH_LEN + 1];
    int rc = mqc_sess_new(current, &t, c->token, sizeof c->token);
    if (rc != MQC_OK) {
        free(c);
        return MQC_EINTERNAL;
    }
    mqc_sess_hash(p->sess_key, o->user, &t, hash);
    sodium_memzero(&t.secret, sizeof t.secret);
    memcpy(c->device, t.device, sizeof c->device);
    int64_t now = mqc_clock_wall_ms();
    c->expires = now + p->cfg.session_days * DAY_MS;
    c->o = o;
    rc = mqc_store_session_put(p->store, o->user, c->device, hash, now, c->expires, r->label,
                               current != NULL, put_done, c);
    if (rc != MQC_OK) {
        sodium_memzero(c->token, sizeof c->token);
        free(c);
    }
    return rc;
}

/* ---- sessions ---- */

struct item {
    const char *device;
    struct mqc_sess_record rec;
};

static int by_created(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->rec.created != y->rec.created)
        return x->rec.created < y->rec.created ? -1 : 1;
    return strcmp(x->device, y->device);
}

static cJSON *item_json(const struct item *it, const char *current)
{
    cJSON *j = cJSON_CreateObject();
    if (j && cJSON_AddStringToObject(j, "device", it->device) &&
        cJSON_AddStringToObject(j, "label", it->rec.label) &&
        cJSON_AddNumberToObject(j, "created", (double)it->rec.created) &&
        cJSON_AddNumberToObject(j, "last_used", (double)it->rec.last_used) &&
        cJSON_AddNumberToObject(j, "expires", (double)it->rec.expires) &&
        cJSON_AddBoolToObject(j, "current", current && !strcmp(current, it->device)))
        return j;
    cJSON_Delete(j);
    return NULL;
}

static void list_done(void *ctx, int rc, const char *const *v, const size_t *lens, size_t n)
{
    struct mqc_origin *o = ctx;
    struct item *items = n ? calloc(n, sizeof *items) : NULL;
    if (rc == MQC_OK && n && !items)
        rc = MQC_ENOMEM;
    if (rc != MQC_OK) {
        fail(o, rc, NULL);
        free(items);
        mqc_plugin__origin_free(o);
        return;
    }
    int64_t now = mqc_clock_wall_ms();
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        /* Expired records linger until the next write prunes them. */
        if (mqc_sess_device_valid(v[2 * i]) &&
            mqc_sess_record_parse(v[2 * i + 1], lens[2 * i + 1], &items[k].rec) == MQC_OK &&
            items[k].rec.expires > now)
            items[k++].device = v[2 * i];
    }
    if (k > 1)
        qsort(items, k, sizeof *items, by_created);
    const char *current = mqc_plugin__client_session(o->p, o->to.client_id, o->user, o->to.conn);
    cJSON *f = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    bool ok = f && arr;
    for (size_t i = 0; ok && i < k; i++) {
        cJSON *j = item_json(&items[i], current);
        ok = j && cJSON_AddItemToArray(arr, j);
        if (!ok)
            cJSON_Delete(j);
    }
    if (ok && cJSON_AddItemToObject(f, "items", arr)) {
        respond(o, f);
    } else {
        cJSON_Delete(arr);
        cJSON_Delete(f);
        fail(o, MQC_ENOMEM, NULL);
    }
    free(items);
    mqc_plugin__origin_free(o);
}

/* ---- logout, revoke ---- */

static void end_done(void *ctx, int rc, long long n)
{
    struct mqc_origin *o = ctx;
    bool revoke = !strcmp(o->op, "revoke");
    if (rc == MQC_OK && revoke && n == 0)
        rc = MQC_ENOTFOUND;
    if (rc != MQC_OK)
        fail(o, rc, "no such device session");
    else
        respond(o, NULL);
    mqc_plugin__origin_free(o);
}

static int logout(struct mqc_plugin *p, struct mqc_origin *o)
{
    const char *cur = mqc_plugin__client_session(p, o->to.client_id, o->user, o->to.conn);
    if (!cur) {
        respond(o, NULL); /* nothing to end: a password login */
        mqc_plugin__origin_free(o);
        return MQC_OK;
    }
    char device[MQC_SESS_DEVICE_LEN + 1];
    snprintf(device, sizeof device, "%s", cur);
    /* The asker is leaving by itself: untie it, so that the kick that ends
     * the session's other connections does not cut its reply off. */
    mqc_plugin__client_session_set(p, o->to.client_id, o->user, o->to.conn, NULL);
    return mqc_store_session_end(p->store, o->user, device, end_done, o);
}

int mqc_plugin__session_request(struct mqc_plugin *p, const struct mqc_req *r, struct mqc_origin *o)
{
    int rc = mqc_store_ensure(p->store, mqc_clock_mono_ms());
    if (rc == MQC_OK && r->op == MQC_OP_SESSION)
        rc = mqc_plugin__session_key_load(p);
    if (rc == MQC_OK && r->op == MQC_OP_SESSION)
        return session_new(p, r, o);
    if (rc == MQC_OK && r->op == MQC_OP_SESSIONS)
        return mqc_store_sessions(p->store, o->user, list_done, o);
    if (rc == MQC_OK && r->op == MQC_OP_LOGOUT)
        return logout(p, o);
    if (rc == MQC_OK && r->op == MQC_OP_REVOKE)
        return mqc_store_session_end(p->store, o->user, r->device, end_done, o);
    return rc;
}
