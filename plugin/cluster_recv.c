/* The cluster, as this node takes part in it (ARCHITECTURE.md, "Cluster"):
 * what it receives. Draining the bus each tick and acting on each message
 * (core/busmsg.h): events for local users, directory changes, membership
 * invalidations, presence, broadcasts, node deaths, deleted users; and
 * joining the cluster once Redis and the bus are up. Broker thread only (the
 * bus thread just queues; see store/bus.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/busmsg.h"
#include "core/clock.h"
#include "core/directory.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/topic.h"
#include "plugin/plugin.h"
#include "store/bus.h"

/* An "e" message: deliver its body to its users here. */
static void deliver_here(struct mqc_plugin *p, const struct mqc_busmsg *m)
{
    size_t cap = 1;
    for (size_t i = 0; i < m->users_len; i++)
        cap += m->users[i] == ',';
    char(*names)[MQC_ID_MAX + 1] = malloc(cap * sizeof *names);
    const char **users = malloc(cap * sizeof *users);
    size_t n = 0, pos = 0;
    while (names && users && n < cap && mqc_busmsg_next_user(m, &pos, names[n])) {
        users[n] = names[n];
        n++;
    }
    if (names && users)
        mqc_plugin__deliver(p, m->conv[0] ? m->conv : NULL, m->conv[0] ? m->seq : -1, users, n,
                            m->body, m->blen, m->qos);
    free(users);
    free(names);
}

struct bc_ctx {
    const char *body;
    size_t len;
};

static void broadcast_to(const char *user, void *ctx)
{
    struct bc_ctx *c = ctx;
    char topic[96];
    if (mqc_topic_inbox(user, topic, sizeof topic) == 0)
        mqc_plugin__publish(NULL, topic, c->body, c->len, 1, false);
}

/* Split a comma-separated list (modified in place) into valid ids; returns
 * the count (*ids malloc'd). */
static size_t csv_split(char *s, const char ***ids)
{
    size_t n = 1;
    for (const char *c = s; *c; c++)
        n += *c == ',';
    *ids = calloc(n, sizeof **ids);
    size_t k = 0;
    for (char *tok = s, *next; *ids && tok; tok = next) {
        next = strchr(tok, ',');
        if (next)
            *next++ = '\0';
        if (mqc_id_valid_str(tok))
            (*ids)[k++] = tok;
    }
    return k;
}

static void on_visibility(struct mqc_plugin *p, const char *body, size_t blen)
{
    char *copy = malloc(blen + 1);
    if (!copy)
        return;
    memcpy(copy, body, blen);
    copy[blen] = '\0';
    char *nl = strchr(copy, '\n');
    if (nl) {
        *nl = '\0';
        const char **users = NULL, **others = NULL;
        size_t n = csv_split(copy, &users), m = csv_split(nl + 1, &others);
        if (users && others)
            mqc_plugin__visibility_split(p, users, n, others, m, false);
        free(users);
        free(others);
    }
    free(copy);
}

/* A directory change from another node: user's first (on) or last device
 * there. A new place gets the recent events it missed (the replay). */
static void directory_change(struct mqc_plugin *p, bool on, const char *user, const char *node,
                             int64_t since_ms)
{
    if (!on) {
        mqc_directory_remove(p->directory, user, node);
    } else if (mqc_directory_add(p->directory, user, node) == MQC_OK) {
        mqc_plugin__cluster_replay(p, user, node, since_ms);
    }
}

/* Tests only (plugin_opt_test_bus_delay_ms): on/off held back, in order. */
struct mqc_bus_delayed {
    struct mqc_bus_delayed *next;
    int64_t due, since;
    bool on;
    char user[MQC_ID_MAX + 1], node[MQC_ID_MAX + 1];
};

static void delay_change(struct mqc_plugin *p, bool on, const char *user, const char *node,
                         int64_t since_ms)
{
    struct mqc_bus_delayed *d = calloc(1, sizeof *d), **tail = &p->test_delayed;
    if (!d)
        return;
    d->due = mqc_clock_mono_ms() + p->cfg.test_bus_delay_ms;
    d->on = on;
    d->since = since_ms;
    snprintf(d->user, sizeof d->user, "%s", user);
    snprintf(d->node, sizeof d->node, "%s", node);
    while (*tail)
        tail = &(*tail)->next;
    *tail = d;
}

/* Act on the held-back changes that are due (all of them when flush). */
static void delayed_due(struct mqc_plugin *p, bool flush)
{
    int64_t now = mqc_clock_mono_ms();
    while (p->test_delayed && (flush || p->test_delayed->due <= now)) {
        struct mqc_bus_delayed *d = p->test_delayed;
        p->test_delayed = d->next;
        if (!flush) {
            mqc_log(MQC_LOG_NOTICE, "cluster: test delay over: %s %s %s", d->on ? "on" : "off",
                    d->node, d->user);
            directory_change(p, d->on, d->user, d->node, d->since);
        }
        free(d);
    }
}

void mqc_plugin__cluster_recv_cleanup(struct mqc_plugin *p)
{
    delayed_due(p, true);
}

static void on_bus(void *ctx, bool to_all, const char *data, size_t len, int64_t recv_ms)
{
    struct mqc_plugin *p = ctx;
    struct mqc_busmsg m;
    if (mqc_busmsg_parse(data, len, &m) != MQC_OK)
        return;
    bool mine = strcmp(m.node, p->cfg.node_id) == 0;
    if (!mine && m.node[0] && strcmp(m.node, "*") != 0 && m.kind != MQC_BUS_DEAD)
        mqc_plugin__cluster_peer_seen(p);
    switch (m.kind) {
    case MQC_BUS_EVENT:
        if (!to_all)
            deliver_here(p, &m);
        break;
    case MQC_BUS_ON:
    case MQC_BUS_OFF:
        if (mine)
            break;
        if (p->cfg.test_bus_delay_ms > 0)
            delay_change(p, m.kind == MQC_BUS_ON, m.arg, m.node, recv_ms);
        else
            directory_change(p, m.kind == MQC_BUS_ON, m.arg, m.node, recv_ms);
        break;
    case MQC_BUS_HELLO:
    case MQC_BUS_DEAD:
        if (mine)
            break;
        mqc_directory_drop_node(p->directory, m.node);
        if (m.kind == MQC_BUS_DEAD)
            mqc_log(MQC_LOG_NOTICE, "cluster: node %s declared dead", m.node);
        break;
    case MQC_BUS_MV:
        if (!mine)
            mqc_members_drop(p->members, m.arg);
        break;
    case MQC_BUS_PR:
        if (!mine)
            mqc_plugin__presence_remote(p, m.arg, m.body, m.blen);
        break;
    case MQC_BUS_KICK:
        /* The user was deleted (mqchat user del): their login fails from now
         * on; end the connections they still have here. */
        mqc_log(MQC_LOG_NOTICE, "cluster: user %s deleted: disconnecting their devices", m.arg);
        mqc_authcache_forget(p->auth, m.arg);
        p->sess_epoch++; /* no fetched session record of theirs is used */
        mosquitto_kick_client_by_username(m.arg, false);
        break;
    case MQC_BUS_SKICK: {
        /* Sessions ended (logout, revoke, password change): the devices
         * that logged in with them go now. */
        p->sess_epoch++; /* session records fetched before: read again */
        size_t n = mqc_plugin__client_session_kick(p, m.arg, m.dev);
        mqc_log(n > 0 ? MQC_LOG_NOTICE : MQC_LOG_DEBUG,
                "cluster: session ended: disconnected %zu device(s) (user=%s "
                "device=%s)",
                n, m.arg, m.dev);
        break;
    }
    case MQC_BUS_VIS:
        if (!mine)
            on_visibility(p, m.body, m.blen);
        break;
    case MQC_BUS_BC: {
        struct bc_ctx c = {m.body, m.blen};
        mqc_presence_each_connected(p->presence, broadcast_to, &c);
        break;
    }
    }
}

void mqc_plugin__cluster_tick(struct mqc_plugin *p)
{
    if (!p->bus)
        return;
    bool resub = false;
    mqc_bus_drain(p->bus, on_bus, p, &resub);
    if (p->test_delayed)
        delayed_due(p, false);
    if (resub)
        mqc_log(MQC_LOG_WARNING, "cluster: bus resubscribed: events published meanwhile reach "
                                 "users here through sync");
    if (!p->cluster_joined && mqc_store_is_up(p->store) && mqc_bus_up(p->bus)) {
        /* Subscribed: tell the others this node starts afresh, then learn
         * where everyone is. */
        mqc_plugin__cluster_node_event(p, "hello", p->cfg.node_id);
        mqc_plugin__reap_join(p);
        p->cluster_joined = true;
    }
}
