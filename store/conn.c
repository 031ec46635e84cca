/* The Redis connection: connect with timeouts, AUTH/SELECT, drop on error and
 * reconnect lazily with a minimum interval, so that a dead Redis costs callers
 * one failed attempt per retry interval and nothing in between.
 *
 * On a Redis Cluster (opts.cluster_nodes) the connection is the slot router
 * (store/router.h): "up" means the slot map is loaded and every primary
 * answered the last check (PING, after the router's hook loaded the
 * function library there); a command that fails on a node marks the store
 * down (logged once) and the next mqc_store_ensure, at most once per
 * retry_ms, reloads the map and checks the primaries again. Commands keep
 * going to the router while it is down: the router paces reconnects per
 * node, so the shards that answer keep working during a failover. SELECT is
 * never sent (a cluster has only database 0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store/internal.h"

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

struct mqc_store *mqc_store_new(const struct mqc_store_opts *o)
{
    struct mqc_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->host = dup_or_null(o->host ? o->host : "127.0.0.1");
    s->unix_path = dup_or_null(o->unix_path);
    s->password = dup_or_null(o->password);
    s->prefix = dup_or_null(o->prefix ? o->prefix : "mqchat:");
    s->node = dup_or_null(o->node);
    s->port = o->port ? o->port : 6379;
    s->db = o->db;
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 1000;
    s->retry_ms = o->retry_ms > 0 ? o->retry_ms : 500;
    s->timeline_cap = o->timeline_cap > 0 ? o->timeline_cap : 100000;
    s->retention_ms = o->retention_ms > 0 ? o->retention_ms : 30LL * 24 * 3600 * 1000;
    s->push_preview = o->push_preview;
    s->check_version = o->check_version;
    s->inflight_tail = &s->inflight;
    s->jobs_tail = &s->jobs;
    s->unsure = mqc_map_new();
    s->held_tail = &s->held;
    s->wait_replicas = o->wait_replicas > 0 ? o->wait_replicas : 0;
    s->cluster_nodes = dup_or_null(o->cluster_nodes);
    if (!s->host || !s->prefix || !s->unsure || (o->unix_path && !s->unix_path) ||
        (o->password && !s->password) || (o->cluster_nodes && !s->cluster_nodes)) {
        mqc_store_free(s);
        return NULL;
    }
    return s;
}

void mqc_store_free(struct mqc_store *s)
{
    if (!s)
        return;
    mqc_store__free_jobs(s);
    mqc_router_free(s->router); /* fails what it still holds (none: flushed above) */
    mqc_router_free(s->side_router);
    mqc_map_free(s->unsure); /* after the jobs: failing them may add keys */
    free(s->cluster_nodes);
    if (s->ctx)
        redisFree(s->ctx);
    if (s->side)
        redisFree(s->side);
    free(s->host);
    free(s->unix_path);
    free(s->prefix);
    free(s->node);
    free(s->hint_bits);
    free(s->hint_slots);
    if (s->password) {
        memset(s->password, 0, strlen(s->password));
        free(s->password);
    }
    free(s);
}

static const char *where(const struct mqc_store *s, char *buf, size_t size)
{
    if (s->cluster_nodes)
        snprintf(buf, size, "cluster=%s", s->cluster_nodes);
    else if (s->unix_path)
        snprintf(buf, size, "unix=%s", s->unix_path);
    else
        snprintf(buf, size, "host=%s port=%d", s->host, s->port);
    return buf;
}

void mqc_store__drop(struct mqc_store *s, const char *why)
{
    /* The batch in flight (if any) is failed by mqc_store__complete, which
     * sees the connection gone. */
    char w[160];
    snprintf(s->last_error, sizeof s->last_error, "%s", why ? why : "unknown error");
    s->cluster_up = false; /* cluster: the next ensure checks the nodes again */
    if (s->ctx) {
        redisFree(s->ctx);
        s->ctx = NULL;
    }
    if (s->was_up)
        mqc_log(MQC_LOG_ERR, "store: redis connection lost: %s (%s)", s->last_error,
                where(s, w, sizeof w));
    s->was_up = false;
}

void mqc_store__io_failed(struct mqc_store *s, const char *what)
{
    char why[160];
    snprintf(why, sizeof why, "%s", s->ctx && s->ctx->errstr[0] ? s->ctx->errstr : what);
    mqc_store__drop(s, why);
}

/* A reply that means our functions are missing (FUNCTION FLUSH, failover to
 * a fresh replica). */
static bool is_missing_function(const redisReply *r)
{
    return r->str && (strstr(r->str, "Function not found") || strstr(r->str, "NOSCRIPT"));
}

int mqc_store__refused(struct mqc_store *s, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ERROR)
        return MQC_OK;
    snprintf(s->last_error, sizeof s->last_error, "redis refused a command: %.120s",
             r->str ? r->str : "");
    mqc_log(MQC_LOG_ERR, "store: %s", s->last_error);
    if (is_missing_function(r))
        mqc_store__drop(s, "functions missing; reloading");
    return MQC_EUNAVAIL;
}

/* Run a setup command (AUTH/SELECT) on a fresh connection. */
static int setup(struct mqc_store *s, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(s->ctx, argc, argv, NULL);
    if (!r) {
        mqc_store__io_failed(s, "setup failed");
        return MQC_EUNAVAIL;
    }
    int rc = mqc_store__refused(s, r);
    freeReplyObject(r);
    if (rc != MQC_OK) {
        char why[160];
        snprintf(why, sizeof why, "%s: %.120s", argv[0], s->last_error);
        mqc_store__drop(s, why);
    }
    return rc;
}

redisContext *mqc_store__dial(const char *host, int port, const char *unix_path, int timeout_ms,
                              const char *password, char *err, size_t errlen)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = unix_path ? redisConnectUnixWithTimeout(unix_path, tv)
                                : redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "%s", c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (password) {
        const char *argv[] = {"AUTH", password};
        redisReply *r = redisCommandArgv(c, 2, argv, NULL);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "AUTH: %s", r ? r->str : c->errstr);
            if (r)
                freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    return c;
}

static int connect_now(struct mqc_store *s)
{
    char w[160];
    s->ctx = mqc_store__dial(s->host, s->port, s->unix_path, s->timeout_ms, s->password,
                             s->last_error, sizeof s->last_error);
    if (!s->ctx) {
        if (s->was_up || !s->ever_attempted)
            mqc_log(MQC_LOG_ERR, "store: cannot connect to redis: %s (%s)", s->last_error,
                    where(s, w, sizeof w));
        s->ever_attempted = true;
        s->was_up = false;
        return MQC_EUNAVAIL;
    }
    s->ever_attempted = true;
    if (s->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", s->db);
        const char *argv[] = {"SELECT", db};
        if (setup(s, 2, argv) != MQC_OK)
            return MQC_EUNAVAIL;
    }
    if (mqc_store__load_library(s) != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "store: %s (%s)", s->last_error, where(s, w, sizeof w));
        return MQC_EUNAVAIL;
    }
    if (s->check_version && mqc_store_check_version(s) != MQC_OK) {
        if (s->ctx)
            mqc_store__drop(s, s->needs_upgrade ? "store needs `mqchat store upgrade`"
                                                : "cannot check the store's version");
        return MQC_EUNAVAIL;
    }
    mqc_log(MQC_LOG_NOTICE, "store: connected to redis (%s)", where(s, w, sizeof w));
    s->was_up = true;
    s->last_error[0] = '\0';
    return MQC_OK;
}

/* A router over the cluster seeds, with the store's password and timeouts
 * and the library hook. NULL when out of memory or no valid seed. */
static struct mqc_router *new_router(const struct mqc_store *s)
{
    struct mqc_router_opts ro = {
        .seeds = s->cluster_nodes,
        .password = s->password,
        .timeout_ms = s->timeout_ms,
        .retry_ms = s->retry_ms,
        /* WAIT answers well within a command's timeout, so a slow replica
         * reads as "fewer acks", never as a dead primary */
        .wait_timeout_ms = s->timeout_ms / 2 > 0 ? s->timeout_ms / 2 : 1,
        .on_connect = mqc_store__library_hook,
    };
    return mqc_router_new(&ro);
}

/* The cluster's up check: the map (re)loaded and every primary answering
 * (PING; the router runs the library hook on a node before its first
 * command). MQC_OK or MQC_EUNAVAIL with the reason in last_error. */
static int cluster_connect(struct mqc_store *s)
{
    char w[160];
    s->ever_attempted = true;
    if (!s->router && !(s->router = new_router(s))) {
        snprintf(s->last_error, sizeof s->last_error,
                 "no valid host:port in the cluster seeds (or out of memory)");
        mqc_log(MQC_LOG_ERR, "store: %s (%s)", s->last_error, where(s, w, sizeof w));
        return MQC_EUNAVAIL;
    }
    const char *ping[] = {"PING"};
    int rc = mqc_router_refresh(s->router);
    if (rc == MQC_OK)
        rc = mqc_router_each_primary(s->router, 1, ping, NULL, NULL, NULL);
    if (rc != MQC_OK) {
        bool said = !s->was_up && s->last_error[0] &&
                    !strcmp(s->last_error, mqc_router_last_error(s->router));
        snprintf(s->last_error, sizeof s->last_error, "%s", mqc_router_last_error(s->router));
        if (!said)
            mqc_log(MQC_LOG_ERR, "store: redis cluster unavailable: %s (%s)", s->last_error,
                    where(s, w, sizeof w));
        s->was_up = false;
        return MQC_EUNAVAIL;
    }
    s->cluster_up = true; /* mqc_store__argv needs it for the version check */
    if (s->check_version && mqc_store_check_version(s) != MQC_OK) {
        mqc_store__drop(s, s->needs_upgrade ? "store needs `mqchat store upgrade`"
                                            : "cannot check the store's version");
        return MQC_EUNAVAIL;
    }
    if (!s->was_up)
        mqc_log(MQC_LOG_NOTICE, "store: connected to redis (%s)", where(s, w, sizeof w));
    s->was_up = true;
    s->last_error[0] = '\0';
    return MQC_OK;
}

int mqc_store_ensure(struct mqc_store *s, int64_t now)
{
    if (s->cluster_nodes) {
        if (s->cluster_up)
            return MQC_OK;
        if (s->ever_attempted && now - s->last_attempt_ms < s->retry_ms)
            return MQC_EUNAVAIL;
        s->last_attempt_ms = now;
        return cluster_connect(s);
    }
    if (s->ctx)
        return MQC_OK;
    if (s->ever_attempted && now - s->last_attempt_ms < s->retry_ms)
        return MQC_EUNAVAIL;
    s->last_attempt_ms = now;
    return connect_now(s);
}

bool mqc_store_is_up(const struct mqc_store *s)
{
    return s && (s->ctx || s->cluster_up);
}

bool mqc_store__cluster(const struct mqc_store *s)
{
    return s->cluster_nodes != NULL;
}

void mqc_store__router_failed(struct mqc_store *s, const char *why)
{
    char w[160];
    snprintf(s->last_error, sizeof s->last_error, "%s", why && why[0] ? why : "unavailable");
    if (s->was_up)
        mqc_log(MQC_LOG_ERR, "store: redis cluster degraded: %s (%s)", s->last_error,
                where(s, w, sizeof w));
    s->was_up = false;
    s->cluster_up = false;
}

/* One blocking command on router r (the main or the side one): the reply
 * under the one rule, or NULL. */
static redisReply *router_argv(struct mqc_store *s, struct mqc_router *r, int argc,
                               const char **argv, const size_t *lens)
{
    redisReply *rep = NULL;
    if (mqc_router_call(r, argc, argv, lens, &rep) != MQC_OK) {
        mqc_store__router_failed(s, mqc_router_last_error(r));
        if (rep)
            freeReplyObject(rep);
        return NULL;
    }
    if (!rep) {
        mqc_store__router_failed(s, "no reply");
        return NULL;
    }
    if (mqc_store__refused(s, rep) != MQC_OK) {
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

const char *mqc_store_last_error(const struct mqc_store *s)
{
    return s ? s->last_error : "";
}

/* One command's slot in mqc_store__router_pipeline. */
struct pipe_slot {
    int rc;
    redisReply *reply;
    char error[160];
};

static void pipe_done(void *ctx, struct mqc_router_result *res)
{
    struct pipe_slot *p = ctx;
    p->rc = res->rc;
    p->reply = res->reply;
    res->reply = NULL; /* taken */
    if (res->rc != MQC_OK)
        snprintf(p->error, sizeof p->error, "%s", res->error ? res->error : "unavailable");
}

int mqc_store__router_pipeline(struct mqc_store *s, int n, const int *argcs,
                               const char *const *const *argvs, const size_t *const *lens,
                               redisReply **out)
{
    int rc = MQC_OK;
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    if (!s->router)
        return MQC_EUNAVAIL;
    struct pipe_slot *p = calloc(n > 0 ? (size_t)n : 1, sizeof *p);
    if (!p)
        return MQC_ENOMEM;
    int queued = 0;
    for (; queued < n; queued++) {
        p[queued].rc = MQC_EUNAVAIL;
        if (mqc_store__args_check_slot(argcs[queued], (const char **)argvs[queued], lens[queued]) !=
                MQC_OK ||
            mqc_router_append(s->router, argcs[queued], (const char **)argvs[queued], lens[queued],
                              0, pipe_done, &p[queued]) != MQC_OK) {
            rc = MQC_EUNAVAIL;
            break;
        }
    }
    mqc_router_flush(s->router); /* every queued one answered */
    for (int i = 0; i < queued; i++) {
        if (p[i].rc != MQC_OK) {
            if (rc == MQC_OK)
                mqc_store__router_failed(s, p[i].error);
            rc = MQC_EUNAVAIL;
        } else if (!p[i].reply || mqc_store__refused(s, p[i].reply) != MQC_OK) {
            rc = MQC_EUNAVAIL;
        }
        out[i] = p[i].reply;
    }
    free(p);
    if (rc != MQC_OK)
        for (int i = 0; i < n; i++) {
            if (out[i])
                freeReplyObject(out[i]);
            out[i] = NULL;
        }
    return rc;
}

int mqc_store__cluster_pipeline(struct mqc_store *s, struct mqc_store__args *cmds, size_t n,
                                redisReply **out)
{
    int rc = n > 100000000 ? MQC_ENOMEM : MQC_OK;
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
        if (cmds[i].failed)
            rc = MQC_EBADREQ;
    }
    int *argcs = rc == MQC_OK ? malloc((n ? n : 1) * sizeof *argcs) : NULL;
    const char *const **argvs = rc == MQC_OK ? malloc((n ? n : 1) * sizeof *argvs) : NULL;
    const size_t **lens = rc == MQC_OK ? malloc((n ? n : 1) * sizeof *lens) : NULL;
    if (rc == MQC_OK && (!argcs || !argvs || !lens))
        rc = MQC_ENOMEM;
    for (size_t i = 0; rc == MQC_OK && i < n; i++) {
        argcs[i] = cmds[i].n;
        argvs[i] = (const char *const *)cmds[i].v;
        lens[i] = cmds[i].lens;
    }
    if (rc == MQC_OK)
        rc = mqc_store__router_pipeline(s, (int)n, argcs, argvs, lens, out);
    free(argcs);
    free(argvs);
    free(lens);
    for (size_t i = 0; i < n; i++)
        mqc_store__args_free(&cmds[i]);
    return rc;
}

redisReply *mqc_store__argv(struct mqc_store *s, int argc, const char **argv, const size_t *lens)
{
    if (mqc_store__args_check_slot(argc, argv, lens) != MQC_OK) {
        snprintf(s->last_error, sizeof s->last_error, "cross-slot call refused (debug check)");
        return NULL;
    }
    if (s->cluster_nodes) {
        /* the router completes what it holds first (replies in order) */
        if (!s->router) {
            if (!s->last_error[0])
                snprintf(s->last_error, sizeof s->last_error, "not connected");
            return NULL;
        }
        return router_argv(s, s->router, argc, argv, lens);
    }
    if (s->inflight)
        mqc_store__complete(s); /* replies come in order: the batch's first */
    if (!s->ctx)
        return NULL;
    redisReply *r = redisCommandArgv(s->ctx, argc, argv, lens);
    if (!r) {
        mqc_store__io_failed(s, "no reply");
        return NULL;
    }
    if (mqc_store__refused(s, r) != MQC_OK) {
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Dial the side connection (AUTH, SELECT). Quiet: the main connection's
 * errors are what the operator is told. */
static redisContext *dial_side(struct mqc_store *s)
{
    char err[160];
    redisContext *c = mqc_store__dial(s->host, s->port, s->unix_path, s->timeout_ms, s->password,
                                      err, sizeof err);
    if (c && s->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", s->db);
        const char *argv[] = {"SELECT", db};
        redisReply *r = redisCommandArgv(c, 2, argv, NULL);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            redisFree(c);
            c = NULL;
        }
        if (r)
            freeReplyObject(r);
    }
    return c;
}

redisReply *mqc_store__side_cmd(struct mqc_store *s, int argc, const char **argv)
{
    if (s->cluster_nodes) {
        /* a second router: its own connections, none of the pipeline's */
        if (!s->router)
            return NULL;
        if (!s->side_router && !(s->side_router = new_router(s)))
            return mqc_store__cmd(s, argc, argv);
        redisReply *rep = NULL;
        if (mqc_router_call(s->side_router, argc, argv, NULL, &rep) != MQC_OK || !rep) {
            if (rep)
                freeReplyObject(rep);
            return mqc_store__cmd(s, argc, argv); /* the usual way says why */
        }
        if (mqc_store__refused(s, rep) != MQC_OK) {
            freeReplyObject(rep);
            return NULL;
        }
        return rep;
    }
    if (!s->ctx)
        return NULL; /* down: the caller reports it as for any command */
    if (!s->side && !(s->side = dial_side(s)))
        return mqc_store__cmd(s, argc, argv);
    redisReply *r = redisCommandArgv(s->side, argc, argv, NULL);
    if (!r) { /* gone: the next call dials again; this one goes the usual way */
        redisFree(s->side);
        s->side = NULL;
        return mqc_store__cmd(s, argc, argv);
    }
    if (mqc_store__refused(s, r) != MQC_OK) {
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

redisReply *mqc_store__cmd(struct mqc_store *s, int argc, const char **argv)
{
    return mqc_store__argv(s, argc, argv, NULL);
}

int mqc_store__string_reply(redisReply *r, char *out, size_t size, int too_long)
{
    if (!r)
        return MQC_EUNAVAIL;
    int rc;
    if (r->type == REDIS_REPLY_NIL)
        rc = MQC_ENOTFOUND;
    else if (r->type != REDIS_REPLY_STRING)
        rc = MQC_EUNAVAIL;
    else if (r->len >= size)
        rc = too_long;
    else {
        memcpy(out, r->str, r->len);
        out[r->len] = '\0';
        rc = MQC_OK;
    }
    freeReplyObject(r);
    return rc;
}
