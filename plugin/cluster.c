/* The cluster, as this node takes part in it (ARCHITECTURE.md, "Cluster"):
 * announcing where its users are, sending each stored event to the other
 * nodes that hold a recipient, and acting on what the bus brings: events for
 * local users, directory changes, membership invalidations, presence,
 * broadcasts, node deaths. Bus messages are text, one header line then an
 * optional body:
 *
 *   e <qos> <conv> <seq> <user>,...\n<ev>  (node channel) deliver to these users
 *                                         (conv "-" and seq -1: no order)
 *   on <node> <user> / off <node> <user>  a user's first / last device there
 *   hello <node>                          node (re)started: forget its users
 *   dead <node>                           node declared dead: forget its users
 *   mv <node> <conv>                      membership changed: drop the cache
 *   pr <node> <user>\n<state json>        retained presence to publish
 *   bc\n<event>                           system broadcast to every user
 *   vis <node>\n<user>,...\n<other>,...    presence visibility: split these
 *                                         users from the others, re-check them
 *
 * Broker thread only (the bus thread just queues; see store/bus.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/directory.h"
#include "core/id.h"
#include "core/log.h"
#include "core/topic.h"
#include "plugin/plugin.h"
#include "store/bus.h"

#define MAX_BUCKETS 16
/* How long an event waits for an earlier one from another node. */
#define REORDER_WAIT_MS 100

int mqc_plugin__cluster_init(struct mqc_plugin *p, const struct mqc_store_opts *so)
{
    p->directory = mqc_directory_new();
    p->reorder = mqc_reorder_new(REORDER_WAIT_MS);
    if (!p->directory || !p->reorder)
        return MQC_ENOMEM;
    p->wake_ok = mqc_plugin__wake_init() == MQC_OK;
    p->bus = mqc_bus_new(so, p->cfg.node_id, p->wake_ok ? mqc_plugin__wake_soon : NULL, NULL);
    if (!p->bus)
        return MQC_ENOMEM;
    return MQC_OK;
}

void mqc_plugin__cluster_cleanup(struct mqc_plugin *p)
{
    mqc_bus_free(p->bus); /* joins the bus thread: no wake after this */
    p->bus = NULL;
    mqc_plugin__wake_cleanup();
    mqc_directory_free(p->directory);
    p->directory = NULL;
    mqc_reorder_free(p->reorder);
    p->reorder = NULL;
}

/* Publish a header line (and body) on the shared channel or to node. */
static void bus_send(struct mqc_plugin *p, const char *node, const char *head, const char *body,
                     size_t blen)
{
    size_t hl = strlen(head);
    char *msg = malloc(hl + 1 + blen + 1);
    if (!msg) {
        mqc_log(MQC_LOG_ERR, "cluster: out of memory building a bus message");
        return;
    }
    memcpy(msg, head, hl);
    size_t n = hl;
    if (body) {
        msg[n++] = '\n';
        memcpy(msg + n, body, blen);
        n += blen;
    }
    msg[n] = '\0';
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

static void bucket_add(struct bucket *b, const char *user)
{
    size_t ul = strlen(user);
    if (b->len + ul + 2 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + ul + 2)
            cap *= 2;
        char *v = realloc(b->users, cap);
        if (!v)
            return; /* that user gets it by sync */
        b->users = v;
        b->cap = cap;
    }
    if (b->len)
        b->users[b->len++] = ',';
    memcpy(b->users + b->len, user, ul);
    b->len += ul;
    b->users[b->len] = '\0';
}

void mqc_plugin__cluster_fanout(struct mqc_plugin *p, const char *conv, int64_t seq,
                                const char *const *users, size_t n, const char *skip,
                                const char *payload, size_t len, int qos)
{
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
            bucket_add(&b[j], users[i]);
        }
    }
    for (size_t j = 0; j < nb; j++) {
        if (b[j].len) {
            size_t hl = b[j].len + strlen(conv ? conv : "-") + 48;
            char *head = malloc(hl);
            if (head) {
                snprintf(head, hl, "e %d %s %lld %s", qos, conv && seq >= 0 ? conv : "-",
                         (long long)(conv && seq >= 0 ? seq : -1), b[j].users);
                bus_send(p, b[j].node, head, payload, len);
                free(head);
            }
        }
        free(b[j].users);
    }
}

void mqc_plugin__cluster_route(struct mqc_plugin *p, const char *conv, int64_t seq,
                               const char *const *nodes, const char *const *users, size_t n,
                               const char *payload, size_t len, int qos)
{
    for (size_t i = 0; i < n; i++) {
        if (!nodes[i][0] || !users[i][0] || strcmp(nodes[i], p->cfg.node_id) == 0)
            continue;
        size_t hl = strlen(users[i]) + strlen(conv) + 48;
        char *head = malloc(hl);
        if (!head)
            continue; /* those users get it by sync */
        snprintf(head, hl, "e %d %s %lld %s", qos, conv, (long long)seq, users[i]);
        bus_send(p, nodes[i], head, payload, len);
        free(head);
    }
}

/* "e <qos> <conv> <seq> <u1>,<u2>,...": deliver body to those users here
 * (args is the header after "e ", modified in place). */
static void deliver_here(struct mqc_plugin *p, char *args, const char *body, size_t blen)
{
    char *save = NULL;
    const char *q = strtok_r(args, " ", &save);
    const char *conv = strtok_r(NULL, " ", &save);
    const char *seqs = strtok_r(NULL, " ", &save);
    char *list = strtok_r(NULL, " ", &save);
    if (!q || !conv || !seqs || !list)
        return;
    int64_t seq = strtoll(seqs, NULL, 10);
    bool ordered = seq >= 0 && mqc_id_valid_str(conv);
    size_t cap = 1;
    for (const char *c = list; *c; c++)
        cap += *c == ',';
    const char **users = malloc(cap * sizeof *users);
    if (!users)
        return;
    size_t n = 0;
    for (char *u = strtok_r(list, ",", &save); u && n < cap; u = strtok_r(NULL, ",", &save)) {
        if (mqc_id_valid_str(u))
            users[n++] = u;
    }
    mqc_plugin__deliver(p, ordered ? conv : NULL, ordered ? seq : -1, users, n, body, blen,
                        q[0] == '1' ? 1 : 0);
    free(users);
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

/* Split "<word> <rest>" of args into word (copied into w) and rest. */
static const char *word(const char *args, char *w, size_t size)
{
    const char *sp = strchr(args, ' ');
    size_t l = sp ? (size_t)(sp - args) : strlen(args);
    if (l >= size)
        l = size - 1;
    memcpy(w, args, l);
    w[l] = '\0';
    return sp ? sp + 1 : "";
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

static void on_bus(void *ctx, bool to_all, const char *data, size_t len)
{
    struct mqc_plugin *p = ctx;
    const char *nl = memchr(data, '\n', len);
    size_t hl = nl ? (size_t)(nl - data) : len;
    const char *body = nl ? nl + 1 : "";
    size_t blen = nl ? len - hl - 1 : 0;
    char head[512], kind[8], node[MQC_ID_MAX + 1];
    if (hl >= sizeof head && !(hl > 2 && data[0] == 'e' && data[1] == ' ')) {
        return;
    }
    if (data[0] == 'e' && data[1] == ' ' && !to_all) {
        /* The recipient list may be long: parse it in place. */
        char *h = malloc(hl + 1);
        if (!h)
            return;
        memcpy(h, data, hl);
        h[hl] = '\0';
        deliver_here(p, h + 2, body, blen);
        free(h);
        return;
    }
    memcpy(head, data, hl);
    head[hl] = '\0';
    const char *rest = word(head, kind, sizeof kind);
    rest = word(rest, node, sizeof node);
    bool mine = strcmp(node, p->cfg.node_id) == 0;
    if (!strcmp(kind, "on") && !mine && mqc_id_valid_str(rest)) {
        mqc_directory_add(p->directory, rest, node);
    } else if (!strcmp(kind, "off") && !mine) {
        mqc_directory_remove(p->directory, rest, node);
    } else if ((!strcmp(kind, "hello") || !strcmp(kind, "dead")) && !mine) {
        mqc_directory_drop_node(p->directory, node);
        if (!strcmp(kind, "dead"))
            mqc_log(MQC_LOG_NOTICE, "cluster: node %s declared dead", node);
    } else if (!strcmp(kind, "mv") && !mine) {
        mqc_members_drop(p->members, rest);
    } else if (!strcmp(kind, "pr") && !mine && mqc_id_valid_str(rest)) {
        mqc_plugin__presence_remote(p, rest, body, blen);
    } else if (!strcmp(kind, "vis") && !mine) {
        on_visibility(p, body, blen);
    } else if (!strcmp(kind, "bc") && blen > 0) {
        struct bc_ctx c = {body, blen};
        mqc_presence_each_connected(p->presence, broadcast_to, &c);
    }
}

void mqc_plugin__cluster_tick(struct mqc_plugin *p)
{
    if (!p->bus)
        return;
    bool resub = false;
    mqc_bus_drain(p->bus, on_bus, p, &resub);
    if (resub)
        mqc_log(MQC_LOG_WARNING, "cluster: bus resubscribed: events published meanwhile reach "
                                 "users here through sync");
    if (!p->cluster_joined && mqc_store_is_up(p->store) && mqc_bus_up(p->bus)) {
        /* Subscribed: tell the others this node starts afresh, then learn
         * where everyone is. */
        mqc_plugin__cluster_node_event(p, "hello", p->cfg.node_id);
        mqc_plugin__cluster_load_directory(p);
        p->cluster_joined = true;
    }
}
