/* Read-only health probes for `mqchat doctor` (see probe.h). A bare hiredis
 * connection from mqc_store__dial: nothing here writes to Redis or loads the
 * function library, so what the doctor reports is what the brokers see. */
#include "store/probe.h"
#include "store/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "store/internal.h"
#include "store/keys.h"
#include "store/mqchat_lua.h"

struct mqc_store_probe {
    redisContext *ctx;
};

struct mqc_store_probe *mqc_store_probe_new(const char *host, int port, const char *unix_path,
                                            const char *password, int db, int timeout_ms,
                                            int *auth_failed, char *err, size_t errlen)
{
    if (auth_failed)
        *auth_failed = 0;
    redisContext *c = mqc_store__dial(host ? host : "127.0.0.1", port ? port : 6379, unix_path,
                                      timeout_ms, password, err, errlen);
    if (!c) {
        if (auth_failed && !strncmp(err, "AUTH:", 5))
            *auth_failed = 1;
        return NULL;
    }
    if (db) {
        redisReply *r = redisCommand(c, "SELECT %d", db);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "SELECT %d: %s", db, r ? r->str : c->errstr);
            if (auth_failed && r)
                *auth_failed = 1;
            freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    struct mqc_store_probe *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        redisFree(c);
        return NULL;
    }
    p->ctx = c;
    return p;
}

void mqc_store_probe_free(struct mqc_store_probe *p)
{
    if (!p)
        return;
    redisFree(p->ctx);
    free(p);
}

/* One command; NULL (reason in out) on no answer or an error reply. */
static redisReply *run(struct mqc_store_probe *p, char *out, size_t size, int argc,
                       const char **argv)
{
    redisReply *r = redisCommandArgv(p->ctx, argc, argv, NULL);
    if (!r) {
        snprintf(out, size, "%s", p->ctx->errstr[0] ? p->ctx->errstr : "no reply");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(out, size, "%s", r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

int mqc_store_probe_info(struct mqc_store_probe *p, const char *section, const char *field,
                         char *out, size_t size)
{
    const char *argv[] = {"INFO", section};
    redisReply *r = run(p, out, size, 2, argv);
    if (!r)
        return MQC_EUNAVAIL;
    int rc = MQC_ENOTFOUND;
    size_t flen = strlen(field);
    if (r->type == REDIS_REPLY_STRING) {
        for (const char *line = r->str; line && *line;) {
            const char *end = strpbrk(line, "\r\n");
            size_t len = end ? (size_t)(end - line) : strlen(line);
            if (len > flen && !strncmp(line, field, flen) && line[flen] == ':') {
                snprintf(out, size, "%.*s", (int)(len - flen - 1), line + flen + 1);
                rc = MQC_OK;
                break;
            }
            line = end ? end + strspn(end, "\r\n") : NULL;
        }
    }
    freeReplyObject(r);
    return rc;
}

int mqc_store_probe_config(struct mqc_store_probe *p, const char *name, char *out, size_t size)
{
    const char *argv[] = {"CONFIG", "GET", name};
    redisReply *r = redisCommandArgv(p->ctx, 3, argv, NULL);
    if (!r) {
        snprintf(out, size, "%s", p->ctx->errstr[0] ? p->ctx->errstr : "no reply");
        return MQC_EUNAVAIL;
    }
    int rc = MQC_ENOTFOUND;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(out, size, "%s", r->str);
        rc = MQC_EFORBIDDEN;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
               r->element[1]->type == REDIS_REPLY_STRING) {
        snprintf(out, size, "%s", r->element[1]->str);
        rc = MQC_OK;
    }
    freeReplyObject(r);
    return rc;
}

int mqc_store_probe_time(struct mqc_store_probe *p, int64_t *redis_ms, int64_t *rtt_ms)
{
    char why[160];
    const char *argv[] = {"TIME"};
    int64_t t0 = mqc_clock_mono_ms();
    redisReply *r = run(p, why, sizeof why, 1, argv);
    if (!r)
        return MQC_EUNAVAIL;
    *rtt_ms = mqc_clock_mono_ms() - t0;
    int rc = MQC_EUNAVAIL;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING) {
        *redis_ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
                    strtoll(r->element[1]->str, NULL, 10) / 1000;
        rc = MQC_OK;
    }
    freeReplyObject(r);
    return rc;
}

int mqc_store_probe_cluster_state(struct mqc_store_probe *p, char *out, size_t size)
{
    const char *argv[] = {"CLUSTER", "INFO"};
    redisReply *r = run(p, out, size, 2, argv);
    if (!r)
        return MQC_EUNAVAIL;
    int rc = MQC_ENOTFOUND;
    if (r->type == REDIS_REPLY_STRING) {
        const char *v = strstr(r->str, "cluster_state:");
        if (v) {
            v += strlen("cluster_state:");
            snprintf(out, size, "%.*s", (int)strcspn(v, "\r\n"), v);
            rc = MQC_OK;
        }
    }
    freeReplyObject(r);
    return rc;
}

/* The library name from the embedded code's "#!lua name=NAME" line. */
static void library_name(char *name, size_t size)
{
    const char *v = strstr(mqc_lua_library, "name=");
    if (!v) {
        snprintf(name, size, "mqchat");
        return;
    }
    v += 5;
    snprintf(name, size, "%.*s", (int)strcspn(v, " \r\n"), v);
}

/* The value of key in a flat key/value array reply, or NULL. */
static const redisReply *field(const redisReply *r, const char *key)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i];
        if ((k->type == REDIS_REPLY_STRING || k->type == REDIS_REPLY_STATUS) &&
            !strcmp(k->str, key))
            return r->element[i + 1];
    }
    return NULL;
}

int mqc_store_probe_library(struct mqc_store_probe *p, char *name, size_t size)
{
    char why[160];
    library_name(name, size);
    const char *argv[] = {"FUNCTION", "LIST", "LIBRARYNAME", name, "WITHCODE"};
    redisReply *r = run(p, why, sizeof why, 5, argv);
    if (!r)
        return MQC_EUNAVAIL;
    int rc = MQC_ENOTFOUND;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *n = field(r->element[i], "library_name");
        const redisReply *code = field(r->element[i], "library_code");
        if (!n || n->type != REDIS_REPLY_STRING || strcmp(n->str, name))
            continue; /* LIBRARYNAME is a pattern: another library may match */
        rc = (code && code->type == REDIS_REPLY_STRING && !strcmp(code->str, mqc_lua_library))
                 ? MQC_OK
                 : MQC_EEXIST;
    }
    freeReplyObject(r);
    return rc;
}

int mqc_store_probe_version(struct mqc_store_probe *p, const char *prefix, char *out, size_t size)
{
    char key[MQC_KEY_MAX], why[160];
    snprintf(key, sizeof key, "%sversion", prefix);
    const char *argv[] = {"GET", key};
    redisReply *r = run(p, why, sizeof why, 2, argv);
    if (!r)
        return MQC_EUNAVAIL;
    int rc = r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL ? MQC_OK : MQC_EUNAVAIL;
    snprintf(out, size, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    return rc;
}

int mqc_store_probe_users(struct mqc_store_probe *p, const char *prefix, long long *n)
{
    char key[MQC_KEY_MAX], why[160];
    if (mqc_key_users(prefix, key, sizeof key) != MQC_OK)
        return MQC_EBADREQ;
    const char *argv[] = {"SCARD", key};
    redisReply *r = run(p, why, sizeof why, 2, argv);
    if (!r)
        return MQC_EUNAVAIL;
    int rc = r->type == REDIS_REPLY_INTEGER ? MQC_OK : MQC_EUNAVAIL;
    *n = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    return rc;
}

/* Is key "<prefix>users" (and not a node's "<prefix>{n:<node>}:users")?
 * Its prefix length goes to *plen. */
static int users_key(const char *key, size_t *plen)
{
    size_t len = strlen(key);
    if (len < 5 || strcmp(key + len - 5, "users") || strchr(key, '{'))
        return 0;
    *plen = len - 5;
    return 1;
}

int mqc_store_probe_prefixes(struct mqc_store_probe *p, long max_keys,
                             void (*fn)(const char *prefix, long long users, void *ctx), void *ctx)
{
    char cursor[32] = "0", why[160];
    long seen = 0;
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", "*users", "TYPE", "set", "COUNT", "1000"};
        redisReply *r = run(p, why, sizeof why, 8, argv);
        if (!r)
            return MQC_EUNAVAIL;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return MQC_EUNAVAIL;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            size_t plen;
            if (keys->element[i]->type != REDIS_REPLY_STRING ||
                !users_key(keys->element[i]->str, &plen))
                continue;
            char prefix[MQC_KEY_MAX];
            snprintf(prefix, sizeof prefix, "%.*s", (int)plen, keys->element[i]->str);
            long long n = 0;
            if (mqc_store_probe_users(p, prefix, &n) == MQC_OK && n > 0)
                fn(prefix, n, ctx);
        }
        seen += 1000;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") && seen < max_keys);
    return MQC_OK;
}

struct primaries_walk {
    void (*fn)(const char *host, int port, void *ctx);
    void *ctx;
    int down;
};

static void on_primary(const char *addr, int rc, const redisReply *reply, void *ctx)
{
    (void)reply;
    struct primaries_walk *w = ctx;
    char host[300];
    snprintf(host, sizeof host, "%s", addr);
    char *colon = strrchr(host, ':');
    if (rc != MQC_OK)
        w->down++;
    if (!colon)
        return;
    *colon = '\0';
    w->fn(host, atoi(colon + 1), w->ctx);
}

int mqc_store_probe_cluster_primaries(const char *seeds, const char *password, int timeout_ms,
                                      void (*fn)(const char *host, int port, void *ctx), void *ctx,
                                      int *down, char *err, size_t errlen)
{
    struct mqc_router_opts ro = {.seeds = seeds, .password = password, .timeout_ms = timeout_ms};
    struct mqc_router *r = mqc_router_new(&ro);
    if (down)
        *down = 0;
    if (!r) {
        snprintf(err, errlen, "no valid host:port in the seeds");
        return MQC_EUNAVAIL;
    }
    int rc = mqc_router_refresh(r);
    if (rc != MQC_OK) {
        snprintf(err, errlen, "%s", mqc_router_last_error(r));
        mqc_router_free(r);
        return rc;
    }
    struct primaries_walk w = {fn, ctx, 0};
    const char *ping[] = {"PING"};
    rc = mqc_router_each_primary(r, 1, ping, NULL, on_primary, &w);
    if (rc != MQC_OK)
        snprintf(err, errlen, "%s", mqc_router_last_error(r));
    if (down)
        *down = w.down;
    mqc_router_free(r);
    return rc;
}
