/* Cluster membership in Redis: the registry of nodes ("<prefix>nodes", a set
 * the heartbeat keeps adding the node to), each node's heartbeat key
 * ({n:<node>}:alive, expiring), the users each node shows present
 * ({n:<node>}:users) and the claim a live node takes before cleaning up
 * after a dead one ({n:<node>}:reap). All blocking and rare: at start, and
 * once per heartbeat period when looking for dead nodes. */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "store/internal.h"
#include "store/keys.h"

static int node_key(struct mqc_store *s, const char *node, const char *part, char *buf)
{
    if (!mqc_id_valid_str(node))
        return MQC_EBADREQ;
    int n = snprintf(buf, MQC_KEY_MAX, "%s{n:%s}:%s", s->prefix, node, part);
    return n < 0 || n >= MQC_KEY_MAX ? MQC_EBADREQ : MQC_OK;
}

/* Run argv; call fn for each string of an array reply. */
static int each_string(struct mqc_store *s, int argc, const char **argv,
                       void (*fn)(const char *str, void *ctx), void *ctx)
{
    redisReply *r = mqc_store__cmd(s, argc, argv);
    if (!r)
        return MQC_EUNAVAIL;
    int rc = r->type == REDIS_REPLY_ARRAY ? MQC_OK : MQC_EUNAVAIL;
    for (size_t i = 0; rc == MQC_OK && i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING)
            fn(r->element[i]->str, ctx);
    }
    freeReplyObject(r);
    return rc;
}

struct nodes_ctx {
    struct mqc_store *s;
    const char *self;
    void (*fn)(const char *node, bool alive, void *ctx);
    void *ctx;
    int rc;
};

static void one_node(const char *node, void *arg)
{
    struct nodes_ctx *c = arg;
    char k[MQC_KEY_MAX];
    if (c->rc != MQC_OK || !strcmp(node, c->self) || node_key(c->s, node, "alive", k) != MQC_OK)
        return;
    const char *argv[] = {"EXISTS", k};
    redisReply *r = mqc_store__cmd(c->s, 2, argv);
    if (!r) {
        c->rc = MQC_EUNAVAIL;
        return;
    }
    bool alive = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    c->fn(node, alive, c->ctx);
}

int mqc_store_cluster_nodes(struct mqc_store *s, const char *self,
                            void (*fn)(const char *node, bool alive, void *ctx), void *ctx)
{
    char k[MQC_KEY_MAX];
    snprintf(k, sizeof k, "%snodes", s->prefix);
    const char *argv[] = {"SMEMBERS", k};
    struct nodes_ctx c = {s, self, fn, ctx, MQC_OK};
    int rc = each_string(s, 2, argv, one_node, &c);
    return rc != MQC_OK ? rc : c.rc;
}

int mqc_store_node_users(struct mqc_store *s, const char *node,
                         void (*fn)(const char *user, void *ctx), void *ctx)
{
    char k[MQC_KEY_MAX];
    int rc = node_key(s, node, "users", k);
    if (rc != MQC_OK)
        return rc;
    const char *argv[] = {"SMEMBERS", k};
    return each_string(s, 2, argv, fn, ctx);
}

int mqc_store_reap_claim(struct mqc_store *s, const char *node, const char *self, int64_t ttl_ms)
{
    char k[MQC_KEY_MAX], ttl[24];
    int rc = node_key(s, node, "reap", k);
    if (rc != MQC_OK)
        return rc;
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *argv[] = {"SET", k, self, "NX", "PX", ttl};
    redisReply *r = mqc_store__cmd(s, 6, argv);
    if (!r)
        return MQC_EUNAVAIL;
    rc = r->type == REDIS_REPLY_STATUS ? MQC_OK
         : r->type == REDIS_REPLY_NIL  ? MQC_EEXIST
                                       : MQC_EUNAVAIL;
    freeReplyObject(r);
    return rc;
}

int mqc_store_node_forget(struct mqc_store *s, const char *node)
{
    char k[MQC_KEY_MAX];
    snprintf(k, sizeof k, "%snodes", s->prefix);
    const char *argv[] = {"SREM", k, node};
    redisReply *r = mqc_store__cmd(s, 3, argv);
    if (!r)
        return MQC_EUNAVAIL;
    freeReplyObject(r);
    return MQC_OK;
}
