/* Cluster membership over time: learning where other nodes' users are when
 * this node joins, and cleaning up after nodes that died. A node whose
 * heartbeat expired (plugin_opt_node_timeout_ms) is dead: one live node
 * claims it, turns offline every user it showed present who has no device on
 * another node (the Lua aggregate decides), publishes their retained offline
 * state with last_seen on every node, and tells every node to forget it. A
 * dead node that comes back clears its own records at start (node_reset) and
 * says hello. Blocking Redis reads, once per third of the timeout. */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "plugin/plugin.h"

struct load_ctx {
    struct mqc_plugin *p;
    const char *node;
    size_t users;
};

static void add_user(const char *user, void *arg)
{
    struct load_ctx *c = arg;
    if (mqc_directory_add(c->p->directory, user, c->node) == MQC_OK) {
        c->users++;
        mqc_plugin__cluster_replay(c->p, user, c->node, mqc_clock_mono_ms());
    }
    /* Subscribers here should see their state at once, as on that node. */
    mqc_plugin__presence_learn(c->p, user);
}

static void load_node(const char *node, bool alive, void *arg)
{
    struct load_ctx *c = arg;
    if (!alive)
        return;
    mqc_plugin__cluster_peer_seen(c->p);
    c->node = node;
    mqc_store_node_users(c->p->store, node, add_user, c);
}

void mqc_plugin__reap_join(struct mqc_plugin *p)
{
    struct load_ctx c = {p, NULL, 0};
    if (mqc_store_cluster_nodes(p->store, p->cfg.node_id, load_node, &c) != MQC_OK) {
        mqc_log(MQC_LOG_WARNING, "cluster: cannot read the node registry: %s",
                mqc_store_last_error(p->store));
        return;
    }
    mqc_log(MQC_LOG_NOTICE, "cluster: joined as %s (%zu users on other nodes)", p->cfg.node_id,
            c.users);
}

static void turned_offline(const char *user, int64_t last_seen, void *ctx)
{
    struct mqc_plugin *p = ctx;
    mqc_plugin__presence_offline_everywhere(p, user, last_seen);
}

static void reap_node(const char *node, bool alive, void *arg)
{
    struct mqc_plugin *p = arg;
    if (alive) {
        mqc_plugin__cluster_peer_seen(p);
        return;
    }
    if (mqc_store_reap_claim(p->store, node, p->cfg.node_id, p->cfg.node_timeout_ms) != MQC_OK)
        return; /* another node does it, or Redis is gone */
    mqc_log(MQC_LOG_NOTICE, "cluster: node %s stopped heartbeating: clearing its users", node);
    if (mqc_store_node_reset(p->store, node, mqc_clock_wall_ms(), turned_offline, p) != MQC_OK)
        return;
    mqc_directory_drop_node(p->directory, node);
    mqc_plugin__cluster_node_event(p, "dead", node);
    mqc_store_node_forget(p->store, node);
}

void mqc_plugin__reap(struct mqc_plugin *p)
{
    int64_t now = mqc_clock_mono_ms();
    if (!p->cluster_joined || now < p->next_reap_ms)
        return;
    p->next_reap_ms = now + p->cfg.node_timeout_ms / 3;
    if (mqc_store_cluster_nodes(p->store, p->cfg.node_id, reap_node, p) != MQC_OK)
        mqc_log(MQC_LOG_WARNING, "cluster: cannot check the other nodes: %s",
                mqc_store_last_error(p->store));
}
