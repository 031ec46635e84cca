/* The Redis Cluster slot router (internal to store/): a set of hiredis
 * connections, one per primary, and the slot map that says which primary
 * serves each of the 16384 slots. A command goes to the primary of the slot
 * of its first key (core/slot.h); keyless commands go to any primary.
 *
 * Two ways to use it, on one router:
 * - pipelined, the shape of store/batch.c: mqc_router_append() queues
 *   commands, mqc_router_send() writes every node's share at once (one write
 *   per node), mqc_router_harvest() reads what has arrived (or waits up to a
 *   timeout) and runs the callbacks in SUBMISSION order, whatever node
 *   answered first; mqc_router_flush() is send + harvest until nothing is
 *   left;
 * - blocking: mqc_router_call() runs one command (the CLI, the bridge).
 *
 * Cluster behaviour handled here, invisible to callers but for the errors:
 * MOVED (the map entry is fixed, the command resent to the named node, the
 * whole map reloaded before the next send), ASK (ASKING + the command on the
 * named node, once), TRYAGAIN and CLUSTERDOWN (resent after a short backoff,
 * at most max_tries sends in all), "function not found" (the on_connect hook
 * is run again on that node, then resent once). Order: one slot's commands
 * run in submission order, also across MOVED/ASK (a slot's commands go to a
 * new node only once none is in flight on the old one). Callbacks must not
 * call mqc_router_call, _flush or _each_primary (other replies may still be
 * unread); they may append. A connection error fails the
 * commands on that connection with MQC_EUNAVAIL (maybe_run set when they
 * had been written: a write may have happened) and reloads the map before
 * the next send, at most once per retry_ms: during a failover callers see
 * MQC_EUNAVAIL until the cluster has promoted a replica, then the router
 * finds the new primary by itself. Single-threaded: one thread owns a
 * router. */
#ifndef MQC_STORE_ROUTER_H
#define MQC_STORE_ROUTER_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mqc_router;

struct mqc_router_opts {
    /* Seed nodes "host:port", separated by spaces or commas (borrowed,
     * copied). Any one reachable node is enough to load the map. */
    const char *seeds;
    const char *password; /* AUTH on every connection, or NULL (copied) */
    int timeout_ms;       /* connect and every command (default 1000) */
    int retry_ms;         /* least time between map reloads and between
                           * reconnects to one node (default 500) */
    int max_tries;        /* sends per command, redirects included (default 5) */
    int wait_timeout_ms;  /* the timeout given to WAIT (default timeout_ms) */
    bool quiet;           /* never log (a router owned by a thread that must not:
                           * mosquitto's logging is broker thread only); the
                           * reasons stay in mqc_router_last_error */
    /* Run on a connection before it first carries commands as a primary's
     * (a new node, a replica promoted by a failover, after "function not
     * found"): the store loads its function library here. Returns 0 or the
     * reason in err; c is borrowed. May be NULL. */
    int (*on_connect)(redisContext *c, void *ctx, char *err, size_t errlen);
    void *on_connect_ctx;
};

/* What a command came to. */
struct mqc_router_result {
    int rc;            /* MQC_OK (reply set, possibly an error reply that is
                        * not a cluster redirect) or MQC_EUNAVAIL */
    redisReply *reply; /* borrowed for the callback; the callback may take it
                        * (set reply to NULL, then free it with
                        * freeReplyObject), else it is freed after */
    long long acked;   /* replicas that acknowledged (WAIT), -1 not asked */
    bool maybe_run;    /* MQC_EUNAVAIL after it was written: it may have run */
    bool moving;       /* MQC_EUNAVAIL after max_tries of TRYAGAIN, ASK or MOVED:
                        * its slot is being migrated; the cluster answers (not
                        * an outage: nothing to reconnect or re-check) */
    const char *error; /* why, when rc != MQC_OK (borrowed, valid in the
                        * callback only) */
};

typedef void (*mqc_router_done_fn)(void *ctx, struct mqc_router_result *res);

/* A router over opts->seeds; no connection is opened yet. NULL when out of
 * memory or when seeds holds no valid "host:port". Owned: mqc_router_free. */
struct mqc_router *mqc_router_new(const struct mqc_router_opts *opts);
/* Fail every queued command (MQC_EUNAVAIL), close every connection. NULL is
 * fine. */
void mqc_router_free(struct mqc_router *r);

/* Load the slot map now (CLUSTER SHARDS, or CLUSTER SLOTS on a server
 * without it) from the first node that answers: known primaries, then the
 * other known nodes, then the seeds. MQC_OK or MQC_EUNAVAIL (the old map is
 * kept). */
int mqc_router_refresh(struct mqc_router *r);

/* Queue argv (copied; lens NULL: NUL-terminated strings) for the next send.
 * wait_replicas > 0: the send that writes it appends one WAIT on that node
 * after the last such command of the send (the most replicas any of them
 * asked for); its answer, for every one of them, is res->acked (fewer than
 * asked: the replicas did not confirm within wait_timeout_ms; the caller
 * decides, the write has happened). done(ctx, res)
 * runs exactly once, during a later send/harvest/flush (or _free).
 * MQC_OK, or MQC_ENOMEM (done is then not called). */
int mqc_router_append(struct mqc_router *r, int argc, const char **argv, const size_t *lens,
                      int wait_replicas, mqc_router_done_fn done, void *ctx);
/* Write every queued command that can go now to its node (one write per
 * node). Commands whose node cannot be reached are answered MQC_EUNAVAIL. */
void mqc_router_send(struct mqc_router *r);
/* Read the replies that have arrived, waiting at most timeout_ms (0: only
 * what is there) for the first, resend redirected commands and run the
 * callbacks that are due, in submission order. */
void mqc_router_harvest(struct mqc_router *r, int timeout_ms);
/* Send, then harvest until every queued command is answered. */
void mqc_router_flush(struct mqc_router *r);
/* Commands queued or in flight. */
size_t mqc_router_pending(const struct mqc_router *r);
/* The sockets with replies to come, for the caller's poll() (at most max
 * written to fds); returns how many. */
size_t mqc_router_fds(const struct mqc_router *r, int *fds, size_t max);

/* Run one command (after completing everything queued). Returns MQC_OK with
 * *reply (owned: freeReplyObject; an error reply that is not a redirect is
 * returned as it is) or MQC_EUNAVAIL with the reason in
 * mqc_router_last_error. */
int mqc_router_call(struct mqc_router *r, int argc, const char **argv, const size_t *lens,
                    redisReply **reply);

/* Run argv on every primary of the map (FUNCTION LOAD, FUNCTION LIST,
 * INFO): fn(addr, rc, reply, ctx) per primary, addr "host:port" and reply
 * borrowed (NULL unless rc is MQC_OK). Returns MQC_OK when every primary
 * answered without an error reply, else MQC_EUNAVAIL. */
int mqc_router_each_primary(struct mqc_router *r, int argc, const char **argv, const size_t *lens,
                            void (*fn)(const char *addr, int rc, const redisReply *reply,
                                       void *ctx),
                            void *ctx);

/* The primary serving slot now ("host:port", borrowed until the next call),
 * or NULL when the map has none. */
const char *mqc_router_node_of(struct mqc_router *r, unsigned slot);
/* The slot argv is routed by: that of its first key, or -1 for a keyless
 * command (any primary). Knows FCALL/FCALL_RO/EVAL/EVALSHA (numkeys) and
 * XREAD/XREADGROUP (STREAMS). */
int mqc_router_slot_of(int argc, const char **argv, const size_t *lens);

/* Counters, for tests and metrics. */
struct mqc_router_stats {
    uint64_t moved, ask, tryagain, clusterdown, refreshes, conn_errors, hooks;
};
void mqc_router_get_stats(const struct mqc_router *r, struct mqc_router_stats *st);
const char *mqc_router_last_error(const struct mqc_router *r);

#endif
