/* The per-pass pipeline. Operations are queued as formatted commands while
 * the broker handles a pass's socket events; mqc_store_flush() (called from
 * the tick event) writes them all at once and reads the replies in order, so
 * a pass costs one round trip to Redis however many messages it carried.
 * Order is kept: Redis runs the queued functions in the order they were
 * queued, and callbacks run in that order too. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store/internal.h"

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
    return MQC_OK;
}

size_t mqc_store_pending(const struct mqc_store *s)
{
    return s ? s->njobs : 0;
}

static void finish(struct mqc_store__job *j, int rc, redisReply *r)
{
    j->done(j, rc, r);
    redisFreeCommand(j->cmd);
    free(j);
}

/* A reply that means our functions are missing (FUNCTION FLUSH, failover to
 * a fresh replica): reconnect, which reloads them. */
static int is_missing_function(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && r->str &&
           (strstr(r->str, "Function not found") || strstr(r->str, "NOSCRIPT"));
}

void mqc_store_flush(struct mqc_store *s, int64_t now_mono_ms)
{
    struct mqc_store__job *list = s->jobs, *j;
    if (!list)
        return;
    s->jobs = NULL;
    s->jobs_tail = &s->jobs;
    s->njobs = 0;

    int up = mqc_store_ensure(s, now_mono_ms) == MQC_OK;
    for (j = list; up && j; j = j->next) {
        if (redisAppendFormattedCommand(s->ctx, j->cmd, (size_t)j->len) != REDIS_OK) {
            mqc_store__drop(s, "cannot queue command");
            up = 0;
        }
    }
    while ((j = list)) {
        list = j->next;
        redisReply *r = NULL;
        if (up && redisGetReply(s->ctx, (void **)&r) != REDIS_OK) {
            mqc_store__drop(s, s->ctx->errstr[0] ? s->ctx->errstr : "no reply");
            up = 0;
            r = NULL;
        }
        if (!up) {
            finish(j, MQC_EUNAVAIL, NULL);
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR)
            mqc_log(MQC_LOG_ERR, "store: redis refused a command: %.200s", r->str);
        int missing = is_missing_function(r);
        finish(j, r->type == REDIS_REPLY_ERROR ? MQC_EUNAVAIL : MQC_OK,
               r->type == REDIS_REPLY_ERROR ? NULL : r);
        freeReplyObject(r);
        if (missing) {
            mqc_store__drop(s, "functions missing; reloading");
            up = 0;
        }
    }
}

void mqc_store__free_jobs(struct mqc_store *s)
{
    struct mqc_store__job *j;
    while ((j = s->jobs)) {
        s->jobs = j->next;
        finish(j, MQC_EUNAVAIL, NULL);
    }
    s->jobs_tail = &s->jobs;
    s->njobs = 0;
}
