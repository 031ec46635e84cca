/* The cluster bus (see bus.h): the subscriber thread, its queue, and the
 * PUBLISH helper. The thread never logs (mosquitto's logging is not
 * thread-safe): it records connection changes, and the broker thread reports
 * them when it drains. */
#include "store/bus.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "store/internal.h"
#include "store/keys.h"

#define IDLE_POLL_MS 200  /* how often an idle thread checks for stop */
#define RETRY_MS 500      /* between reconnect attempts */
#define MAX_QUEUED 100000 /* beyond this, messages are dropped (sync recovers) */

struct msg {
    struct msg *next;
    bool to_all;
    int64_t recv_ms;
    size_t len;
    char data[];
};

struct mqc_bus {
    char *host, *unix_path, *password;
    int port, timeout_ms;
    char *chan_node, *chan_all;
    mqc_bus_wake_fn wake;
    void *wake_ctx;

    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    /* Under lock: */
    struct msg *head, **tail;
    size_t queued, dropped;
    bool stop, up, resubscribed, was_up_once;
    char error[160];
    /* Broker thread only: what drain last reported. */
    bool reported_up;
    char reported[160];
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void bus_free_fields(struct mqc_bus *b)
{
    while (b->head) {
        struct msg *m = b->head;
        b->head = m->next;
        free(m);
    }
    free(b->host);
    free(b->unix_path);
    if (b->password) {
        memset(b->password, 0, strlen(b->password));
        free(b->password);
    }
    free(b->chan_node);
    free(b->chan_all);
}

static void set_state(struct mqc_bus *b, bool up, const char *why)
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

static bool stopping(struct mqc_bus *b)
{
    pthread_mutex_lock(&b->lock);
    bool s = b->stop;
    pthread_mutex_unlock(&b->lock);
    return s;
}

/* Connect, AUTH and SUBSCRIBE; NULL (with the state recorded) on failure. */
static redisContext *subscribe(struct mqc_bus *b)
{
    char err[160];
    redisContext *c = mqc_store__dial(b->host, b->port, b->unix_path, b->timeout_ms, b->password,
                                      err, sizeof err);
    if (!c) {
        set_state(b, false, err);
        return NULL;
    }
    const char *argv[] = {"SUBSCRIBE", b->chan_node, b->chan_all};
    if (redisAppendCommandArgv(c, 3, argv, NULL) != REDIS_OK) {
        set_state(b, false, "SUBSCRIBE failed");
        redisFree(c);
        return NULL;
    }
    /* Two subscribe confirmations follow; read them like any reply. */
    for (int i = 0; i < 2; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK || !r) {
            set_state(b, false, c->errstr[0] ? c->errstr : "SUBSCRIBE failed");
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    set_state(b, true, NULL);
    return c;
}

/* Queue a ["message", channel, payload] reply. Returns true if queued. */
static bool queue_reply(struct mqc_bus *b, redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") ||
        r->element[1]->type != REDIS_REPLY_STRING || r->element[2]->type != REDIS_REPLY_STRING)
        return false;
    redisReply *p = r->element[2];
    struct msg *m = malloc(sizeof *m + p->len + 1);
    if (!m)
        return false;
    m->next = NULL;
    m->recv_ms = mqc_clock_mono_ms();
    m->to_all = strcmp(r->element[1]->str, b->chan_all) == 0;
    m->len = p->len;
    memcpy(m->data, p->str, p->len);
    m->data[p->len] = '\0';
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

/* Read messages until the connection fails or stop. After each batch (when
 * nothing more is buffered) the broker is woken once; waking it again if the
 * signal came too early is wake()'s business. */
static void listen_on(struct mqc_bus *b, redisContext *c)
{
    bool queued = false;
    while (!stopping(b)) {
        void *r = NULL;
        if (redisGetReplyFromReader(c, &r) != REDIS_OK) {
            set_state(b, false, c->errstr[0] ? c->errstr : "protocol error");
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
            set_state(b, false, strerror(errno));
            return;
        }
        if (n > 0 && redisBufferRead(c) != REDIS_OK) {
            set_state(b, false, c->errstr[0] ? c->errstr : "connection lost");
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
    while (!stopping(b)) {
        redisContext *c = subscribe(b);
        if (c) {
            listen_on(b, c);
            redisFree(c);
        }
        for (int waited = 0; waited < RETRY_MS && !stopping(b); waited += 50) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
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
    b->chan_node = malloc(nl);
    b->chan_all = malloc(nl);
    b->wake = wake;
    b->wake_ctx = wake_ctx;
    b->tail = &b->head;
    if (!b->host || (o->unix_path && !b->unix_path) || (o->password && !b->password) ||
        !b->chan_node || !b->chan_all || pthread_mutex_init(&b->lock, NULL) != 0) {
        bus_free_fields(b);
        free(b);
        return NULL;
    }
    snprintf(b->chan_node, nl, "%sbus:n:%s", prefix, node);
    snprintf(b->chan_all, nl, "%sbus:all", prefix);
    if (pthread_create(&b->thread, NULL, bus_thread, b) != 0) {
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
    struct msg *list = b->head;
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
        mqc_log(MQC_LOG_NOTICE, "bus: subscribed (%s, %s)", b->chan_node, b->chan_all);
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
        struct msg *m = list;
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

int mqc_store_bus_publish(struct mqc_store *s, const char *node, const char *data, size_t len)
{
    char chan[MQC_KEY_MAX];
    int n = node ? snprintf(chan, sizeof chan, "%sbus:n:%s", s->prefix, node)
                 : snprintf(chan, sizeof chan, "%sbus:all", s->prefix);
    if (n < 0 || (size_t)n >= sizeof chan)
        return MQC_EBADREQ;
    const char *argv[] = {"PUBLISH", chan, data};
    size_t lens[] = {7, (size_t)n, len};
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
    const char *argv[] = {"PUBLISH", chan, msg};
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
