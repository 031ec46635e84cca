/* The router's commands: queue, write per node, read replies per node,
 * follow redirects, and call back in submission order (see router.h). A
 * command is a job; its life: QUEUED (append, or a redirect sent it back)
 * -> INFLIGHT (written to a node, on that node's list in write order) ->
 * [WAITING (it ran; replicas asked for: until the WAIT after it answers)]
 * -> DONE (answered) -> called back once every job before it is DONE.
 * WAIT costs one replica round trip, and WAIT after each command would
 * stall a node's pipeline once per command: a send appends ONE WAIT per
 * node, after that node's last command asking for replicas, and its answer
 * counts for all of them (WAIT covers every write made before it on the
 * connection). Order: on one node's connection, jobs are written in
 * submission order: when one job for a node has to wait (backoff, its node
 * needs its hook run first), the later jobs for that node wait too; and a
 * slot's jobs move to another node (MOVED, ASK) only once none of that slot
 * is in flight on the old one, so commands of one slot (one conversation,
 * one user) run in submission order across a migration or failover. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store/internal.h"
#include "store/router_int.h"

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Add every "host:port" of seeds (separated by spaces or commas). */
static int add_seeds(struct mqc_router *r, const char *seeds)
{
    int added = 0;
    const char *p = seeds;
    while (p && *p) {
        size_t skip = strspn(p, " ,\t"), len;
        p += skip;
        len = strcspn(p, " ,\t");
        if (len == 0)
            break;
        if (mqc_router__node_parse(r, p, len) < 0)
            return -1;
        added++;
        p += len;
    }
    return added;
}

struct mqc_router *mqc_router_new(const struct mqc_router_opts *opts)
{
    struct mqc_router *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->o = *opts;
    r->o.seeds = dup_or_null(opts->seeds);
    r->o.password = dup_or_null(opts->password);
    if (r->o.timeout_ms <= 0)
        r->o.timeout_ms = 1000;
    if (r->o.retry_ms <= 0)
        r->o.retry_ms = 500;
    if (r->o.max_tries <= 0)
        r->o.max_tries = 5;
    if (r->o.wait_timeout_ms <= 0)
        r->o.wait_timeout_ms = r->o.timeout_ms;
    r->jobs_tail = &r->jobs;
    for (size_t s = 0; s < MQC_SLOTS; s++)
        r->slots[s] = -1;
    r->nodes = calloc(MQC_ROUTER_MAX_NODES, sizeof *r->nodes);
    if (!r->nodes || !r->o.seeds || (opts->password && !r->o.password) ||
        add_seeds(r, r->o.seeds) <= 0) {
        mqc_router_free(r);
        return NULL;
    }
    return r;
}

static void close_node(struct mqc_router__node *n)
{
    if (n->ctx)
        redisFree(n->ctx);
    n->ctx = NULL;
    n->hooked = false;
    n->written = false;
}

/* Everything queued is answered MQC_EUNAVAIL first (done callbacks). */
static void fail_all(struct mqc_router *r, const char *why);

void mqc_router_free(struct mqc_router *r)
{
    if (!r)
        return;
    fail_all(r, "router closed");
    for (size_t i = 0; r->nodes && i < r->nnodes; i++) {
        close_node(r->nodes[i]);
        free(r->nodes[i]->host);
        free(r->nodes[i]);
    }
    free(r->nodes);
    free((char *)r->o.seeds);
    if (r->o.password) {
        memset((char *)r->o.password, 0, strlen(r->o.password));
        free((char *)r->o.password);
    }
    free(r);
}

/* j is QUEUED again (or for the first time): first_queued stays the
 * earliest queued job. */
static void requeue(struct mqc_router *r, struct mqc_router__job *j)
{
    j->state = MQC_ROUTER__QUEUED;
    if (!r->first_queued || j->seq < r->first_queued->seq)
        r->first_queued = j;
}

int mqc_router_append(struct mqc_router *r, int argc, const char **argv, const size_t *lens,
                      int wait_replicas, mqc_router_done_fn done, void *ctx)
{
    struct mqc_router__job *j = calloc(1, sizeof *j);
    if (!j)
        return MQC_ENOMEM;
    j->len = redisFormatCommandArgv(&j->cmd, argc, argv, lens);
    if (j->len < 0) {
        free(j);
        return MQC_ENOMEM;
    }
    j->slot = mqc_router_slot_of(argc, argv, lens);
    j->seq = ++r->seq;
    requeue(r, j);
    j->node = j->ask_node = -1;
    j->wait_n = wait_replicas > 0 ? wait_replicas : 0;
    j->res.acked = -1;
    j->done = done;
    j->ctx = ctx;
    *r->jobs_tail = j;
    r->jobs_tail = &j->next;
    r->njobs++;
    return MQC_OK;
}

size_t mqc_router_pending(const struct mqc_router *r)
{
    return r ? r->njobs : 0;
}

/* j is answered: rc, why (NULL when rc is MQC_OK). */
static void settle(struct mqc_router *r, struct mqc_router__job *j, int rc, const char *why)
{
    j->state = MQC_ROUTER__DONE;
    j->res.rc = rc;
    if (rc != MQC_OK) {
        if (why != j->error)
            snprintf(j->error, sizeof j->error, "%s", why ? why : "unavailable");
        if (why != r->last_error)
            snprintf(r->last_error, sizeof r->last_error, "%s", j->error);
        j->res.error = j->error;
    }
}

/* Call back, in order, the answered jobs at the head of the list. */
static void complete_ready(struct mqc_router *r)
{
    struct mqc_router__job *j;
    while ((j = r->jobs) && j->state == MQC_ROUTER__DONE) {
        r->jobs = j->next;
        if (!r->jobs)
            r->jobs_tail = &r->jobs;
        r->njobs--;
        if (j->done)
            j->done(j->ctx, &j->res);
        if (j->res.reply)
            freeReplyObject(j->res.reply);
        redisFreeCommand(j->cmd);
        free(j);
    }
}

static void fail_all(struct mqc_router *r, const char *why)
{
    r->first_queued = NULL;
    for (size_t i = 0; r->nodes && i < r->nnodes; i++)
        if (r->nodes[i]->ninflight)
            mqc_router__node_fail(r, r->nodes[i], why);
    for (struct mqc_router__job *j = r->jobs; j; j = j->next) {
        if (j->state == MQC_ROUTER__DONE)
            continue;
        if (j->res.reply)
            freeReplyObject(j->res.reply);
        j->res.reply = NULL;
        settle(r, j, MQC_EUNAVAIL, why);
    }
    complete_ready(r);
}

/* The WAIT w (taken) answered acked, or failed (why set): its commands are
 * answered. */
static void resolve_wait(struct mqc_router *r, struct mqc_router__job *w, long long acked,
                         const char *why)
{
    for (struct mqc_router__job *j = r->jobs; j && w->waiters; j = j->next) {
        if (j->wait_on != w)
            continue;
        j->wait_on = NULL;
        w->waiters--;
        if (j->state != MQC_ROUTER__WAITING)
            continue; /* still in flight (its node fails it) or resent */
        if (why) {
            if (j->res.reply)
                freeReplyObject(j->res.reply); /* it ran; the replicas are unknown */
            j->res.reply = NULL;
            j->res.maybe_run = true;
            settle(r, j, MQC_EUNAVAIL, why);
        } else {
            j->res.acked = acked;
            settle(r, j, MQC_OK, NULL);
        }
    }
    free(w);
}

void mqc_router__node_fail(struct mqc_router *r, struct mqc_router__node *n, const char *why)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s", n->addr,
             n->ctx && n->ctx->errstr[0] ? n->ctx->errstr : why);
    if (n->ctx && !r->o.quiet)
        mqc_log(MQC_LOG_ERR, "store: redis cluster node lost: %s", msg);
    close_node(n);
    n->failed_ms = mqc_router__now_ms();
    r->stale = true;
    r->stats.conn_errors++;
    snprintf(r->last_error, sizeof r->last_error, "%s", msg);
    struct mqc_router__job *j = n->inflight, *next;
    n->inflight = NULL;
    n->inflight_tail = &n->inflight;
    n->ninflight = 0;
    for (; j; j = next) {
        next = j->node_next;
        j->node_next = NULL;
        if (j->is_wait) {
            resolve_wait(r, j, -1, msg);
            continue;
        }
        if (j->slot >= 0)
            r->slot_inflight[j->slot]--;
        if (j->res.reply) {
            freeReplyObject(j->res.reply); /* the command ran; WAIT is unknown */
            j->res.reply = NULL;
        }
        j->res.maybe_run = true;
        settle(r, j, MQC_EUNAVAIL, msg);
    }
}

/* Make n ready to carry commands as a primary: connected, hook run.
 * MQC_OK, MQC_EBUSY (its hook must wait until its replies are in) or
 * MQC_EUNAVAIL (why in r->last_error). */
static int ready(struct mqc_router *r, struct mqc_router__node *n)
{
    char err[160];
    if (!n->ctx) {
        if (n->failed_ms && mqc_router__now_ms() - n->failed_ms < r->o.retry_ms) {
            snprintf(r->last_error, sizeof r->last_error, "%s: down, retrying later", n->addr);
            return MQC_EUNAVAIL;
        }
        n->ctx = mqc_store__dial(n->host, n->port, NULL, r->o.timeout_ms, r->o.password, err,
                                 sizeof err);
        if (!n->ctx) {
            n->failed_ms = mqc_router__now_ms();
            r->stale = true;
            r->stats.conn_errors++;
            snprintf(r->last_error, sizeof r->last_error, "cannot connect to %s: %s", n->addr, err);
            return MQC_EUNAVAIL;
        }
        n->hooked = false;
    }
    if (n->hooked || !r->o.on_connect)
        return MQC_OK;
    if (n->ninflight)
        return MQC_EBUSY;
    r->stats.hooks++;
    if (r->o.on_connect(n->ctx, r->o.on_connect_ctx, err, sizeof err) != 0) {
        char why[512];
        snprintf(why, sizeof why, "setup failed: %s", err);
        mqc_router__node_fail(r, n, why);
        return MQC_EUNAVAIL;
    }
    n->hooked = true;
    return MQC_OK;
}

/* Any primary (keyless commands): the first of the map. */
static int any_primary(const struct mqc_router *r)
{
    for (size_t i = 0; i < r->nnodes; i++)
        if (r->nodes[i]->primary)
            return (int)i;
    return -1;
}

static void push_inflight(struct mqc_router *r, struct mqc_router__node *n,
                          struct mqc_router__job *j)
{
    if (!j->is_wait && j->slot >= 0) {
        r->slot_inflight[j->slot]++;
        r->slot_node[j->slot] = (int16_t)j->node;
    }
    if (!n->ninflight)
        n->io_ms = mqc_router__now_ms(); /* its replies are due from now */
    *n->inflight_tail = j;
    n->inflight_tail = &j->node_next;
    n->ninflight++;
    n->written = true;
}

/* Append j to its node's connection. */
static void dispatch(struct mqc_router *r, struct mqc_router__job *j, int64_t now)
{
    int idx = j->ask_node >= 0 ? j->ask_node : j->slot >= 0 ? r->slots[j->slot] : any_primary(r);
    if (idx < 0) {
        char why[512];
        if (!r->loaded)
            snprintf(why, sizeof why, "no redis cluster slot map: %.400s", r->last_error);
        else
            snprintf(why, sizeof why, "no redis node serves slot %d (yet)", j->slot);
        r->stale = true;
        settle(r, j, MQC_EUNAVAIL, why);
        return;
    }
    struct mqc_router__node *n = r->nodes[idx];
    if (n->blocked)
        return;
    if (j->slot >= 0 && r->slot_inflight[j->slot] && r->slot_node[j->slot] != idx)
        return; /* the slot's earlier commands are still answering elsewhere */
    if (j->not_before_ms > now) {
        n->blocked = true;
        return;
    }
    int rc = ready(r, n);
    if (rc == MQC_EBUSY) {
        n->blocked = true;
        return;
    }
    if (rc != MQC_OK) {
        settle(r, j, MQC_EUNAVAIL, r->last_error);
        return;
    }
    j->asking = j->ask_node >= 0;
    j->ask_node = -1;
    if ((j->asking && redisAppendCommand(n->ctx, "ASKING") != REDIS_OK) ||
        redisAppendFormattedCommand(n->ctx, j->cmd, (size_t)j->len) != REDIS_OK) {
        mqc_router__node_fail(r, n, "out of memory");
        settle(r, j, MQC_EUNAVAIL, "out of memory");
        return;
    }
    j->tries++;
    j->stage = 0;
    j->resend = false;
    j->node = idx;
    j->state = MQC_ROUTER__INFLIGHT;
    j->wait_on = NULL;
    if (j->wait_n > n->wait_max)
        n->wait_max = j->wait_n;
    push_inflight(r, n, j);
}

/* After a send's commands (those from `from` on): one WAIT on each node
 * where some asked for replicas, answering for every such command of this
 * send there. */
static void append_waits(struct mqc_router *r, struct mqc_router__job *from)
{
    bool any = false;
    for (size_t i = 0; i < r->nnodes; i++) {
        struct mqc_router__node *n = r->nodes[i];
        struct mqc_router__job *w = NULL;
        n->round_wait = NULL;
        if (!n->wait_max || !n->ctx)
            continue;
        if (!(w = calloc(1, sizeof *w)) || redisAppendCommand(n->ctx, "WAIT %d %d", n->wait_max,
                                                              r->o.wait_timeout_ms) != REDIS_OK) {
            free(w);
            mqc_router__node_fail(r, n, "out of memory");
            continue;
        }
        w->is_wait = true;
        w->node = (int)i;
        push_inflight(r, n, w);
        n->round_wait = w;
        any = true;
    }
    for (struct mqc_router__job *j = any ? from : NULL; j; j = j->next) {
        if (j->state == MQC_ROUTER__INFLIGHT && j->wait_n && !j->wait_on &&
            r->nodes[j->node]->round_wait) {
            j->wait_on = r->nodes[j->node]->round_wait;
            j->wait_on->waiters++;
        }
    }
}

void mqc_router_send(struct mqc_router *r)
{
    mqc_router__maybe_refresh(r);
    int64_t now = mqc_router__now_ms();
    for (size_t i = 0; i < r->nnodes; i++) {
        r->nodes[i]->blocked = false;
        r->nodes[i]->wait_max = 0;
    }
    /* Jobs before first_queued are in flight or answered. */
    struct mqc_router__job *from = r->first_queued;
    r->first_queued = NULL;
    for (struct mqc_router__job *j = from; j; j = j->next) {
        if (j->state != MQC_ROUTER__QUEUED)
            continue;
        dispatch(r, j, now);
        if (j->state == MQC_ROUTER__QUEUED && !r->first_queued)
            r->first_queued = j; /* still waiting */
    }
    append_waits(r, from);
    for (size_t i = 0; i < r->nnodes; i++) {
        struct mqc_router__node *n = r->nodes[i];
        int done = 0;
        while (n->ctx && n->written && !done) {
            if (redisBufferWrite(n->ctx, &done) != REDIS_OK)
                mqc_router__node_fail(r, n, "write failed");
        }
        n->written = false;
    }
    complete_ready(r);
}

/* The redirect in an error reply ("MOVED 3999 127.0.0.1:6381"): the node
 * index, or -1. */
static int redirect_target(struct mqc_router *r, const char *s, const struct mqc_router__node *from)
{
    const char *sp = strchr(s, ' ');
    sp = sp ? strchr(sp + 1, ' ') : NULL;
    if (!sp)
        return -1;
    const char *addr = sp + 1;
    size_t len = strcspn(addr, " \r\n");
    if (len > 0 && addr[0] == ':') { /* the node's own host: unknown endpoint */
        char buf[300];
        snprintf(buf, sizeof buf, "%s%.*s", from->host, (int)len, addr);
        return mqc_router__node_parse(r, buf, strlen(buf));
    }
    return mqc_router__node_parse(r, addr, len);
}

static bool starts(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

/* The command's own reply (taken). Redirects mark j for resending. */
static void command_reply(struct mqc_router *r, struct mqc_router__node *n,
                          struct mqc_router__job *j, redisReply *rep)
{
    int64_t backoff = 0;
    int target = -1;
    if (rep->type != REDIS_REPLY_ERROR || !rep->str) {
        j->res.reply = rep;
        return;
    }
    if (starts(rep->str, "MOVED ")) {
        r->stats.moved++;
        target = redirect_target(r, rep->str, n);
        if (target >= 0 && j->slot >= 0)
            r->slots[j->slot] = (int16_t)target;
        r->stale = true;
    } else if (starts(rep->str, "ASK ")) {
        r->stats.ask++;
        target = redirect_target(r, rep->str, n);
        j->ask_node = target;
    } else if (starts(rep->str, "TRYAGAIN")) {
        r->stats.tryagain++;
        r->stale = true;
        backoff = 20LL * j->tries;
    } else if (starts(rep->str, "CLUSTERDOWN")) {
        r->stats.clusterdown++;
        r->stale = true;
        backoff = 50LL * j->tries;
    } else if ((strstr(rep->str, "Function not found") || starts(rep->str, "NOSCRIPT")) &&
               r->o.on_connect && !j->rehooked) {
        n->hooked = false; /* a node without our library: load it, resend once */
        j->rehooked = true;
    } else {
        j->res.reply = rep; /* the command's own error: the caller's */
        return;
    }
    bool redirect = starts(rep->str, "MOVED ") || starts(rep->str, "ASK ");
    if (redirect && target < 0) {
        snprintf(j->error, sizeof j->error, "bad redirect: %.150s", rep->str);
    } else if (j->tries >= r->o.max_tries) {
        snprintf(j->error, sizeof j->error, "gave up after %d tries: %.150s", j->tries, rep->str);
        j->res.moving = redirect || starts(rep->str, "TRYAGAIN");
    } else {
        j->resend = true;
        j->not_before_ms = backoff ? mqc_router__now_ms() + backoff : 0;
    }
    freeReplyObject(rep);
}

/* One reply (taken) read from n: it belongs to the oldest job in flight
 * there (replies come in write order). */
static void take(struct mqc_router *r, struct mqc_router__node *n, redisReply *rep)
{
    struct mqc_router__job *j = n->inflight;
    if (!j) { /* a reply nobody asked for: the stream is out of step */
        freeReplyObject(rep);
        mqc_router__node_fail(r, n, "unexpected reply");
        return;
    }
    if (j->asking && j->stage == 0) { /* ASKING's +OK: the command's is next */
        freeReplyObject(rep);
        j->stage = 1;
        return;
    }
    n->inflight = j->node_next;
    if (!n->inflight)
        n->inflight_tail = &n->inflight;
    n->ninflight--;
    j->node_next = NULL;
    if (!j->is_wait && j->slot >= 0)
        r->slot_inflight[j->slot]--;
    if (j->is_wait) {
        resolve_wait(r, j, rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1, NULL);
        freeReplyObject(rep);
        return;
    }
    command_reply(r, n, j, rep);
    if (j->res.reply && j->wait_on && j->res.reply->type != REDIS_REPLY_ERROR) {
        j->state = MQC_ROUTER__WAITING; /* it wrote: answered with the WAIT */
        return;
    }
    if (j->wait_on) { /* nothing written (redirect, error reply): no WAIT */
        j->wait_on->waiters--;
        j->wait_on = NULL;
    }
    if (j->resend)
        requeue(r, j);
    else if (j->res.reply)
        settle(r, j, MQC_OK, NULL);
    else
        settle(r, j, MQC_EUNAVAIL, j->error);
}

/* Take every complete reply already read from n. */
static void drain(struct mqc_router *r, struct mqc_router__node *n)
{
    while (n->ctx && n->ninflight) {
        void *rep = NULL;
        if (redisGetReplyFromReader(n->ctx, &rep) != REDIS_OK) {
            mqc_router__node_fail(r, n, "protocol error");
            return;
        }
        if (!rep)
            return;
        take(r, n, rep);
    }
}

/* Wait up to timeout_ms for replies, read them. Returns false when the wait
 * timed out with nothing read. */
static bool read_some(struct mqc_router *r, int timeout_ms)
{
    struct pollfd p[MQC_ROUTER_MAX_NODES];
    size_t who[MQC_ROUTER_MAX_NODES], np = 0;
    for (size_t i = 0; i < r->nnodes; i++) {
        struct mqc_router__node *n = r->nodes[i];
        if (n->ctx && n->ninflight) {
            p[np] = (struct pollfd){.fd = n->ctx->fd, .events = POLLIN};
            who[np++] = i;
        }
    }
    if (!np)
        return true;
    int rc;
    do {
        rc = poll(p, np, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0)
        return false;
    for (size_t k = 0; k < np; k++) {
        struct mqc_router__node *n = r->nodes[who[k]];
        if (!p[k].revents || !n->ctx)
            continue;
        n->io_ms = mqc_router__now_ms();
        if (redisBufferRead(n->ctx) != REDIS_OK)
            mqc_router__node_fail(r, n, "read failed");
        else
            drain(r, n);
    }
    return true;
}

static bool any_queued(const struct mqc_router *r)
{
    return r->first_queued != NULL;
}

/* A node that has commands in flight and has sent nothing for longer than a
 * command may take (timeout + WAIT's timeout) is hung: fail it, as a
 * blocking read would time out. */
static void expire(struct mqc_router *r)
{
    int64_t now = mqc_router__now_ms(), limit = r->o.timeout_ms + r->o.wait_timeout_ms;
    for (size_t i = 0; i < r->nnodes; i++) {
        struct mqc_router__node *n = r->nodes[i];
        if (n->ninflight && now - n->io_ms > limit)
            mqc_router__node_fail(r, n, "timed out waiting for replies");
    }
}

void mqc_router_harvest(struct mqc_router *r, int timeout_ms)
{
    (void)read_some(r, timeout_ms);
    expire(r);
    complete_ready(r);
    if (any_queued(r))
        mqc_router_send(r); /* redirected ones, and those that waited */
}

size_t mqc_router_fds(const struct mqc_router *r, int *fds, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < r->nnodes && k < max; i++)
        if (r->nodes[i]->ctx && r->nodes[i]->ninflight)
            fds[k++] = r->nodes[i]->ctx->fd;
    return k;
}

static bool any_inflight(const struct mqc_router *r)
{
    for (size_t i = 0; i < r->nnodes; i++)
        if (r->nodes[i]->ninflight)
            return true;
    return false;
}

/* The earliest backoff among queued jobs, in ms from now (0: none). */
static int next_due(const struct mqc_router *r)
{
    int64_t now = mqc_router__now_ms(), due = 0;
    for (const struct mqc_router__job *j = r->jobs; j; j = j->next)
        if (j->state == MQC_ROUTER__QUEUED && j->not_before_ms > now &&
            (!due || j->not_before_ms < due))
            due = j->not_before_ms;
    return due ? (int)(due - now) : 0;
}

void mqc_router_flush(struct mqc_router *r)
{
    mqc_router_send(r);
    while (r->njobs) {
        if (any_inflight(r)) {
            (void)read_some(r, r->o.timeout_ms + r->o.wait_timeout_ms);
            expire(r);
        } else {
            int ms = next_due(r);
            if (ms > 0)
                poll(NULL, 0, ms);
        }
        complete_ready(r);
        if (any_queued(r))
            mqc_router_send(r);
    }
}

struct call_result {
    int rc;
    redisReply *reply;
};

static void call_done(void *ctx, struct mqc_router_result *res)
{
    struct call_result *c = ctx;
    c->rc = res->rc;
    c->reply = res->reply;
    res->reply = NULL; /* taken */
}

int mqc_router_call(struct mqc_router *r, int argc, const char **argv, const size_t *lens,
                    redisReply **reply)
{
    struct call_result c = {MQC_EUNAVAIL, NULL};
    *reply = NULL;
    if (mqc_router_append(r, argc, argv, lens, 0, call_done, &c) != MQC_OK) {
        snprintf(r->last_error, sizeof r->last_error, "out of memory");
        return MQC_ENOMEM;
    }
    mqc_router_flush(r);
    *reply = c.reply;
    return c.rc;
}

int mqc_router_each_primary(struct mqc_router *r, int argc, const char **argv, const size_t *lens,
                            void (*fn)(const char *addr, int rc, const redisReply *reply,
                                       void *ctx),
                            void *ctx)
{
    int rc = MQC_OK;
    if (r->njobs)
        mqc_router_flush(r);
    mqc_router__maybe_refresh(r);
    if (!r->loaded)
        return MQC_EUNAVAIL;
    for (size_t i = 0; i < r->nnodes; i++) {
        struct mqc_router__node *n = r->nodes[i];
        if (!n->primary)
            continue;
        redisReply *rep = NULL;
        int one = ready(r, n);
        if (one == MQC_OK) {
            rep = redisCommandArgv(n->ctx, argc, argv, lens);
            if (!rep)
                mqc_router__node_fail(r, n, "no reply");
            one = !rep || rep->type == REDIS_REPLY_ERROR ? MQC_EUNAVAIL : MQC_OK;
        }
        if (one != MQC_OK)
            rc = MQC_EUNAVAIL;
        if (fn)
            fn(n->addr, rep ? MQC_OK : MQC_EUNAVAIL, rep, ctx);
        if (rep)
            freeReplyObject(rep);
    }
    return rc;
}

void mqc_router_get_stats(const struct mqc_router *r, struct mqc_router_stats *st)
{
    *st = r->stats;
}

const char *mqc_router_last_error(const struct mqc_router *r)
{
    return r ? r->last_error : "";
}
