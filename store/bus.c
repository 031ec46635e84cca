/* The cluster bus (see bus.h): the subscriber thread, its queue, and the
 * PUBLISH helper. On one Redis the thread SUBSCRIBEs both channels on one
 * connection (below); on a Redis Cluster it runs store/bus_shard.c instead
 * (SSUBSCRIBE on the primaries serving the channels' slots). The thread never
 * logs (mosquitto's logging is not thread-safe): it records connection
 * changes, and the broker thread reports them when it drains. */
#include "store/bus.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/slot.h"
#include "store/bus_int.h"
#include "store/internal.h"
#include "store/keys.h"
#include "store/router.h"

#define IDLE_POLL_MS 200  /* how often an idle thread checks for stop */
#define RETRY_MS 500      /* between reconnect attempts */
#define MAX_QUEUED 100000 /* beyond this, messages are dropped (sync recovers) */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void bus_free_fields(struct mqc_bus *b)
{
    while (b->head) {
        struct mqc_bus__msg *m = b->head;
        b->head = m->next;
        free(m);
    }
    free(b->host);
    free(b->unix_path);
    if (b->password) {
        memset(b->password, 0, strlen(b->password));
        free(b->password);
    }
    for (int i = 0; i < MQC_BUS__CHANS; i++)
        free(b->chan[i]);
    free(b->seeds);
    mqc_router_free(b->router);
}

void mqc_bus__set_state(struct mqc_bus *b, bool up, const char *why)
{
    pthread_mutex_lock(&b->lock);
    if (up && b->was_up_once)
        b->resubscribed = true;
    if (up)
        b->was_up_once = true;
    b->up = up;
    snprintf(b->error, sizeof b->error, "%s", why ? why : "");
    pthread_mutex_unlock(&b->lock);
}

bool mqc_bus__stopping(struct mqc_bus *b)
{
    pthread_mutex_lock(&b->lock);
    bool s = b->stop;
    pthread_mutex_unlock(&b->lock);
    return s;
}

void mqc_bus__pause(struct mqc_bus *b, int ms)
{
    for (int waited = 0; waited < ms && !mqc_bus__stopping(b); waited += 50) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

bool mqc_bus__queue(struct mqc_bus *b, const char *chan, const char *data, size_t len)
{
    bool to_all = strcmp(chan, b->chan[MQC_BUS__ALL]) == 0;
    if (!to_all && strcmp(chan, b->chan[MQC_BUS__NODE]) != 0)
        return false;
    struct mqc_bus__msg *m = malloc(sizeof *m + len + 1);
    if (!m)
        return false;
    m->next = NULL;
    m->recv_ms = mqc_clock_mono_ms();
    m->to_all = to_all;
    m->len = len;
    memcpy(m->data, data, len);
    m->data[len] = '\0';
    pthread_mutex_lock(&b->lock);
    if (b->queued >= MAX_QUEUED) {
        b->dropped++;
        pthread_mutex_unlock(&b->lock);
        free(m);
        return false;
    }
    *b->tail = m;
    b->tail = &m->next;
    b->queued++;
    pthread_mutex_unlock(&b->lock);
    return true;
}

/* One Redis: connect, AUTH and SUBSCRIBE; NULL (with the state recorded) on
 * failure. */
static redisContext *subscribe(struct mqc_bus *b)
{
    char err[160];
    redisContext *c = mqc_store__dial(b->host, b->port, b->unix_path, b->timeout_ms, b->password,
                                      err, sizeof err);
    if (!c) {
        mqc_bus__set_state(b, false, err);
        return NULL;
    }
    const char *argv[] = {"SUBSCRIBE", b->chan[MQC_BUS__NODE], b->chan[MQC_BUS__ALL]};
    if (redisAppendCommandArgv(c, 3, argv, NULL) != REDIS_OK) {
        mqc_bus__set_state(b, false, "SUBSCRIBE failed");
        redisFree(c);
        return NULL;
    }
    /* Two subscribe confirmations follow; read them like any reply. */
    for (int i = 0; i < 2; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK || !r) {
            mqc_bus__set_state(b, false, c->errstr[0] ? c->errstr : "SUBSCRIBE failed");
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    mqc_bus__set_state(b, true, NULL);
    return c;
}

/* Queue a ["message", channel, payload] reply. Returns true if queued. */
static bool queue_reply(struct mqc_bus *b, redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") ||
        r->element[1]->type != REDIS_REPLY_STRING || r->element[2]->type != REDIS_REPLY_STRING)
        return false;
    return mqc_bus__queue(b, r->element[1]->str, r->element[2]->str, r->element[2]->len);
}

/* Read messages until the connection fails or stop. After each batch (when
 * nothing more is buffered) the broker is woken once; waking it again if the
 * signal came too early is wake()'s business. */
static void listen_on(struct mqc_bus *b, redisContext *c)
{
    bool queued = false;
    while (!mqc_bus__stopping(b)) {
        void *r = NULL;
        if (redisGetReplyFromReader(c, &r) != REDIS_OK) {
            mqc_bus__set_state(b, false, c->errstr[0] ? c->errstr : "protocol error");
            return;
        }
        if (r) {
            queued |= queue_reply(b, r);
            freeReplyObject(r);
            continue;
        }
        if (queued && b->wake)
            b->wake(b->wake_ctx);
        queued = false;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int n = poll(&pfd, 1, IDLE_POLL_MS);
        if (n < 0 && errno != EINTR) {
            mqc_bus__set_state(b, false, strerror(errno));
            return;
        }
        if (n > 0 && redisBufferRead(c) != REDIS_OK) {
            mqc_bus__set_state(b, false, c->errstr[0] ? c->errstr : "connection lost");
            return;
        }
    }
}

static void *bus_thread(void *arg)
{
    struct mqc_bus *b = arg;
    /* The wake signal is for the broker thread only. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    if (b->seeds) {
        mqc_bus__run_sharded(b);
        return NULL;
    }
    while (!mqc_bus__stopping(b)) {
        redisContext *c = subscribe(b);
        if (c) {
            listen_on(b, c);
            redisFree(c);
        }
        mqc_bus__pause(b, RETRY_MS);
    }
    return NULL;
}

/* Cluster mode: the channels' slots and a router over the seeds (no I/O
 * yet; it belongs to the bus thread from its start on). MQC_OK, or
 * MQC_EBADREQ for seeds with no valid "host:port" (or out of memory). */
static int sharded_init(struct mqc_bus *b, const struct mqc_store_opts *o, int retry_ms)
{
    for (int i = 0; i < MQC_BUS__CHANS; i++)
        b->slot[i] = mqc_slot_of(b->chan[i], strlen(b->chan[i]));
    struct mqc_router_opts ro = {
        .seeds = o->cluster_nodes,
        .password = o->password,
        .timeout_ms = b->timeout_ms,
        .retry_ms = retry_ms,
        .quiet = true, /* the bus thread never logs */
    };
    b->seeds = strdup(o->cluster_nodes);
    b->router = b->seeds ? mqc_router_new(&ro) : NULL;
    return b->router ? MQC_OK : MQC_EBADREQ;
}

struct mqc_bus *mqc_bus_new(const struct mqc_store_opts *o, const char *node, mqc_bus_wake_fn wake,
                            void *wake_ctx)
{
    struct mqc_bus *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    const char *prefix = o->prefix ? o->prefix : "mqchat:";
    size_t nl = strlen(prefix) + strlen(node) + 16;
    b->host = dup_or_null(o->host ? o->host : "127.0.0.1");
    b->unix_path = dup_or_null(o->unix_path);
    b->password = dup_or_null(o->password);
    b->port = o->port ? o->port : 6379;
    b->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 1000;
    for (int i = 0; i < MQC_BUS__CHANS; i++)
        b->chan[i] = malloc(nl);
    b->wake = wake;
    b->wake_ctx = wake_ctx;
    b->tail = &b->head;
    if (!b->host || (o->unix_path && !b->unix_path) || (o->password && !b->password) ||
        !b->chan[MQC_BUS__NODE] || !b->chan[MQC_BUS__ALL] ||
        pthread_mutex_init(&b->lock, NULL) != 0) {
        bus_free_fields(b);
        free(b);
        return NULL;
    }
    snprintf(b->chan[MQC_BUS__NODE], nl, "%sbus:n:%s", prefix, node);
    snprintf(b->chan[MQC_BUS__ALL], nl, "%sbus:all", prefix);
    if ((o->cluster_nodes && sharded_init(b, o, o->retry_ms) != MQC_OK) ||
        pthread_create(&b->thread, NULL, bus_thread, b) != 0) {
        pthread_mutex_destroy(&b->lock);
        bus_free_fields(b);
        free(b);
        return NULL;
    }
    b->started = true;
    return b;
}

void mqc_bus_free(struct mqc_bus *b)
{
    if (!b)
        return;
    if (b->started) {
        pthread_mutex_lock(&b->lock);
        b->stop = true;
        pthread_mutex_unlock(&b->lock);
        pthread_join(b->thread, NULL);
    }
    pthread_mutex_destroy(&b->lock);
    bus_free_fields(b);
    free(b);
}

size_t mqc_bus_drain(struct mqc_bus *b, mqc_bus_msg_fn fn, void *ctx, bool *resubscribed)
{
    char error[160];
    bool up;
    size_t dropped;
    pthread_mutex_lock(&b->lock);
    struct mqc_bus__msg *list = b->head;
    b->head = NULL;
    b->tail = &b->head;
    b->queued = 0;
    *resubscribed = b->resubscribed;
    b->resubscribed = false;
    dropped = b->dropped;
    b->dropped = 0;
    up = b->up;
    snprintf(error, sizeof error, "%s", b->error);
    pthread_mutex_unlock(&b->lock);
    /* Report transitions only, not every failed retry. */
    if (up && !b->reported_up)
        mqc_log(MQC_LOG_NOTICE, "bus: subscribed (%s, %s%s)", b->chan[MQC_BUS__NODE],
                b->chan[MQC_BUS__ALL], b->seeds ? "; sharded pub/sub" : "");
    else if (!up && error[0] && strcmp(error, b->reported) != 0)
        mqc_log(MQC_LOG_WARNING,
                "bus: not subscribed: %s (users here get other nodes' events "
                "by sync meanwhile)",
                error);
    b->reported_up = up;
    snprintf(b->reported, sizeof b->reported, "%s", up ? "" : error);
    if (dropped)
        mqc_log(MQC_LOG_WARNING, "bus: %zu messages dropped: queue full", dropped);
    size_t n = 0;
    while (list) {
        struct mqc_bus__msg *m = list;
        list = m->next;
        fn(ctx, m->to_all, m->data, m->len, m->recv_ms);
        free(m);
        n++;
    }
    return n;
}

bool mqc_bus_up(struct mqc_bus *b)
{
    pthread_mutex_lock(&b->lock);
    bool up = b->up;
    pthread_mutex_unlock(&b->lock);
    return up;
}

static void publish_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    (void)j;
    (void)r;
    if (rc != MQC_OK)
        mqc_log(MQC_LOG_WARNING, "bus: publish failed: %s", mqc_err_str(rc));
}

/* PUBLISH on one Redis; SPUBLISH on a cluster (the router sends it to the
 * primary of the channel's slot, where the listener SSUBSCRIBEd: a plain
 * PUBLISH never reaches an SSUBSCRIBE). Every publisher of a bus channel
 * uses this verb. */
const char *mqc_store__bus_verb(const struct mqc_store *s)
{
    return s->cluster_nodes != NULL ? "SPUBLISH" : "PUBLISH";
}

const char *mqc_store__bus_script_chan(const struct mqc_store *s, char *buf, size_t size)
{
    if (s->cluster_nodes != NULL)
        return "";
    snprintf(buf, size, "%sbus:all", s->prefix);
    return buf;
}

void mqc_store__args_bus_publish(struct mqc_store__args *a, const struct mqc_store *s,
                                 const char *chan, const char *msg, size_t len)
{
    mqc_store__args_str(a, mqc_store__bus_verb(s));
    mqc_store__args_str(a, chan);
    mqc_store__args_push(a, msg, len);
}

static const char *publish_cmd(const struct mqc_store *s, size_t *len)
{
    const char *v = mqc_store__bus_verb(s);
    *len = strlen(v);
    return v;
}

int mqc_store__bus_publish_all(struct mqc_store *s, const char *msg)
{
    char chan[MQC_KEY_MAX];
    int n = snprintf(chan, sizeof chan, "%sbus:all", s->prefix);
    if (n < 0 || (size_t)n >= sizeof chan)
        return MQC_EBADREQ;
    size_t lens[3] = {0, (size_t)n, strlen(msg)};
    const char *argv[] = {publish_cmd(s, &lens[0]), chan, msg};
    return mqc_store__enqueue(s, 3, argv, lens, publish_done, NULL, NULL);
}

int mqc_store_bus_publish(struct mqc_store *s, const char *node, const char *data, size_t len)
{
    char chan[MQC_KEY_MAX];
    int n = node ? snprintf(chan, sizeof chan, "%sbus:n:%s", s->prefix, node)
                 : snprintf(chan, sizeof chan, "%sbus:all", s->prefix);
    if (n < 0 || (size_t)n >= sizeof chan)
        return MQC_EBADREQ;
    size_t lens[3] = {0, (size_t)n, len};
    const char *argv[] = {publish_cmd(s, &lens[0]), chan, data};
    return mqc_store__enqueue(s, 3, argv, lens, publish_done, NULL, NULL);
}

int mqc_store_broadcast(struct mqc_store *s, const char *event, long long *nodes)
{
    char chan[MQC_KEY_MAX];
    snprintf(chan, sizeof chan, "%sbus:all", s->prefix);
    size_t el = strlen(event);
    char *msg = malloc(el + 4);
    if (!msg)
        return MQC_ENOMEM;
    memcpy(msg, "bc\n", 3);
    memcpy(msg + 3, event, el + 1);
    size_t cl;
    const char *argv[] = {publish_cmd(s, &cl), chan, msg};
    redisReply *r = mqc_store__cmd(s, 3, argv);
    free(msg);
    if (!r)
        return MQC_EUNAVAIL;
    int rc = r->type == REDIS_REPLY_INTEGER ? MQC_OK : MQC_EUNAVAIL;
    if (rc == MQC_OK)
        *nodes = r->integer;
    freeReplyObject(r);
    return rc;
}
