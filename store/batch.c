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
 * connection). */
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
    j->done = done;
    j->cb = cb;
    j->ctx = ctx;
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

/* The one path of a job's reply, whichever way it was read: r (taken; NULL
 * when there is none: the connection is gone) goes to the job's callback
 * under the store's one rule for replies (mqc_store__refused). */
static void take_reply(struct mqc_store *s, struct mqc_store__job *j, redisReply *r)
{
    if (r)
        observe(s, j);
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

/* Read the replies of the batch in flight (blocking) and run its callbacks.
 * Callbacks may queue new jobs; they go to the next batch. */
void mqc_store__complete(struct mqc_store *s)
{
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
    int rc;
    do {
        rc = poll(p, n, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0)
        return WAIT_TIMEOUT;
    return p[0].revents ? WAIT_REDIS : WAIT_BROKER;
}

void mqc_store_flush_overlapped(struct mqc_store *s, int64_t now_mono_ms, const int *wake_fds,
                                size_t nwake)
{
    harvest(s);
    if (s->ninflight > MAX_INFLIGHT)
        mqc_store__complete(s); /* Redis is far behind: wait for it */
    struct mqc_store__job *list = s->jobs, *j;
    if (list) {
        s->jobs = NULL;
        s->jobs_tail = &s->jobs;
        size_t n = s->njobs;
        s->njobs = 0;
        int up = mqc_store_ensure(s, now_mono_ms) == MQC_OK;
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
    /* Wait for the replies only while the broker has nothing else to do. */
    while (s->inflight && s->ctx) {
        enum wait_result w = wait_either(s, wake_fds, nwake, s->timeout_ms);
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
    if (s->inflight)
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
    s->jobs_tail = &s->jobs;
    s->njobs = 0;
}
