/* Shared between store/router.c (commands, redirects) and
 * store/router_map.c (nodes, the slot map). Not for use outside them. */
#ifndef MQC_STORE_ROUTER_INT_H
#define MQC_STORE_ROUTER_INT_H

#include <stdint.h>

#include "core/slot.h"
#include "store/router.h"

/* Most nodes a router knows (seeds, primaries, redirect targets). */
#define MQC_ROUTER_MAX_NODES 256

/* One Redis node. Jobs name it by its index in r->nodes, which never
 * changes: nodes are added, never removed. */
struct mqc_router__node {
    char *host;
    int port;
    char addr[280];                     /* "host:port" */
    redisContext *ctx;                  /* NULL until needed, or after an error */
    bool hooked;                        /* on_connect ran on ctx */
    bool primary;                       /* serves slots in the current map */
    bool written;                       /* commands appended to ctx, not yet written */
    bool blocked;                       /* send: a job for this node had to wait (keeps order) */
    int wait_max;                       /* send: most replicas asked for by this send's jobs */
    struct mqc_router__job *round_wait; /* send: the WAIT it appended here */
    int64_t failed_ms;                  /* last connect or I/O failure (reconnects wait retry_ms) */
    int64_t io_ms;                      /* last write to an idle connection, or read */
    struct mqc_router__job *inflight, **inflight_tail; /* written, in order */
    size_t ninflight;
};

/* WAITING: the command ran; its answer waits for the WAIT sent after the
 * last command of the same send on the same node. */
enum { MQC_ROUTER__QUEUED, MQC_ROUTER__INFLIGHT, MQC_ROUTER__WAITING, MQC_ROUTER__DONE };

/* A command from append to its callback; or (is_wait) the one WAIT a send
 * appends on a node after its commands that asked for replicas: then only
 * on that node's inflight list, never on r->jobs. */
struct mqc_router__job {
    struct mqc_router__job *next;      /* submission order (r->jobs) */
    struct mqc_router__job *node_next; /* its node's inflight list */
    char *cmd;                         /* redisFormatCommandArgv */
    long long len;
    int slot;                        /* -1: keyless */
    int state;                       /* MQC_ROUTER__* */
    int node;                        /* where it was written */
    int ask_node;                    /* ASK target for the next send, or -1 */
    int tries;                       /* sends so far */
    int wait_n;                      /* replicas to wait for, when > 0 */
    bool is_wait;                    /* this is a node's WAIT, not a caller's command */
    size_t waiters;                  /* is_wait: commands it answers for, not yet answered */
    uint64_t seq;                    /* submission order */
    struct mqc_router__job *wait_on; /* the WAIT that answers for it */
    bool asking;                     /* ASKING was written before it */
    bool resend;                     /* its reply was a redirect: send it again */
    bool rehooked;                   /* "function not found" made its node run the hook again */
    int stage;                       /* replies read of this send (ASKING, command) */
    int64_t not_before_ms;           /* backoff (TRYAGAIN, CLUSTERDOWN) */
    struct mqc_router_result res;
    char error[512];
    mqc_router_done_fn done;
    void *ctx;
};

struct mqc_router {
    struct mqc_router_opts o; /* seeds and password are copies */
    struct mqc_router__node **nodes;
    size_t nnodes;
    int16_t slots[MQC_SLOTS]; /* node index serving each slot, or -1 */
    /* Commands of each slot in flight, and the node they are on: a slot's
     * commands go to another node only once none is in flight there (so
     * one resent after MOVED/ASK still runs before the later ones). */
    uint32_t slot_inflight[MQC_SLOTS];
    int16_t slot_node[MQC_SLOTS];
    bool loaded;                               /* a map was ever loaded */
    bool stale;                                /* reload before the next send */
    int64_t refreshed_ms;                      /* last reload attempt */
    struct mqc_router__job *jobs, **jobs_tail; /* not yet called back */
    struct mqc_router__job *first_queued;      /* earliest QUEUED job, or NULL */
    uint64_t seq;                              /* of the last job appended */
    size_t njobs;
    struct mqc_router_stats stats;
    char last_error[512];
};

/* Monotonic milliseconds. */
int64_t mqc_router__now_ms(void);
/* The index of the node host:port (host: len bytes, borrowed), added when
 * new; -1 when the table is full or out of memory. */
int mqc_router__node_add(struct mqc_router *r, const char *host, size_t len, int port);
/* Parse "host:port" (len bytes) and add it; -1 when malformed. */
int mqc_router__node_parse(struct mqc_router *r, const char *addr, size_t len);
/* Close node's connection after an error (why: borrowed): its commands in
 * flight are answered MQC_EUNAVAIL (maybe_run) or queued again when their
 * reply was a redirect; the map is reloaded before the next send. */
void mqc_router__node_fail(struct mqc_router *r, struct mqc_router__node *n, const char *why);
/* Reload the map when it is stale or was never loaded, at most once per
 * retry_ms (the first time always). */
void mqc_router__maybe_refresh(struct mqc_router *r);

#endif
