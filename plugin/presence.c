/* Presence as the broker decides it (PROTOCOL.md "presence"): devices counted
 * per user from BASIC_AUTH (2.0.11 has no connect event) to DISCONNECT, the
 * user's state published on the retained topic chat/presence/{user} and kept
 * in Redis, client updates (online/away) stamped and rewritten, and wills
 * allowed only when they tell the truth (offline, last connection). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/envelope.h"
#include "core/err.h"
#include "core/log.h"
#include "core/topic.h"
#include "plugin/plugin.h"

/* {"user":U,"state":S,"last_seen":L,"ts":T} into buf; returns its length. */
static int presence_json(char *buf, size_t size, const char *user, enum mqc_pstate st,
                         int64_t last_seen, int64_t ts)
{
    int n = snprintf(buf, size, "{\"user\":\"%s\",\"state\":\"%s\",\"last_seen\":%lld,\"ts\":%lld}",
                     user, mqc_presence_name(st), (long long)last_seen, (long long)ts);
    return (n < 0 || (size_t)n >= size) ? -1 : n;
}

/* Publish json as user's retained state on this broker. */
static void publish_local(const char *user, const char *json, int n)
{
    char topic[96];
    if (mqc_topic_presence(user, topic, sizeof topic) != MQC_OK)
        return;
    int rc = mqc_plugin__publish(NULL, topic, json, n, 1, true);
    if (rc != MOSQ_ERR_SUCCESS)
        mqc_log(MQC_LOG_ERR, "presence: publish failed (user=%s rc=%d)", user, rc);
}

/* A presence write in flight: what this node decided, and whether it has
 * published that already (a client's own update passes through at once). */
struct pwrite {
    struct mqc_plugin *p;
    enum mqc_pstate state;
    int64_t last_seen;
    bool published_here;
    char user[MQC_ID_MAX + 1];
};

/* The aggregate over all nodes came back: a user is as present as their most
 * present node. Publish it here and on the other nodes when it changed, or
 * here alone when this node showed something else. */
static void pwrite_done(void *ctx, int rc, bool changed, const char *agg, int64_t seen)
{
    struct pwrite *w = ctx;
    char json[256];
    int64_t now = mqc_clock_wall_ms();
    if (rc != MQC_OK) {
        /* Redis down: this node's own view is the best there is. */
        int n = presence_json(json, sizeof json, w->user, w->state, w->last_seen, now);
        if (!w->published_here && n > 0)
            publish_local(w->user, json, n);
        free(w);
        return;
    }
    int st = mqc_presence_parse(agg);
    int n = st < 0 ? -1 : presence_json(json, sizeof json, w->user, (enum mqc_pstate)st, seen, now);
    if (n > 0) {
        bool shown = w->published_here && (enum mqc_pstate)st == w->state;
        if ((changed || w->published_here) && !shown)
            publish_local(w->user, json, n);
        if (changed)
            mqc_plugin__cluster_presence(w->p, w->user, json, (size_t)n);
    }
    free(w);
}

/* Record this node's state for user in Redis; the reply decides what is
 * published (pwrite_done). */
static void write_state(struct mqc_plugin *p, const char *user, enum mqc_pstate st,
                        int64_t last_seen, bool published_here)
{
    struct pwrite *w = calloc(1, sizeof *w);
    if (!w) {
        mqc_log(MQC_LOG_ERR, "presence: out of memory (user=%s)", user);
        return;
    }
    w->p = p;
    w->state = st;
    w->last_seen = last_seen;
    w->published_here = published_here;
    snprintf(w->user, sizeof w->user, "%s", user);
    if (mqc_store_presence(p->store, user, mqc_presence_name(st), last_seen, p->cfg.node_id,
                           mqc_presence_devices(p->presence, user), pwrite_done, w) != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "presence: cannot queue the Redis write (user=%s)", user);
        pwrite_done(w, MQC_EUNAVAIL, false, NULL, 0);
    }
}

void mqc_plugin__presence_remote(struct mqc_plugin *p, const char *user, const char *json,
                                 size_t len)
{
    (void)p;
    if (len > 0 && len < 512)
        publish_local(user, json, (int)len);
}

struct pread {
    struct mqc_plugin *p;
    char user[MQC_ID_MAX + 1];
};

static void pread_done(void *ctx, int rc, bool changed, const char *state, int64_t seen)
{
    (void)changed;
    struct pread *r = ctx;
    int st = rc == MQC_OK && state ? mqc_presence_parse(state) : -1;
    /* A user with devices here is published by this node itself. */
    if (st >= 0 && mqc_presence_devices(r->p->presence, r->user) == 0) {
        char json[256];
        int n = presence_json(json, sizeof json, r->user, (enum mqc_pstate)st, seen,
                              mqc_clock_wall_ms());
        if (n > 0)
            publish_local(r->user, json, n);
    }
    free(r);
}

void mqc_plugin__presence_learn(struct mqc_plugin *p, const char *user)
{
    struct pread *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->p = p;
    snprintf(r->user, sizeof r->user, "%s", user);
    if (mqc_store_presence_get(p->store, user, pread_done, r) != MQC_OK)
        free(r);
}

void mqc_plugin__presence_offline_everywhere(struct mqc_plugin *p, const char *user,
                                             int64_t last_seen)
{
    char json[256];
    int n = presence_json(json, sizeof json, user, MQC_PRESENCE_OFFLINE, last_seen,
                          mqc_clock_wall_ms());
    if (n <= 0)
        return;
    publish_local(user, json, n);
    mqc_plugin__cluster_presence(p, user, json, (size_t)n);
}

void mqc_plugin__presence_connected(struct mqc_plugin *p, const struct mosquitto *client,
                                    const char *user)
{
    uintptr_t key = (uintptr_t)client;
    if (p->reloading && !mqc_presence_tracked(p->presence, key))
        return; /* SIGHUP re-auth of an offline persistent session: not a connect */
    int rc = mqc_presence_connect(p->presence, key, user, mqc_clock_wall_ms());
    if (rc == MQC_ENOMEM)
        mqc_log(MQC_LOG_ERR, "presence: out of memory tracking a device (user=%s)", user);
    if (rc == MQC_OK) {
        size_t n = mqc_presence_devices(p->presence, user);
        mqc_store_presence_devices(p->store, user, p->cfg.node_id, n);
        if (n == 1)
            mqc_plugin__cluster_user(p, user, true);
    }
    if (rc != MQC_OK || mqc_contacts_tracked(p->contacts, user))
        return;
    /* First device: learn who may see this user's presence, and whose they see. */
    if (mqc_contacts_track(p->contacts, user) != MQC_OK)
        return;
    mqc_plugin__contacts_load(p, user); /* queued: the login does not wait */
}

void mqc_plugin__presence_disconnected(struct mqc_plugin *p, const struct mosquitto *client)
{
    uintptr_t key = (uintptr_t)client;
    const char *u = mqc_presence_user_of(p->presence, key);
    if (!u)
        return; /* stale: takeover, second disconnect of a persistent session */
    char user[MQC_ID_MAX + 1];
    snprintf(user, sizeof user, "%s", u);
    mqc_presence_disconnect(p->presence, key, mqc_clock_wall_ms());
    size_t n = mqc_presence_devices(p->presence, user);
    mqc_store_presence_devices(p->store, user, p->cfg.node_id, n);
    if (n == 0) {
        mqc_plugin__contacts_forget(p, user);
        mqc_contacts_drop(p->contacts, user);
        mqc_plugin__cluster_user(p, user, false);
    }
}

/* Parse {"state":"online"|"away"} (other fields ignored). */
static int parse_update(const void *payload, size_t len, enum mqc_pstate *st)
{
    cJSON *root = NULL;
    int rc = mqc_envelope_parse(payload, len, 1024, &root, NULL);
    if (rc != MQC_OK)
        return rc;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "state");
    int v = cJSON_IsString(s) ? mqc_presence_parse(s->valuestring) : -1;
    cJSON_Delete(root);
    *st = (enum mqc_pstate)v;
    return v < 0 ? MQC_EBADREQ : MQC_OK;
}

int mqc_plugin__presence_message(struct mqc_plugin *p, struct mosquitto_evt_message *ed)
{
    const char *user = mosquitto_client_username(ed->client);
    const struct mqc_sender from = {user, mosquitto_client_id(ed->client),
                                    mqc_plugin__client_conn(p, ed->client)};
    uintptr_t key = (uintptr_t)ed->client;
    enum mqc_pstate st;
    int rc = parse_update(ed->payload, ed->payloadlen, &st);
    if (rc == MQC_OK && st == MQC_PRESENCE_OFFLINE)
        rc = MQC_EBADREQ;
    if (rc != MQC_OK) {
        mqc_plugin__send_err(p, &from, NULL, NULL, rc,
                             "presence must be {\"state\":\"online\"} or {\"state\":\"away\"}");
        return MOSQ_ERR_ACL_DENIED;
    }
    /* Each update is a Redis write and a delivery to every watcher: it
     * shares the requests' flood limit (per user, all devices together). */
    if (!mqc_ratelimit_allow(p->rate_reqs, user, strlen(user), mqc_clock_mono_ms())) {
        mqc_plugin__send_err(p, &from, NULL, NULL, MQC_ERATE,
                             "too many presence updates and requests; retry later");
        return MOSQ_ERR_ACL_DENIED;
    }
    int64_t now = mqc_clock_wall_ms();
    if (mqc_presence_set(p->presence, key, st, now) != MQC_OK)
        return MOSQ_ERR_ACL_DENIED; /* not a tracked connection */
    /* Rewrite the publish into the stamped, retained state of the user (the
     * most present of their devices), and note it as published. */
    enum mqc_pstate eff = mqc_presence_state(p->presence, user);
    char json[256];
    int n = presence_json(json, sizeof json, user, eff, now, now);
    char *copy = n > 0 ? mosquitto_malloc((size_t)n) : NULL;
    if (!copy)
        return MOSQ_ERR_ACL_DENIED;
    memcpy(copy, json, (size_t)n);
    ed->payload = copy; /* the broker frees the old payload (plugin.c in 2.0.11) */
    ed->payloadlen = (uint32_t)n;
    ed->retain = true;
    mqc_presence_mark_published(p->presence, user, eff, now);
    write_state(p, user, eff, now, true);
    return MOSQ_ERR_SUCCESS;
}

void mqc_plugin__presence_will(struct mqc_plugin *p, const char *user, const void *payload,
                               size_t len)
{
    /* The will itself never goes out: its fields are the client's, and a
     * delayed will (MQTT 5) would land after, and replace, the server's
     * newer state. A truthful one (offline, and no other device of the user
     * here) asks for the drop to be shown now rather than after grace: the
     * server's own stamped state goes instead, through Redis, so a user
     * still online on another node stays online, and nothing is published
     * when the server has shown the user offline already. */
    enum mqc_pstate st;
    struct mqc_presence_change c;
    if (parse_update(payload, len, &st) != MQC_OK || st != MQC_PRESENCE_OFFLINE ||
        mqc_presence_devices(p->presence, user) > 0)
        return;
    if (mqc_presence_offline_now(p->presence, user, &c))
        write_state(p, c.user, MQC_PRESENCE_OFFLINE, c.last_seen, false);
}

static void on_change(const struct mqc_presence_change *c, void *ctx)
{
    write_state(ctx, c->user, c->state, c->last_seen, false);
}

static void remember_offline(const char *user, int64_t last_seen, void *ctx)
{
    struct mqc_plugin *p = ctx;
    size_t len = strlen(user);
    struct mqc_node_offline *o = malloc(sizeof *o + len + 1);
    if (!o)
        return;
    memcpy(o->user, user, len + 1);
    o->last_seen = last_seen;
    o->next = p->startup_offline;
    p->startup_offline = o;
}

void mqc_plugin__presence_node_reset(struct mqc_plugin *p)
{
    if (p->node_reset_done || mqc_store_ensure(p->store, mqc_clock_mono_ms()) != MQC_OK)
        return;
    if (mqc_store_node_reset(p->store, p->cfg.node_id, mqc_clock_wall_ms(), remember_offline, p) ==
        MQC_OK) {
        p->node_reset_done = true;
        mqc_log(MQC_LOG_NOTICE, "presence: cleared what node %s had shown present", p->cfg.node_id);
    }
}

void mqc_plugin__presence_tick(struct mqc_plugin *p)
{
    /* Users this node showed present before it restarted, unless they are
     * back already. */
    while (p->startup_offline) {
        struct mqc_node_offline *o = p->startup_offline;
        p->startup_offline = o->next;
        if (mqc_presence_devices(p->presence, o->user) == 0)
            mqc_plugin__presence_offline_everywhere(p, o->user, o->last_seen);
        free(o);
    }
    mqc_presence_due(p->presence, mqc_clock_wall_ms(), on_change, p);
    int64_t mono = mqc_clock_mono_ms();
    if (mono >= p->next_heartbeat_ms) {
        p->next_heartbeat_ms = mono + p->cfg.node_timeout_ms / 3;
        mqc_store_heartbeat(p->store, p->cfg.node_id, mqc_clock_wall_ms(), p->cfg.node_timeout_ms);
    }
}
