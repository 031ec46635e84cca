/* Walking the keys of the store with SCAN (a thousand keys per call, so
 * Redis is never blocked for long): the admin commands' one loop (user
 * deletion finds a user's keys, the upgrade every conversation and user).
 * On a Redis Cluster every primary holds its own keys: the walk asks the
 * router for the primaries and SCANs each on a connection of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/internal.h"
#include "store/keys.h"

/* One SCAN step: argv on c (NULL: the store's connection). */
static redisReply *scan_call(struct mqc_store *s, redisContext *c, const char **argv)
{
    if (!c)
        return mqc_store__cmd(s, 6, argv);
    redisReply *r = redisCommandArgv(c, 6, argv, NULL);
    if (r && r->type == REDIS_REPLY_ERROR) {
        snprintf(s->last_error, sizeof s->last_error, "SCAN: %.120s", r->str);
        freeReplyObject(r);
        return NULL;
    }
    if (!r)
        snprintf(s->last_error, sizeof s->last_error, "SCAN: %s",
                 c->errstr[0] ? c->errstr : "no reply");
    return r;
}

/* The walk of one server (c, or the store's connection when NULL). */
static int scan_one(struct mqc_store *s, redisContext *c, const char *pattern,
                    int (*fn)(const char *key, size_t len, void *ctx), void *ctx)
{
    char cursor[32] = "0";
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
        redisReply *r = scan_call(s, c, argv);
        if (!r)
            return MQC_EUNAVAIL;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return MQC_EUNAVAIL;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        int rc = MQC_OK;
        for (size_t i = 0; rc == MQC_OK && i < r->element[1]->elements; i++) {
            const redisReply *k = r->element[1]->element[i];
            if (k->type == REDIS_REPLY_STRING)
                rc = fn(k->str, k->len, ctx);
        }
        freeReplyObject(r);
        if (rc != MQC_OK)
            return rc;
    } while (strcmp(cursor, "0") != 0);
    return MQC_OK;
}

/* The primaries' "host:port", collected by mqc_router_each_primary. */
struct primaries {
    char addr[16][300];
    size_t n;
};

static void add_primary(const char *addr, int rc, const redisReply *reply, void *ctx)
{
    (void)rc;
    (void)reply;
    struct primaries *p = ctx;
    if (p->n < sizeof p->addr / sizeof p->addr[0])
        snprintf(p->addr[p->n++], sizeof p->addr[0], "%s", addr);
}

/* Cluster: scan_one on every primary. */
static int scan_cluster(struct mqc_store *s, const char *pattern,
                        int (*fn)(const char *key, size_t len, void *ctx), void *ctx)
{
    struct primaries *p = calloc(1, sizeof *p);
    if (!p)
        return MQC_ENOMEM;
    const char *ping[] = {"PING"};
    int rc = s->router ? mqc_router_each_primary(s->router, 1, ping, NULL, add_primary, p)
                       : MQC_EUNAVAIL;
    if (rc != MQC_OK)
        snprintf(s->last_error, sizeof s->last_error, "%s",
                 s->router ? mqc_router_last_error(s->router) : "not connected");
    for (size_t i = 0; rc == MQC_OK && i < p->n; i++) {
        char host[300];
        snprintf(host, sizeof host, "%s", p->addr[i]);
        char *colon = strrchr(host, ':');
        if (!colon) {
            rc = MQC_EUNAVAIL;
            break;
        }
        *colon = '\0';
        redisContext *c = mqc_store__dial(host, atoi(colon + 1), NULL, s->timeout_ms, s->password,
                                          s->last_error, sizeof s->last_error);
        if (!c) {
            rc = MQC_EUNAVAIL;
            break;
        }
        rc = scan_one(s, c, pattern, fn, ctx);
        redisFree(c);
    }
    free(p);
    return rc;
}

int mqc_store__scan(struct mqc_store *s, const char *suffix,
                    int (*fn)(const char *key, size_t len, void *ctx), void *ctx)
{
    /* The prefix is matched literally: its glob characters are escaped. */
    char pattern[2 * MQC_KEY_MAX];
    size_t n = 0;
    for (const char *c = s->prefix; *c && n + 3 < sizeof pattern; c++) {
        if (strchr("*?[]\\", *c))
            pattern[n++] = '\\';
        pattern[n++] = *c;
    }
    pattern[n] = '\0';
    snprintf(pattern + n, sizeof pattern - n, "%s", suffix);
    if (mqc_store__cluster(s))
        return scan_cluster(s, pattern, fn, ctx);
    return scan_one(s, NULL, pattern, fn, ctx);
}
