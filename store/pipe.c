/* Blocking pipelines (store/pipe.h): the commands of one chunk are written
 * together, then their replies read in order. On one Redis they share the
 * main connection (after the batch in flight, whose replies come first);
 * a Redis Cluster connection layer routes each command by its slot. */
#include <stdlib.h>

#include "core/err.h"
#include "store/pipe.h"

/* Commands written before their replies are read: bounds what one chunk
 * holds in the socket buffers. */
#define PIPE_CHUNK 256

static void free_out(redisReply **out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (out[i])
            freeReplyObject(out[i]);
        out[i] = NULL;
    }
}

int mqc_store__pipeline(struct mqc_store *s, struct mqc_store__args *cmds, size_t n,
                        redisReply **out)
{
    if (mqc_store__cluster(s))
        return mqc_store__cluster_pipeline(s, cmds, n, out);
    int rc = MQC_OK;
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
        if (cmds[i].failed)
            rc = MQC_EBADREQ;
    }
    if (rc == MQC_OK && s->inflight)
        mqc_store__complete(s); /* replies come in order: the batch's first */
    if (rc == MQC_OK && !s->ctx)
        rc = MQC_EUNAVAIL;
    for (size_t from = 0; rc == MQC_OK && from < n; from += PIPE_CHUNK) {
        size_t to = n - from > PIPE_CHUNK ? from + PIPE_CHUNK : n;
        for (size_t i = from; rc == MQC_OK && i < to; i++)
            if (redisAppendCommandArgv(s->ctx, cmds[i].n, (const char **)cmds[i].v, cmds[i].lens) !=
                REDIS_OK) {
                /* Part of the chunk may be buffered: the connection is out of step. */
                mqc_store__drop(s, "out of memory writing a pipeline");
                rc = MQC_EUNAVAIL;
            }
        for (size_t i = from; rc == MQC_OK && i < to; i++) {
            void *r = NULL;
            if (redisGetReply(s->ctx, &r) != REDIS_OK || !r) {
                mqc_store__io_failed(s, "no reply");
                rc = MQC_EUNAVAIL;
            } else {
                out[i] = r;
                if (mqc_store__refused(s, out[i]) != MQC_OK)
                    rc = MQC_EUNAVAIL; /* the rest of the chunk is still read */
            }
            if (rc != MQC_OK && s->ctx && i + 1 < to && out[i]) {
                /* Keep the connection in step: read what was written. */
                for (size_t k = i + 1; k < to; k++) {
                    void *rest = NULL;
                    if (redisGetReply(s->ctx, &rest) != REDIS_OK || !rest) {
                        mqc_store__io_failed(s, "no reply");
                        break;
                    }
                    freeReplyObject(rest);
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        mqc_store__args_free(&cmds[i]);
    if (rc != MQC_OK)
        free_out(out, n);
    return rc;
}
