/* Requests on chat/u/{me}/req: create, add, remove, leave, convs, history,
 * sync, push devices, mute, blocks (upload and download go on in
 * plugin/attach.c, device sessions in session_ops.c).
 * Parsed with core/request.c, queued for Redis, answered in the store
 * callback with a `res` (or `err`) to the asking device only; membership
 * changes also deliver their `member` event to everyone concerned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/convid.h"
#include "core/envelope.h"
#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "core/request.h"
#include "core/synctoken.h"
#include "plugin/metrics.h"
#include "plugin/plugin.h"

/* Send {"t":"res",...} with fields (taken) to the asking device. */
static void respond(const struct mqc_origin *o, cJSON *fields)
{
    char *json = mqc_event_res(o->ref, o->op, fields, mqc_clock_wall_ms());
    if (!json) {
        mqc_log(MQC_LOG_ERR, "req: out of memory building a reply (op=%s)", o->op);
        return;
    }
    mqc_plugin__reply(o->p, &o->to, json, strlen(json));
    free(json);
}

static void respond_conv(const struct mqc_origin *o)
{
    cJSON *f = cJSON_CreateObject();
    if (f && !cJSON_AddStringToObject(f, "conv", o->conv)) {
        cJSON_Delete(f);
        f = NULL;
    }
    respond(o, f);
}

/* A JSON array of events that are JSON already (copied), or NULL. */
static cJSON *raw_array(const char *const *events, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *raw = cJSON_CreateRaw(events[i]);
        if (!raw || !cJSON_AddItemToArray(arr, raw)) {
            cJSON_Delete(raw);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static void fail(const struct mqc_origin *o, int rc, const char *missing);

/* Reply with fields (taken); NULL fields means building them failed. Frees o. */
static void finish(struct mqc_origin *o, cJSON *fields)
{
    if (fields)
        respond(o, fields);
    else
        fail(o, MQC_ENOMEM, NULL);
    mqc_plugin__origin_free(o);
}

static void fail(const struct mqc_origin *o, int rc, const char *missing)
{
    char msg[128];
    const char *text = NULL;
    if (rc == MQC_ENOTFOUND && missing && *missing) {
        snprintf(msg, sizeof msg, "no such user: %s", missing);
        text = msg;
    } else if (rc == MQC_ENOTFOUND) {
        text = "no such user";
    } else if (rc == MQC_EFORBIDDEN && missing && !strcmp(missing, "blocked")) {
        text = "blocked by that user";
    } else if (rc == MQC_EFORBIDDEN && missing && !strcmp(missing, "full")) {
        text = "the group would have more than max_group_members members";
    } else if (rc == MQC_EFORBIDDEN) {
        text = "only group admins may do that, and not in direct conversations";
    } else if (rc != MQC_ENOTMEMBER && rc != MQC_EUNAVAIL) {
        rc = MQC_EINTERNAL;
    }
    mqc_plugin__send_err(o->p, &o->to, "req", o->ref, rc, text);
}

static void change_done(void *ctx, int rc, const struct mqc_change_result *r)
{
    struct mqc_origin *o = ctx;
    if (rc != MQC_OK) {
        fail(o, rc, r->missing);
    } else {
        /* Who now shares a conversation sees each other, unless blocked;
         * who left or was removed stops seeing the rest at once. */
        mqc_contacts_add_group(o->p->contacts, r->members, r->nmembers);
        mqc_plugin__visibility_hide(o->p, r->hidden, r->nhidden);
        if (r->ngone > 0)
            mqc_plugin__visibility_split(o->p, r->gone, r->ngone, r->members, r->nmembers, true);
        if (r->event) {
            mqc_plugin__metric_stored();
            mqc_plugin__members_update(o->p, o->conv, r->mver, r->members, r->nmembers);
            /* Members and those who just left get the event as one, in
             * the conversation's order. */
            const char **all = malloc((r->nmembers + r->ngone + 1) * sizeof *all);
            if (all) {
                memcpy(all, r->members, r->nmembers * sizeof *all);
                memcpy(all + r->nmembers, r->gone, r->ngone * sizeof *all);
                mqc_plugin__fanout(o->p, o->conv, r->seq, all, r->nmembers + r->ngone, r->event,
                                   r->event_len, 1);
                free(all);
            } else {
                mqc_log(MQC_LOG_ERR, "request: out of memory fanning out (conv=%s)", o->conv);
            }
            mqc_plugin__cluster_members_changed(o->p, o->conv);
        }
        respond_conv(o);
    }
    mqc_plugin__origin_free(o);
}

static cJSON *string_array(const char *const *v, size_t n, const char *const *filter_roles,
                           const char *role)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) {
        if (filter_roles && strcmp(filter_roles[i], role) != 0)
            continue;
        cJSON *s = cJSON_CreateString(v[i]);
        if (!s || !cJSON_AddItemToArray(a, s)) {
            cJSON_Delete(s);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* Sort helper for member lists (Redis hashes have no order). */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static cJSON *conv_item(const struct mqc_conv_info *c)
{
    cJSON *o = cJSON_CreateObject();
    const char **sorted = calloc(c->n ? c->n : 1, sizeof *sorted);
    const char **admins = calloc(c->n ? c->n : 1, sizeof *admins);
    size_t nadmins = 0;
    int ok = o && sorted && admins;
    for (size_t i = 0; ok && i < c->n; i++) {
        sorted[i] = c->users[i];
        if (strcmp(c->roles[i], "admin") == 0)
            admins[nadmins++] = c->users[i];
    }
    if (ok) {
        qsort(sorted, c->n, sizeof *sorted, cmp_str);
        qsort(admins, nadmins, sizeof *admins, cmp_str);
    }
    int64_t unread = c->unread;
    ok = ok && cJSON_AddStringToObject(o, "conv", c->conv) &&
         cJSON_AddStringToObject(o, "kind", c->kind) &&
         (strcmp(c->kind, "group") != 0 || cJSON_AddStringToObject(o, "title", c->title)) &&
         cJSON_AddItemToObject(o, "members", string_array(sorted, c->n, NULL, NULL)) &&
         cJSON_AddItemToObject(o, "admins", string_array(admins, nadmins, NULL, NULL)) &&
         cJSON_AddNumberToObject(o, "last_seq", (double)c->last_seq) &&
         cJSON_AddNumberToObject(o, "read_seq", (double)c->read_seq) &&
         cJSON_AddNumberToObject(o, "unread", (double)unread);
    free(sorted);
    free(admins);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static void convs_done(void *ctx, int rc, const struct mqc_conv_info *items, size_t n)
{
    struct mqc_origin *o = ctx;
    if (rc != MQC_OK) {
        fail(o, rc, NULL);
        mqc_plugin__origin_free(o);
        return;
    }
    cJSON *f = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    int ok = f && arr;
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *it = conv_item(&items[i]);
        ok = it && cJSON_AddItemToArray(arr, it);
    }
    if (ok && cJSON_AddItemToObject(f, "items", arr)) {
        finish(o, f);
        return;
    }
    cJSON_Delete(arr);
    cJSON_Delete(f);
    finish(o, NULL);
}

static void history_done(void *ctx, int rc, bool more, const char *const *events,
                         const size_t *lens, size_t n)
{
    (void)lens;
    struct mqc_origin *o = ctx;
    if (rc != MQC_OK) {
        fail(o, rc, NULL);
        mqc_plugin__origin_free(o);
        return;
    }
    cJSON *f = cJSON_CreateObject(), *arr = raw_array(events, n);
    if (!f || !arr || !cJSON_AddItemToObject(f, "items", arr)) {
        cJSON_Delete(arr);
        cJSON_Delete(f);
        finish(o, NULL);
        return;
    }
    /* f owns arr now */
    if (!cJSON_AddStringToObject(f, "conv", o->conv) || !cJSON_AddBoolToObject(f, "more", more)) {
        cJSON_Delete(f);
        f = NULL;
    }
    finish(o, f);
}

/* Largest sync or history page in bytes of events (at least one event is
 * always sent): bounds what one request costs Redis, the pipeline and the
 * asking client's queue, whatever the size of the stored messages. */
#define PAGE_MAX_BYTES (512 * 1024)

static void sync_done(void *ctx, int rc, const struct mqc_sync_result *r)
{
    struct mqc_origin *o = ctx;
    char token[MQC_SYNCTOKEN_MAX];
    if (rc == MQC_OK && mqc_synctoken_encode(o->user, &r->next, token, sizeof token) != MQC_OK)
        rc = MQC_EINTERNAL;
    if (rc != MQC_OK) {
        fail(o, rc, NULL);
        mqc_plugin__origin_free(o);
        return;
    }
    cJSON *f = cJSON_CreateObject(), *arr = raw_array(r->events, r->n);
    if (!f || !arr || !cJSON_AddItemToObject(f, "events", arr)) {
        cJSON_Delete(arr);
        cJSON_Delete(f);
        finish(o, NULL);
        return;
    }
    /* f owns arr now */
    if (!cJSON_AddStringToObject(f, "next", token) || !cJSON_AddBoolToObject(f, "more", r->more) ||
        !cJSON_AddBoolToObject(f, "reset", r->reset)) {
        cJSON_Delete(f);
        f = NULL;
    }
    finish(o, f);
}

/* device, undevice, mute: a plain {"t":"res",...} when done. */
static void done_plain(void *ctx, int rc)
{
    struct mqc_origin *o = ctx;
    if (rc != MQC_OK)
        fail(o, rc, NULL);
    else if (o->conv[0])
        respond_conv(o);
    else
        respond(o, NULL);
    mqc_plugin__origin_free(o);
}

/* ---- block / unblock / blocked (PROTOCOL.md "Blocking") ---- */

/* A block request in flight: the asker's origin and whom it concerns. */
struct block_ctx {
    struct mqc_origin *o;
    bool block;
    char other[MQC_ID_MAX + 1];
};

static void block_done(void *ctx, int rc)
{
    struct block_ctx *b = ctx;
    struct mqc_origin *o = b->o;
    if (rc != MQC_OK) {
        fail(o, rc, b->other);
    } else {
        /* The blocker's presence leaves the other's view at once, here and
         * on every node; the re-check restores what a block leaves visible
         * (the blocker still sees the other), or what an unblock shows. */
        const char *me[] = {o->user}, *other[] = {b->other};
        mqc_plugin__visibility_split(o->p, me, 1, other, b->block ? 1 : 0, true);
        respond(o, NULL);
    }
    mqc_plugin__origin_free(o);
    free(b);
}

static int block_request(struct mqc_plugin *p, const struct mqc_req *r, struct mqc_origin *o)
{
    char direct[MQC_CONVID_LEN + 1];
    int rc = mqc_convid_direct(o->user, r->user, direct, sizeof direct);
    struct block_ctx *b = rc == MQC_OK ? calloc(1, sizeof *b) : NULL;
    if (!b)
        return rc == MQC_OK ? MQC_ENOMEM : rc;
    b->o = o;
    b->block = r->op == MQC_OP_BLOCK;
    snprintf(b->other, sizeof b->other, "%s", r->user);
    rc = mqc_store_block(p->store, o->user, r->user, direct, b->block, block_done, b);
    if (rc != MQC_OK)
        free(b);
    return rc;
}

static void blocked_done(void *ctx, int rc, const char *const *users, size_t n)
{
    struct mqc_origin *o = ctx;
    if (rc != MQC_OK) {
        fail(o, rc, NULL);
        mqc_plugin__origin_free(o);
        return;
    }
    cJSON *f = cJSON_CreateObject(), *arr = string_array(users, n, NULL, NULL);
    if (!f || !arr || !cJSON_AddItemToObject(f, "items", arr)) {
        cJSON_Delete(arr);
        cJSON_Delete(f);
        f = NULL;
    }
    finish(o, f);
}

/* Queue the store call for a parsed request. o is taken on MQC_OK. */
static int dispatch(struct mqc_plugin *p, const struct mqc_req *r, struct mqc_origin *o)
{
    int64_t now = mqc_clock_wall_ms();
    switch (r->op) {
    case MQC_OP_CREATE:
        if (!r->group) {
            int rc = mqc_convid_direct(o->user, r->with, o->conv, sizeof o->conv);
            return rc != MQC_OK ? rc
                                : mqc_store_create_direct(p->store, o->conv, o->user, r->with, now,
                                                          change_done, o);
        }
        if (mqc_convid_group(o->conv, sizeof o->conv) != MQC_OK)
            return MQC_EINTERNAL;
        return mqc_store_create_group(p->store, o->conv, r->title, r->members, r->nmembers,
                                      (size_t)p->cfg.max_group_members, now, change_done, o);
    case MQC_OP_ADD:
    case MQC_OP_REMOVE:
        return mqc_store_change(p->store, o->conv, o->user, r->op_name, r->members, r->nmembers,
                                (size_t)p->cfg.max_group_members, now, change_done, o);
    case MQC_OP_LEAVE: {
        const char *self[] = {o->user};
        return mqc_store_change(p->store, o->conv, o->user, "leave", self, 1,
                                (size_t)p->cfg.max_group_members, now, change_done, o);
    }
    case MQC_OP_CONVS:
        return mqc_store_convs(p->store, o->user, convs_done, o);
    case MQC_OP_HISTORY:
        return mqc_store_history(p->store, o->conv, o->user, r->before, r->limit, PAGE_MAX_BYTES,
                                 history_done, o);
    case MQC_OP_SYNC: {
        /* A version 1 token decodes with legacy set: the store answers
         * reset (its timeline is gone), never a silent gap. */
        struct mqc_syncpos since;
        if (r->since && mqc_synctoken_decode(o->user, r->since, &since) != MQC_OK)
            return MQC_EBADREQ;
        return mqc_store_sync(p->store, o->user, r->since ? &since : NULL, r->limit, PAGE_MAX_BYTES,
                              sync_done, o);
    }
    case MQC_OP_DEVICE:
        return mqc_store_device(p->store, o->user, r->token, r->platform, r->app, r->sandbox,
                                done_plain, o);
    case MQC_OP_UNDEVICE:
        return mqc_store_undevice(p->store, o->user, r->token, done_plain, o);
    case MQC_OP_MUTE:
        return mqc_store_mute(p->store, o->user, o->conv, r->until, now, done_plain, o);
    case MQC_OP_BLOCK:
    case MQC_OP_UNBLOCK:
        return block_request(p, r, o);
    case MQC_OP_BLOCKED:
        return mqc_store_blocked(p->store, o->user, blocked_done, o);
    case MQC_OP_UPLOAD:
    case MQC_OP_DOWNLOAD:
        return mqc_plugin__attach_request(p, r, o);
    case MQC_OP_SESSION:
    case MQC_OP_SESSIONS:
    case MQC_OP_LOGOUT:
    case MQC_OP_REVOKE:
        return mqc_plugin__session_request(p, r, o);
    }
    return MQC_EINTERNAL;
}

int mqc_plugin__request(struct mqc_plugin *p, const struct mqc_sender *from, cJSON *root)
{
    struct mqc_req r;
    const char *why = NULL;
    int rc = mqc_req_parse(root, from->user, (size_t)p->cfg.max_group_members, &r, &why);
    if (rc != MQC_OK) {
        mqc_plugin__send_err(p, from, r.req ? "req" : NULL, r.req, rc, why);
        mqc_req_cleanup(&r);
        cJSON_Delete(root);
        return MOSQ_ERR_ACL_DENIED;
    }
    if (!mqc_ratelimit_allow(p->rate_reqs, from->user, strlen(from->user), mqc_clock_mono_ms())) {
        mqc_plugin__send_err(p, from, "req", r.req, MQC_ERATE, "too many requests; retry later");
        mqc_req_cleanup(&r);
        cJSON_Delete(root);
        return MOSQ_ERR_ACL_DENIED;
    }
    struct mqc_origin *o = mqc_plugin__origin_new(p, from, r.conv, r.req, r.op_name);
    rc = o ? dispatch(p, &r, o) : MQC_ENOMEM;
    if (rc == MQC_EBADREQ && r.op == MQC_OP_SYNC) {
        mqc_plugin__send_err(p, from, "req", r.req, MQC_EBADREQ,
                             "since is not a sync token of this user");
        mqc_plugin__origin_free(o);
    } else if (rc != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "req: cannot queue: %s (user=%s op=%s)", mqc_err_str(rc), from->user,
                r.op_name);
        mqc_plugin__send_err(p, from, "req", r.req, MQC_EINTERNAL, NULL);
        mqc_plugin__origin_free(o);
    }
    mqc_req_cleanup(&r);
    cJSON_Delete(root);
    return MOSQ_ERR_SUCCESS;
}
