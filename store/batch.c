/* The per-pass pipeline. Operations are queued as formatted commands while
 * the broker handles a pass's socket events; mqc_store_flush() (called from
 * the tick event) writes them all at once, so a pass costs one round trip to
 * Redis however many messages it carried. Replies are collected as they
 * arrive: a flush waits for them only while the broker has nothing else to
 * do, so while Redis works on pass N's batch the broker already reads pass
 * N+1's packets, and several batches may be in flight. Order is kept: Redis
 * runs the functions in the order they were written, replies come back in
 * that order, and callbacks run in that order. Any blocking command first
 * completes everything in flight (replies arrive in order on one
 * connection).
 *
 * wait_replicas (single Redis): a flush appends one WAIT after the batch's
 * last job that asks for replicas; the replies from the first such job to
 * the WAIT are held and handed out, in order, when the WAIT answers (its
 * count is every held job's acked). On a Redis Cluster the same jobs go to
 * the slot router (mqc_router_append/send/harvest), which keeps submission
 * order across nodes and does the WAIT per node; replies come back through
 * the same one path (take_reply) and round-trip hook. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "store/internal.h"

/* Jobs in flight beyond which a flush waits for Redis (backpressure). */
#define MAX_INFLIGHT 20000

int mqc_store__enqueue(struct mqc_store *s, int argc, const char **argv, const size_t *lens,
                       void (*done)(struct mqc_store__job *, int, redisReply *), void *cb,
                       void *ctx)
{
    struct mqc_store__job *j = calloc(1, sizeof *j);
    if (!j)
        return MQC_ENOMEM;
    j->len = redisFormatCommandArgv(&j->cmd, argc, argv, lens);
    if (j->len < 0) {
        free(j);
        return MQC_ENOMEM;
    }
    if (mqc_store__args_check_slot(argc, argv, lens) != MQC_OK) {
        redisFreeCommand(j->cmd);
        free(j);
        return MQC_EINTERNAL;
    }
    j->done = done;
    j->cb = cb;
    j->ctx = ctx;
    j->acked = -1;
    j->store = s;
    if (!s->jobs_tail)
        s->jobs_tail = &s->jobs;
    *s->jobs_tail = j;
    s->jobs_tail = &j->next;
    s->njobs++;
    s->last_job = j;
    return MQC_OK;
}

size_t mqc_store_queued(const struct mqc_store *s)
{
    return s ? s->njobs : 0;
}

size_t mqc_store_pending(const struct mqc_store *s)
{
    return s ? s->njobs + s->ninflight : 0;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void mqc_store_set_rtt_hook(struct mqc_store *s, void (*fn)(double, void *), void *ctx)
{
    s->rtt_hook = fn;
    s->rtt_ctx = ctx;
}

/* Report the round trip of j, whose reply has just been read. */
static void observe(struct mqc_store *s, const struct mqc_store__job *j)
{
    if (s->rtt_hook && j->sent_ns)
        s->rtt_hook((double)(now_ns() - j->sent_ns) / 1e9, s->rtt_ctx);
}

/* Run j's callback and free j. Returns whether the callback took r. */
static bool finish(struct mqc_store__job *j, int rc, redisReply *r)
{
    j->done(j, rc, r);
    bool kept = r && j->keep_reply;
    redisFreeCommand(j->cmd);
    free(j);
    return kept;
}

/* RESP "*N\r\n$len\r\n<bytes>\r\n..." as written by
 * redisFormatCommandArgv (cmd borrowed): *argv and *lens (malloc'd; the
 * strings point into cmd) and the count, or -1 (out of memory, or not our
 * format). */
static int split_cmd(const char *cmd, long long len, const char ***argv, size_t **lens)
{
    const char *p = cmd, *end = cmd + len;
    char *e;
    if (p >= end || *p != '*')
        return -1;
    long n = strtol(p + 1, &e, 10);
    if (n <= 0 || n > 1000000 || e + 2 > end)
        return -1;
    p = e + 2;
    const char **v = malloc((size_t)n * sizeof *v);
    size_t *l = malloc((size_t)n * sizeof *l);
    if (!v || !l)
        goto bad;
    for (long i = 0; i < n; i++) {
        if (p >= end || *p != '$')
            goto bad;
        long k = strtol(p + 1, &e, 10);
        if (k < 0 || e + 2 + k + 2 > end)
            goto bad;
        v[i] = e + 2;
        l[i] = (size_t)k;
        p = e + 2 + k + 2;
    }
    *argv = v;
    *lens = l;
    return (int)n;
bad:
    free(v);
    free(l);
    return -1;
}

static void deliver(struct mqc_store *s, struct mqc_store__job *j, redisReply *r);

/* The router's answer for job ctx: the one reply path. */
static void routed(void *ctx, struct mqc_router_result *res)
{
    struct mqc_store__job *j = ctx;
    struct mqc_store *s = j->store;
    s->ninflight--;
    j->acked = res->acked;
    if (res->rc == MQC_OK) {
        redisReply *r = res->reply;
        res->reply = NULL; /* taken */
        j->maybe_run = true;
        observe(s, j);
        deliver(s, j, r);
        return;
    }
    j->maybe_run = res->maybe_run;
    if (res->moving) /* a slot in migration, the cluster fine: that command only */
        snprintf(s->last_error, sizeof s->last_error, "%s", res->error);
    else
        mqc_store__router_failed(s, res->error);
    finish(j, MQC_EUNAVAIL, NULL);
}

/* Cluster: hand the batch list (taken) to the router and send it. */
static void route_batch(struct mqc_store *s, struct mqc_store__job *list, int64_t now_mono_ms)
{
    struct mqc_store__job *j;
    if (!s->router)
        (void)mqc_store_ensure(s, now_mono_ms); /* first use: the map */
    else if (!s->cluster_up)
        (void)mqc_store_ensure(s, now_mono_ms); /* paced: the nodes again */
    int64_t sent = now_ns();
    while ((j = list)) {
        list = j->next;
        j->next = NULL;
        const char **argv = NULL;
        size_t *lens = NULL;
        int argc = s->router ? split_cmd(j->cmd, j->len, &argv, &lens) : -1;
        j->sent_ns = sent;
        if (argc < 0 ||
            mqc_router_append(s->router, argc, argv, lens, j->wait, routed, j) != MQC_OK) {
            j->maybe_run = false;
            finish(j, MQC_EUNAVAIL, NULL);
        } else {
            s->ninflight++;
        }
        free(argv);
        free(lens);
    }
    if (s->router)
        mqc_router_send(s->router);
}

/* Cluster: wait for the router's replies while the broker has nothing else
 * to do (at most the timeouts of a command and its WAIT). */
static void route_wait(struct mqc_store *s, const int *wake_fds, size_t nwake)
{
    int64_t deadline = now_ns() / 1000000 + 2LL * s->timeout_ms;
    while (s->router && mqc_router_pending(s->router)) {
        struct pollfd p[64];
        int fds[48];
        size_t n = mqc_router_fds(s->router, fds, 48), k = 0;
        for (size_t i = 0; i < n; i++)
            p[k++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        size_t first_wake = k;
        for (size_t i = 0; i < nwake && k < 64; i++)
            p[k++] = (struct pollfd){.fd = wake_fds[i], .events = POLLIN};
        int64_t left = deadline - now_ns() / 1000000;
        if (left <= 0) {
            mqc_router_flush(s->router); /* the router times out hung nodes */
            return;
        }
        /* nothing in flight: queued jobs in backoff; look again shortly */
        int ms = n ? (int)left : 10;
        int rc = poll(p, k, ms);
        if (rc < 0 && errno == EINTR) {
            /* The waker's signal (plugin/wake.c): the bus thread has events
             * from other nodes for this broker. Back to the loop: waiting on
             * here (a migration keeps commands in backoff, the router
             * pending) held them for seconds. */
            mqc_router_harvest(s->router, 0);
            return;
        }
        for (size_t i = first_wake; rc > 0 && i < k; i++)
            if (p[i].revents) {
                mqc_router_harvest(s->router, 0);
                return; /* the broker has work */
            }
        mqc_router_harvest(s->router, 0);
    }
}

/* The one path of a job's reply, whichever way it was read: r (taken; NULL
 * when there is none: the connection is gone) goes to the job's callback
 * under the store's one rule for replies (mqc_store__refused). */
static void deliver(struct mqc_store *s, struct mqc_store__job *j, redisReply *r)
{
    if (r && j->soft && r->type == REDIS_REPLY_ERROR) {
        j->maybe_run = false;
        if (!finish(j, MQC_EUNAVAIL, r)) /* the job handles it (e.g. a function not loaded yet) */
            freeReplyObject(r);
        return;
    }
    int rc = r ? mqc_store__refused(s, r) : MQC_EUNAVAIL;
    if (r && rc != MQC_OK)
        j->maybe_run = false; /* Redis refused it: it did not run */
    if (!finish(j, rc, rc == MQC_OK ? r : NULL) && r)
        freeReplyObject(r);
}

/* The WAIT (single Redis) answered r (taken; NULL: no answer): every held
 * job gets its count, then its reply, in order. */
static void release_held(struct mqc_store *s, redisReply *r)
{
    long long acked = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r)
        freeReplyObject(r);
    if (s->waits_due > 0)
        s->waits_due--;
    struct mqc_store__job *list = s->held, *j;
    s->held = NULL;
    s->held_tail = &s->held;
    while ((j = list)) {
        list = j->next;
        redisReply *jr = j->held_reply;
        j->held_reply = NULL;
        if (j->wait > 0)
            j->acked = acked;
        deliver(s, j, jr);
    }
}

/* A job's reply as read from the connection, in order: held while a WAIT
 * after it is due, else delivered. */
static void take_reply(struct mqc_store *s, struct mqc_store__job *j, redisReply *r)
{
    if (r)
        observe(s, j);
    if (j->is_wait) {
        redisFreeCommand(j->cmd);
        free(j); /* ours: no callback */
        release_held(s, r);
        return;
    }
    if (s->held || (j->wait > 0 && s->waits_due > 0)) {
        j->held_reply = r;
        j->next = NULL;
        *s->held_tail = j;
        s->held_tail = &j->next;
        return;
    }
    deliver(s, j, r);
}

/* Queue one WAIT after the batch list's last job asking for replicas (single
 * Redis). Returns how many jobs it added: 1, or 0 when none asks (or out of
 * memory: those jobs then read as "no replica confirmed"). */
static size_t add_wait(struct mqc_store *s, struct mqc_store__job *list)
{
    struct mqc_store__job *last = NULL;
    int most = 0;
    for (struct mqc_store__job *j = list; j; j = j->next) {
        if (j->wait > 0) {
            last = j;
            most = j->wait > most ? j->wait : most;
        }
    }
    if (!last)
        return 0;
    struct mqc_store__job *w = calloc(1, sizeof *w);
    char n[16], ms[16];
    snprintf(n, sizeof n, "%d", most);
    snprintf(ms, sizeof ms, "%d", s->timeout_ms / 2 > 0 ? s->timeout_ms / 2 : 1);
    const char *argv[] = {"WAIT", n, ms};
    if (w)
        w->len = redisFormatCommandArgv(&w->cmd, 3, argv, NULL);
    if (!w || w->len < 0) {
        free(w);
        for (struct mqc_store__job *j = list; j; j = j->next)
            if (j->wait > 0) {
                j->wait = 0;
                j->acked = 0;
            }
        return 0;
    }
    w->is_wait = true;
    w->store = s;
    w->next = last->next;
    last->next = w;
    s->waits_due++;
    return 1;
}

/* Read the replies of the batch in flight (blocking) and run its callbacks.
 * Callbacks may queue new jobs; they go to the next batch. */
void mqc_store__complete(struct mqc_store *s)
{
    if (s->router)
        mqc_router_flush(s->router);
    struct mqc_store__job *list = s->inflight, *j;
    s->inflight = NULL;
    s->inflight_tail = &s->inflight;
    s->ninflight = 0;
    while ((j = list)) {
        list = j->next;
        redisReply *r = NULL;
        if (s->ctx && redisGetReply(s->ctx, (void **)&r) != REDIS_OK) {
            mqc_store__io_failed(s, "no reply");
            r = NULL;
        }
        take_reply(s, j, r);
    }
}

/* Write the whole output buffer (blocking socket with a timeout). */
static int write_all(struct mqc_store *s)
{
    int done = 0;
    while (!done) {
        if (redisBufferWrite(s->ctx, &done) != REDIS_OK) {
            mqc_store__io_failed(s, "write failed");
            return MQC_EUNAVAIL;
        }
    }
    return MQC_OK;
}

/* Take the oldest job in flight off the list. */
static struct mqc_store__job *pop_inflight(struct mqc_store *s)
{
    struct mqc_store__job *j = s->inflight;
    if (j) {
        s->inflight = j->next;
        if (!s->inflight)
            s->inflight_tail = &s->inflight;
        s->ninflight--;
    }
    return j;
}

/* Run the callbacks of every job whose reply has already arrived, without
 * blocking. */
static void harvest(struct mqc_store *s)
{
    while (s->inflight && s->ctx) {
        void *reply = NULL;
        if (redisGetReplyFromReader(s->ctx, &reply) != REDIS_OK) {
            mqc_store__io_failed(s, "protocol error");
            break;
        }
        if (!reply) {
            struct pollfd p = {.fd = s->ctx->fd, .events = POLLIN};
            if (poll(&p, 1, 0) <= 0)
                return;
            if (redisBufferRead(s->ctx) != REDIS_OK) {
                mqc_store__io_failed(s, "read failed");
                break;
            }
            continue;
        }
        take_reply(s, pop_inflight(s), reply);
    }
    if (s->inflight && !s->ctx)
        mqc_store__complete(s); /* connection gone: fail the rest */
}

enum wait_result { WAIT_REDIS, WAIT_BROKER, WAIT_TIMEOUT };

/* Wait until Redis has data for us or one of wake_fds is readable (the
 * broker has work), at most timeout_ms. */
static enum wait_result wait_either(struct mqc_store *s, const int *wake_fds, size_t nwake,
                                    int timeout_ms)
{
    struct pollfd p[9];
    size_t n = 0;
    p[n++] = (struct pollfd){.fd = s->ctx->fd, .events = POLLIN};
    for (size_t i = 0; i < nwake && n < 9; i++)
        p[n++] = (struct pollfd){.fd = wake_fds[i], .events = POLLIN};
    int rc = poll(p, n, timeout_ms);
    if (rc < 0 && errno == EINTR)
        return WAIT_BROKER; /* the waker's signal (plugin/wake.c): bus events to deliver */
    if (rc <= 0)
        return WAIT_TIMEOUT;
    return p[0].revents ? WAIT_REDIS : WAIT_BROKER;
}

/* Write every queued job to Redis (single Redis) and put it in flight,
 * without waiting for a reply. On failure the jobs in flight and these are
 * failed (their callbacks run). */
static void send_queued_single(struct mqc_store *s, int64_t now_mono_ms)
{
    struct mqc_store__job *list = s->jobs, *j;
    if (list) {
        s->jobs = NULL;
        s->jobs_tail = &s->jobs;
        size_t n = s->njobs;
        s->njobs = 0;
        int up = mqc_store_ensure(s, now_mono_ms) == MQC_OK;
        if (up && s->wait_replicas > 0)
            n += add_wait(s, list);
        int64_t sent = now_ns();
        for (j = list; up && j; j = j->next) {
            j->maybe_run = true;
            j->sent_ns = sent;
            if (redisAppendFormattedCommand(s->ctx, j->cmd, (size_t)j->len) != REDIS_OK) {
                mqc_store__drop(s, "cannot queue command");
                up = 0;
            }
        }
        if (up && write_all(s) != MQC_OK)
            up = 0;
        if (!up) {
            /* Nothing of this batch reached Redis (or the connection broke):
             * fail what was in flight and this batch alike. */
            *s->inflight_tail = list;
            s->ninflight += n;
            mqc_store__complete(s);
            return;
        }
        *s->inflight_tail = list;
        while (*s->inflight_tail)
            s->inflight_tail = &(*s->inflight_tail)->next;
        s->ninflight += n;
    }
}

void mqc_store__send_queued(struct mqc_store *s, int64_t now_mono_ms)
{
    if (!s->cluster_nodes) {
        send_queued_single(s, now_mono_ms);
        return;
    }
    struct mqc_store__job *list = s->jobs;
    if (list) {
        s->jobs = NULL;
        s->jobs_tail = &s->jobs;
        s->njobs = 0;
        route_batch(s, list, now_mono_ms);
    }
}

void mqc_store_flush_overlapped(struct mqc_store *s, int64_t now_mono_ms, const int *wake_fds,
                                size_t nwake)
{
    if (s->cluster_nodes) {
        if (s->router)
            mqc_router_harvest(s->router, 0);
        if (s->router && s->ninflight > MAX_INFLIGHT)
            mqc_router_flush(s->router);
        mqc_store__send_queued(s, now_mono_ms);
        route_wait(s, wake_fds, nwake);
        return;
    }
    harvest(s);
    if (s->ninflight > MAX_INFLIGHT)
        mqc_store__complete(s); /* Redis is far behind: wait for it */
    mqc_store__send_queued(s, now_mono_ms);
    /* Wait for the replies only while the broker has nothing else to do. */
    while (s->inflight && s->ctx) {
        enum wait_result w =
            wait_either(s, wake_fds, nwake, s->timeout_ms + (s->wait_replicas ? s->timeout_ms : 0));
        if (w == WAIT_BROKER)
            return;
        if (w == WAIT_TIMEOUT) {
            mqc_store__drop(s, "timed out waiting for replies");
            break;
        }
        harvest(s);
    }
    if (s->inflight)
        mqc_store__complete(s);
}

void mqc_store_flush(struct mqc_store *s, int64_t now_mono_ms)
{
    mqc_store_flush_overlapped(s, now_mono_ms, NULL, 0);
    if (s->inflight || (s->router && mqc_router_pending(s->router)))
        mqc_store__complete(s);
}

void mqc_store__free_jobs(struct mqc_store *s)
{
    struct mqc_store__job *j;
    if (s->inflight)
        mqc_store__complete(s);
    while ((j = s->jobs)) {
        s->jobs = j->next;
        finish(j, MQC_EUNAVAIL, NULL);
    }
    if (s->held)
        release_held(s, NULL);
    s->jobs_tail = &s->jobs;
    s->njobs = 0;
}
