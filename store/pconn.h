/* mqchat-push's Redis connection (internal to store/pushq.c, store/jobs.c,
 * store/jobs_expand.c): one blocking hiredis context on a single Redis, or
 * a slot router (store/router.h) on a Redis Cluster, behind one small API
 * with hiredis's shape: blocking calls, and a pipeline of appended commands
 * whose replies are taken back one by one in the order they were appended.
 * So the push modules have one code path for both (CLUSTER.md rule 1); on a
 * cluster every command must be single-slot (the router sends it to the
 * primary of its first key). The function library is loaded on connect
 * (single Redis) or by the router's hook on every primary. */
#ifndef MQC_STORE_PCONN_H
#define MQC_STORE_PCONN_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/redis_url.h"

struct mqc_router;

struct mqc_pconn {
    redisContext *c;           /* single Redis; NULL while down */
    struct mqc_router *router; /* cluster (kept across outages); NULL on one Redis */
    bool up;                   /* usable: connected (one Redis) or map loaded (cluster) */
    int timeout_ms;            /* per command (and connect) */
    int wait_replicas;         /* durable commands: WAIT for that many replicas (0: none) */
    /* cluster pipeline: replies in append order (NULL = failed), taken by get */
    redisReply **fifo;
    size_t head, tail, cap;
    char **fifo_err;  /* why, per failed entry (owned) */
    long long *acked; /* replicas that confirmed, per entry (-1: not asked) */
    /* one Redis: per appended command not yet read, whether it is durable
     * (a ring, ring_n entries from ring_head); the first reply asked for
     * after durable ones appends one WAIT and reads the batch into the fifo */
    unsigned char *ring;
    size_t ring_head, ring_n, ring_cap;
    size_t ring_durable; /* entries of the ring followed by the batch's WAIT */
};

/* Open (again) when down: on one Redis (url borrowed) dial, AUTH, SELECT db
 * and load the library; on a cluster (seeds non-NULL, borrowed) build the
 * router once (password from url) and load the slot map. MQC_OK, or
 * MQC_EUNAVAIL with why set. */
int mqc_pconn_open(struct mqc_pconn *p, const struct mqc_redis_url *url, const char *seeds,
                   int timeout_ms, char *why, size_t len);
/* Mark down after an error: the hiredis context is freed, pipelined replies
 * not yet taken are dropped; the router is kept (it reconnects by itself). */
void mqc_pconn_close(struct mqc_pconn *p);
/* Everything, router included. */
void mqc_pconn_free(struct mqc_pconn *p);
bool mqc_pconn_cluster(const struct mqc_pconn *p);

/* One command; returns the reply (owned; may be an error reply) or NULL
 * when it could not be run (why set; the caller closes). timeout_ms > 0:
 * this command's timeout (a BLOCK read), else the default. */
redisReply *mqc_pconn_call(struct mqc_pconn *p, int argc, const char **argv, const size_t *lens,
                           int timeout_ms, char *why, size_t len);
/* One write that must survive a failover (see mqc_pconn_append_durable):
 * the reply (owned) or NULL as mqc_pconn_call; *confirmed false when fewer
 * than wait_replicas replicas confirmed it in time. */
redisReply *mqc_pconn_call_durable(struct mqc_pconn *p, int argc, const char **argv,
                                   const size_t *lens, bool *confirmed, char *why, size_t len);
/* Queue one command of a pipeline (argv copied). MQC_OK or MQC_ENOMEM. */
int mqc_pconn_append(struct mqc_pconn *p, int argc, const char **argv, const size_t *lens);
/* The same for a write that must survive a failover (wait_replicas > 0):
 * a WAIT for that many replicas (at most timeout_ms / 4) follows it on its
 * node (the router puts one WAIT after the last such command of a send per
 * node; one Redis: one WAIT after the batch, appended when its first reply
 * is asked for). Its answer is mqc_pconn_get_acked's. */
int mqc_pconn_append_durable(struct mqc_pconn *p, int argc, const char **argv, const size_t *lens);
/* The next pipelined reply, in append order (sends what is queued first):
 * MQC_OK with *out (owned; may be an error reply), or MQC_EUNAVAIL (why
 * set; the caller closes, which drops the rest). */
int mqc_pconn_get(struct mqc_pconn *p, redisReply **out, char *why, size_t len);
/* mqc_pconn_get, and *confirmed: false when the command was appended
 * durable and fewer than wait_replicas replicas confirmed it in time (it
 * ran: the caller decides; at least once means doing it again). */
int mqc_pconn_get_acked(struct mqc_pconn *p, redisReply **out, bool *confirmed, char *why,
                        size_t len);

#endif
