/* The router's nodes and slot map: the table of known nodes (seeds,
 * primaries, redirect targets), and the map from each of the 16384 slots to
 * the primary serving it, loaded with CLUSTER SHARDS (Redis 7) or CLUSTER
 * SLOTS (older servers) from the first node that answers. A shard whose
 * primary is marked failed is left out of the map: its slots answer
 * MQC_EUNAVAIL at once until a replica has been promoted and a reload finds
 * it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "store/internal.h"
#include "store/router_int.h"

int64_t mqc_router__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mqc_router__node_add(struct mqc_router *r, const char *host, size_t len, int port)
{
    for (size_t i = 0; i < r->nnodes; i++) {
        struct mqc_router__node *n = r->nodes[i];
        if (n->port == port && strlen(n->host) == len && !memcmp(n->host, host, len))
            return (int)i;
    }
    if (r->nnodes >= MQC_ROUTER_MAX_NODES || len == 0 || len > 253 || port <= 0 || port > 65535)
        return -1;
    struct mqc_router__node *n = calloc(1, sizeof *n);
    if (!n || !(n->host = strndup(host, len))) {
        free(n);
        return -1;
    }
    snprintf(n->addr, sizeof n->addr, "%s:%d", n->host, port);
    n->port = port;
    n->inflight_tail = &n->inflight;
    r->nodes[r->nnodes] = n;
    return (int)r->nnodes++;
}

int mqc_router__node_parse(struct mqc_router *r, const char *addr, size_t len)
{
    const char *colon = NULL;
    for (size_t i = len; i > 0; i--) {
        if (addr[i - 1] == ':') {
            colon = addr + i - 1;
            break;
        }
    }
    if (!colon || colon == addr || colon + 1 == addr + len)
        return -1;
    char digits[8];
    size_t nd = (size_t)(addr + len - colon - 1);
    if (nd >= sizeof digits)
        return -1;
    memcpy(digits, colon + 1, nd);
    digits[nd] = '\0';
    char *end;
    long port = strtol(digits, &end, 10);
    if (*end || port <= 0 || port > 65535)
        return -1;
    size_t hlen = (size_t)(colon - addr);
    if (hlen > 2 && addr[0] == '[' && addr[hlen - 1] == ']') /* "[::1]:7000" */
        return mqc_router__node_add(r, addr + 1, hlen - 2, (int)port);
    return mqc_router__node_add(r, addr, hlen, (int)port);
}

/* The value of key in a RESP2 flat map (k, v, k, v...), or NULL. */
static const redisReply *field(const redisReply *m, const char *key)
{
    if (m->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < m->elements; i += 2) {
        const redisReply *k = m->element[i];
        if (k->type == REDIS_REPLY_STRING && !strcmp(k->str, key))
            return m->element[i + 1];
    }
    return NULL;
}

static bool is_str(const redisReply *v, const char *s)
{
    return v && (v->type == REDIS_REPLY_STRING || v->type == REDIS_REPLY_STATUS) &&
           !strcmp(v->str, s);
}

/* A node of a reply: host (endpoint, else ip, else the host asked: Redis
 * says "" or "?" when it does not know its own address) and port. */
static int node_of(struct mqc_router *r, const redisReply *host, long long port,
                   const struct mqc_router__node *asked)
{
    const char *h = host && host->type == REDIS_REPLY_STRING ? host->str : "";
    if (!h[0] || !strcmp(h, "?"))
        h = asked->host;
    return mqc_router__node_add(r, h, strlen(h), (int)port);
}

static void set_range(int16_t *map, long long lo, long long hi, int node)
{
    for (long long s = lo; s <= hi && s < MQC_SLOTS; s++)
        if (s >= 0)
            map[s] = (int16_t)node;
}

/* CLUSTER SHARDS: [{slots: [lo, hi, ...], nodes: [{ip, endpoint, port,
 * role, health}...]}...]. */
static int parse_shards(struct mqc_router *r, const redisReply *rep,
                        const struct mqc_router__node *asked, int16_t *map)
{
    if (rep->type != REDIS_REPLY_ARRAY)
        return MQC_EUNAVAIL;
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *slots = field(rep->element[i], "slots");
        const redisReply *nodes = field(rep->element[i], "nodes");
        if (!slots || !nodes || slots->type != REDIS_REPLY_ARRAY ||
            nodes->type != REDIS_REPLY_ARRAY)
            continue;
        int idx = -1;
        for (size_t k = 0; k < nodes->elements && idx < 0; k++) {
            const redisReply *n = nodes->element[k], *port = field(n, "port");
            if (!is_str(field(n, "role"), "master") || is_str(field(n, "health"), "failed") ||
                !port || port->type != REDIS_REPLY_INTEGER)
                continue;
            const redisReply *ep = field(n, "endpoint");
            if (!ep || ep->type != REDIS_REPLY_STRING || !ep->str[0] || !strcmp(ep->str, "?"))
                ep = field(n, "ip");
            idx = node_of(r, ep, port->integer, asked);
        }
        if (idx < 0)
            continue;
        for (size_t k = 0; k + 1 < slots->elements; k += 2) {
            const redisReply *lo = slots->element[k], *hi = slots->element[k + 1];
            if (lo->type == REDIS_REPLY_INTEGER && hi->type == REDIS_REPLY_INTEGER)
                set_range(map, lo->integer, hi->integer, idx);
        }
    }
    return MQC_OK;
}

/* CLUSTER SLOTS: [[lo, hi, [ip, port, id...], replicas...]...]. */
static int parse_slots(struct mqc_router *r, const redisReply *rep,
                       const struct mqc_router__node *asked, int16_t *map)
{
    if (rep->type != REDIS_REPLY_ARRAY)
        return MQC_EUNAVAIL;
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER ||
            e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2 ||
            e->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        const redisReply *p = e->element[2];
        int idx = node_of(r, p->element[0], p->element[1]->integer, asked);
        if (idx >= 0)
            set_range(map, e->element[0]->integer, e->element[1]->integer, idx);
    }
    return MQC_OK;
}

/* Ask node n for the map. The node's own connection is used when it has
 * nothing in flight, else a fresh one. */
static int load_from(struct mqc_router *r, struct mqc_router__node *n, int16_t *map)
{
    char err[160];
    redisContext *c = n->ctx && !n->ninflight ? n->ctx : NULL;
    bool own = c != NULL;
    if (!c)
        c = mqc_store__dial(n->host, n->port, NULL, r->o.timeout_ms, r->o.password, err,
                            sizeof err);
    if (!c) {
        snprintf(r->last_error, sizeof r->last_error, "cannot reach %s: %s", n->addr, err);
        return MQC_EUNAVAIL;
    }
    redisReply *rep = redisCommand(c, "CLUSTER SHARDS");
    int rc = MQC_EUNAVAIL;
    if (rep && rep->type == REDIS_REPLY_ERROR) { /* before Redis 7 */
        freeReplyObject(rep);
        rep = redisCommand(c, "CLUSTER SLOTS");
        if (rep && rep->type != REDIS_REPLY_ERROR)
            rc = parse_slots(r, rep, n, map);
    } else if (rep) {
        rc = parse_shards(r, rep, n, map);
    }
    if (!rep)
        snprintf(r->last_error, sizeof r->last_error, "%s: %s", n->addr, c->errstr);
    else if (rc != MQC_OK)
        snprintf(r->last_error, sizeof r->last_error, "%s: no slot map: %.120s", n->addr,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    if (rep)
        freeReplyObject(rep);
    if (own && !rep)
        mqc_router__node_fail(r, n, "no reply to CLUSTER SHARDS");
    else if (!own)
        redisFree(c);
    return rc;
}

int mqc_router_refresh(struct mqc_router *r)
{
    r->refreshed_ms = mqc_router__now_ms();
    int16_t *map = malloc(sizeof r->slots);
    if (!map)
        return MQC_ENOMEM;
    int rc = MQC_EUNAVAIL;
    /* Primaries first (they are up most likely), then every other node. */
    for (int pass = 0; pass < 2 && rc != MQC_OK; pass++) {
        for (size_t i = 0; i < r->nnodes && rc != MQC_OK; i++) {
            struct mqc_router__node *n = r->nodes[i];
            if (n->primary != (pass == 0))
                continue;
            for (size_t s = 0; s < MQC_SLOTS; s++)
                map[s] = -1;
            rc = load_from(r, n, map);
        }
    }
    if (rc == MQC_OK) {
        memcpy(r->slots, map, sizeof r->slots);
        for (size_t i = 0; i < r->nnodes; i++)
            r->nodes[i]->primary = false;
        size_t unserved = 0;
        for (size_t s = 0; s < MQC_SLOTS; s++) {
            if (r->slots[s] >= 0)
                r->nodes[r->slots[s]]->primary = true;
            else
                unserved++;
        }
        /* A node that stopped being a primary runs the hook again if it is
         * promoted later (its data may differ by then). */
        for (size_t i = 0; i < r->nnodes; i++)
            if (!r->nodes[i]->primary)
                r->nodes[i]->hooked = false;
        r->loaded = true;
        r->stale = unserved > 0; /* keep looking until every slot is served */
        r->stats.refreshes++;
    } else if (!r->o.quiet) {
        mqc_log(MQC_LOG_ERR, "store: cannot load the redis cluster slot map: %s", r->last_error);
    }
    free(map);
    return rc;
}

void mqc_router__maybe_refresh(struct mqc_router *r)
{
    if (r->loaded && !r->stale)
        return;
    if (r->refreshed_ms && mqc_router__now_ms() - r->refreshed_ms < r->o.retry_ms)
        return;
    (void)mqc_router_refresh(r);
}

const char *mqc_router_node_of(struct mqc_router *r, unsigned slot)
{
    mqc_router__maybe_refresh(r);
    if (slot >= MQC_SLOTS || r->slots[slot] < 0)
        return NULL;
    return r->nodes[r->slots[slot]]->addr;
}
