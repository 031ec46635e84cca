/* The cluster, as this node takes part in it (ARCHITECTURE.md, "Cluster"):
 * what it sends. Announcing where its users are, node events, membership
 * invalidations and presence on the shared channel, and each stored event
 * to the other nodes that hold a recipient. The message format is
 * core/busmsg.h; what arrives is handled in cluster_recv.c. Broker thread
 * only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/busmsg.h"
#include "core/clock.h"
#include "core/directory.h"
#include "core/err.h"
#include "core/log.h"
#include "plugin/plugin.h"
#include "store/bus.h"

#define MAX_BUCKETS 16
/* How long an event waits for an earlier one from another node. */
#define REORDER_WAIT_MS 100
/* The replay ring (core/replay.h): how long an event is kept for a
 * directory change that arrives late, and the ring's caps. */
#define REPLAY_WINDOW_MS 2000
#define REPLAY_MAX_EVENTS 8192
#define REPLAY_MAX_BYTES (16u << 20)
/* Redis writes an announcement to this node's bus connection before it
 * runs any write that comes after it, but this node may read its two
 * connections in either order: a send's reply can be read up to this much
 * before the announcement that preceded it. */
#define REPLAY_MARGIN_MS 50

int mqc_plugin__cluster_init(struct mqc_plugin *p, const struct mqc_store_opts *so)
{
    p->directory = mqc_directory_new();
    p->reorder = mqc_reorder_new(REORDER_WAIT_MS);
    p->replay = mqc_replay_new(REPLAY_WINDOW_MS, REPLAY_MAX_EVENTS, REPLAY_MAX_BYTES);
    if (!p->directory || !p->reorder || !p->replay)
        return MQC_ENOMEM;
    p->wake_ok = mqc_plugin__wake_init() == MQC_OK;
    /* so->cluster_nodes set (redis_cluster_nodes): sharded pub/sub on the
     * cluster (store/bus_shard.c); NULL: plain pub/sub on the one Redis. */
    p->bus = mqc_bus_new(so, p->cfg.node_id, p->wake_ok ? mqc_plugin__wake_soon : NULL, NULL);
    if (!p->bus) {
        mqc_log(MQC_LOG_ERR, "cluster: cannot start the bus: %s",
                so->cluster_nodes ? "out of memory or no valid host:port in redis_cluster_nodes"
                                  : "out of memory");
        return so->cluster_nodes ? MQC_EBADREQ : MQC_ENOMEM;
    }
    return MQC_OK;
}

void mqc_plugin__cluster_cleanup(struct mqc_plugin *p)
{
    mqc_bus_free(p->bus); /* joins the bus thread: no wake after this */
    p->bus = NULL;
    mqc_plugin__cluster_recv_cleanup(p);
    mqc_plugin__wake_cleanup();
    mqc_replay_free(p->replay); /* holds the directory's names: first */
    p->replay = NULL;
    mqc_directory_free(p->directory);
    p->directory = NULL;
    mqc_reorder_free(p->reorder);
    p->reorder = NULL;
}

/* Publish a header line (and body) on the shared channel or to node. */
static void bus_send(struct mqc_plugin *p, const char *node, const char *head, const char *body,
                     size_t blen)
{
    size_t n;
    char *msg = mqc_busmsg_build(head, body, blen, &n);
    if (!msg) {
        mqc_log(MQC_LOG_ERR, "cluster: out of memory building a bus message");
        return;
    }
    if (mqc_store_bus_publish(p->store, node, msg, n) != MQC_OK)
        mqc_log(MQC_LOG_ERR, "cluster: cannot queue a bus message");
    free(msg);
}

void mqc_plugin__cluster_user(struct mqc_plugin *p, const char *user, bool on)
{
    char head[160];
    snprintf(head, sizeof head, "%s %s %s", on ? "on" : "off", p->cfg.node_id, user);
    bus_send(p, NULL, head, NULL, 0);
}

void mqc_plugin__cluster_node_event(struct mqc_plugin *p, const char *kind, const char *node)
{
    char head[160];
    snprintf(head, sizeof head, "%s %s", kind, node);
    bus_send(p, NULL, head, NULL, 0);
}

void mqc_plugin__cluster_members_changed(struct mqc_plugin *p, const char *conv)
{
    char head[160];
    snprintf(head, sizeof head, "mv %s %s", p->cfg.node_id, conv);
    bus_send(p, NULL, head, NULL, 0);
}

void mqc_plugin__cluster_presence(struct mqc_plugin *p, const char *user, const char *json,
                                  size_t len)
{
    char head[160];
    snprintf(head, sizeof head, "pr %s %s", p->cfg.node_id, user);
    bus_send(p, NULL, head, json, len);
}

/* Per-node lists of recipients for one event. */
struct bucket {
    const char *node; /* interned by the directory */
    char *users;      /* "u1,u2,..." */
    size_t len, cap;
};

/* Append user to b's list. false: out of memory (that user gets it by sync). */
static bool bucket_add(struct bucket *b, const char *user)
{
    size_t ul = strlen(user);
    if (b->len + ul + 2 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + ul + 2)
            cap *= 2;
        char *v = realloc(b->users, cap);
        if (!v)
            return false;
        b->users = v;
        b->cap = cap;
    }
    if (b->len)
        b->users[b->len++] = ',';
    memcpy(b->users + b->len, user, ul);
    b->len += ul;
    b->users[b->len] = '\0';
    return true;
}

void mqc_plugin__cluster_peer_seen(struct mqc_plugin *p)
{
    p->peer_seen_ms = mqc_clock_mono_ms();
}

/* Whether another node was alive lately: a lone node keeps no replay ring.
 * Live nodes refresh it at least every third of the node timeout (reap.c). */
static bool peers_alive(const struct mqc_plugin *p, int64_t now)
{
    return p->peer_seen_ms > 0 && now - p->peer_seen_ms <= p->cfg.node_timeout_ms;
}

void mqc_plugin__cluster_fanout(struct mqc_plugin *p, const char *conv, int64_t seq,
                                const char *const *users, size_t n, const char *skip,
                                const char *payload, size_t len, int qos)
{
    /* Keep it for a directory change that arrives after this routing (the
     * replay, core/replay.h); not typing (skip, QoS 0: ephemeral). */
    struct mqc_replay_ev *ev = NULL;
    int64_t now = mqc_clock_mono_ms();
    if (!skip && p->replay && peers_alive(p, now))
        ev = mqc_replay_add(p->replay, now, conv, seq, qos, users, n, payload, len);
    if (!p->directory || mqc_directory_count(p->directory) == 0)
        return;
    struct bucket b[MAX_BUCKETS];
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip && strcmp(users[i], skip) == 0)
            continue;
        size_t nn;
        const char *const *nodes = mqc_directory_nodes(p->directory, users[i], &nn);
        for (size_t k = 0; nodes && k < nn; k++) {
            size_t j = 0;
            while (j < nb && b[j].node != nodes[k])
                j++;
            if (j == nb) {
                if (nb == MAX_BUCKETS)
                    continue;
                b[nb++] = (struct bucket){.node = nodes[k]};
            }
            if (bucket_add(&b[j], users[i]))
                mqc_replay_mark(ev, i, nodes[k]);
        }
    }
    for (size_t j = 0; j < nb; j++) {
        if (b[j].len) {
            char *head = mqc_busmsg_event_head(qos, conv, seq, b[j].users);
            if (head)
                bus_send(p, b[j].node, head, payload, len);
            free(head);
        }
        free(b[j].users);
    }
}

struct replay_ctx {
    struct mqc_plugin *p;
    const char *user, *node;
};

static void replay_one(void *ctx, const struct mqc_replay_out *o)
{
    struct replay_ctx *c = ctx;
    char *head = mqc_busmsg_event_head(o->qos, o->conv, o->seq, c->user);
    if (head)
        bus_send(c->p, c->node, head, o->payload, o->len);
    free(head);
}

void mqc_plugin__cluster_replay(struct mqc_plugin *p, const char *user, const char *node,
                                int64_t since_ms)
{
    if (!p->replay || mqc_replay_count(p->replay) == 0)
        return;
    struct replay_ctx c = {p, user, mqc_directory_name(p->directory, node)};
    if (!c.node)
        return;
    size_t n = mqc_replay_user(p->replay, mqc_clock_mono_ms(), since_ms - REPLAY_MARGIN_MS, user,
                               c.node, replay_one, &c);
    if (n)
        mqc_log(MQC_LOG_INFO, "cluster: replayed %zu recent event(s) to %s (user=%s)", n, node,
                user);
}

/* ---- presence visibility ("vis"; see plugin/visibility.c) ---- */

/* "id,id,...", malloc'd (len in *len), or NULL when out of memory. */
static char *csv_join(const char *const *ids, size_t n, size_t *len)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(ids[i]) + 1;
    char *out = malloc(total), *w = out;
    for (size_t i = 0; out && i < n; i++) {
        size_t l = strlen(ids[i]);
        if (i)
            *w++ = ',';
        memcpy(w, ids[i], l);
        w += l;
    }
    if (out)
        *len = (size_t)(w - out);
    return out;
}

void mqc_plugin__cluster_visibility(struct mqc_plugin *p, const char *const *users, size_t n,
                                    const char *const *others, size_t m)
{
    char head[160];
    snprintf(head, sizeof head, "vis %s", p->cfg.node_id);
    size_t ul = 0, ol = 0;
    char *u = csv_join(users, n, &ul), *o = csv_join(others, m, &ol);
    char *body = u && o ? malloc(ul + 1 + ol + 1) : NULL;
    if (body) {
        memcpy(body, u, ul);
        body[ul] = '\n';
        memcpy(body + ul + 1, o, ol);
        bus_send(p, NULL, head, body, ul + 1 + ol);
    } else {
        mqc_log(MQC_LOG_ERR, "cluster: out of memory announcing a visibility change");
    }
    free(body);
    free(u);
    free(o);
}
