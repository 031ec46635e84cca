/* Shared between the files of store/: the connection struct and the command
 * helpers. Not for use outside store/. */
#ifndef MQC_STORE_INTERNAL_H
#define MQC_STORE_INTERNAL_H

#include <hiredis/hiredis.h>

#include "core/map.h"

#include "store/router.h"

#include "store/store.h"

struct mqc_store {
    redisContext *ctx;  /* NULL while down */
    redisContext *side; /* login reads that must not wait for the pipeline; NULL = none yet */
    char *host, *unix_path, *password, *prefix;
    char *node; /* this broker's node id (cluster routes), or NULL */
    int port, db, timeout_ms, retry_ms;
    long timeline_cap;
    int64_t retention_ms;
    bool push_preview;
    bool check_version; /* refuse a store that needs `mqchat store upgrade` */
    bool needs_upgrade; /* the last check found one */
    int64_t last_attempt_ms;
    bool ever_attempted;
    bool was_up; /* for logging transitions once */
    char last_error[160];
    struct mqc_store__job *jobs, **jobs_tail; /* queued for the next flush */
    struct mqc_store__job *last_job;          /* the newest queued (mqc_store__enqueue) */
    size_t njobs;
    struct mqc_store__job *inflight, **inflight_tail; /* written, replies not read yet */
    size_t ninflight;
    /* "conv\nsender\nid" of sends answered MQC_EUNAVAIL after they were
     * written to Redis: Redis may have stored them although nobody was told
     * (the reply was lost with the connection). A later attempt that finds
     * one stored reports it with announce set; any answer from Redis for
     * the key forgets it. */
    struct mqc_map *unsure;
    /* Slots with events stored since the last mqc_store_hints_flush
     * (store/hint.c): a bitmap and the list in arrival order. */
    unsigned char *hint_bits;
    unsigned *hint_slots;
    size_t nhints;
    bool unread_missing_logged;                  /* mqc2_unread absent: said once */
    void (*rtt_hook)(double seconds, void *ctx); /* mqc_store_set_rtt_hook */
    void *rtt_ctx;
    /* mqc_store_set_member_step_hook (tests only; store/member.c) */
    void (*member_step_hook)(const char *conv, void *ctx);
    void *member_step_ctx;
    /* Redis Cluster (opts.cluster_nodes): ctx and side stay NULL; the
     * pipeline and blocking calls go through router, login reads through
     * side_router (its own connections). cluster_up: the map is loaded and
     * the last ensure found the nodes answering. */
    char *cluster_nodes;
    struct mqc_router *router, *side_router;
    bool cluster_up;
    int wait_replicas;
    /* Single Redis with wait_replicas: replies of the batch held until the
     * WAIT after them answers (store/batch.c), in submission order. */
    struct mqc_store__job *held, **held_tail;
    int waits_due; /* WAITs written whose answer has not been read */
};

/* A queued command: the formatted RESP text and what to do with the reply.
 * done() runs during flush with rc MQC_OK and the reply (borrowed), or with
 * MQC_EUNAVAIL and NULL when Redis could not be asked. done() may queue new
 * jobs but must not run blocking commands: more replies of its batch may
 * still be unread on the connection. */
struct mqc_store__job {
    struct mqc_store__job *next;
    char *cmd; /* from redisFormatCommandArgv */
    long long len;
    int64_t sent_ns; /* monotonic time it was written to Redis (round trips) */
    void (*done)(struct mqc_store__job *job, int rc, redisReply *reply);
    void *cb, *ctx;          /* the caller's callback and its argument */
    bool keep_reply;         /* set by done(): it took the reply (frees it with
                              * freeReplyObject) */
    bool soft;               /* an error reply goes to done() as is (rc MQC_EUNAVAIL, reply
                              * given), without the one rule's logging and reconnect */
    bool maybe_run;          /* handed to a live connection and not refused by Redis: on
                              * MQC_EUNAVAIL, Redis may still have run it */
    int wait;                /* > 0: WAIT for that many replicas before done() (set
                              * by the submitter right after queueing) */
    long long acked;         /* replicas that acknowledged (WAIT), -1 not asked */
    bool is_wait;            /* the WAIT the store appended itself (single Redis) */
    redisReply *held_reply;  /* the reply, until the WAIT after it answers */
    struct mqc_store *store; /* the store it belongs to (router callbacks) */
    bool nowait;             /* nobody waits for its reply (a job hint sent at the end of
                              * a tick): not counted as backlog */
};

/* Connect to Redis (unix_path wins over host/port) with timeout_ms for the
 * connect and every command, and AUTH when password is set. Returns the
 * context (owned: redisFree) or NULL with the reason in err. */
redisContext *mqc_store__dial(const char *host, int port, const char *unix_path, int timeout_ms,
                              const char *password, char *err, size_t errlen);
/* Queue argv (copied) as a job. MQC_OK or MQC_ENOMEM (then done is not called). */
/* Write every queued job and put it in flight without waiting for replies
 * (store/batch.c); on failure their callbacks run with MQC_EUNAVAIL. */
void mqc_store__send_queued(struct mqc_store *s, int64_t now_mono_ms);
int mqc_store__enqueue(struct mqc_store *s, int argc, const char **argv, const size_t *lens,
                       void (*done)(struct mqc_store__job *, int, redisReply *), void *cb,
                       void *ctx);
/* Command builder (store/args.c). */
struct mqc_store__args {
    char **v;
    size_t *lens;
    int n, cap;
    int failed;
};
void mqc_store__args_push(struct mqc_store__args *a, const char *s, size_t len);
void mqc_store__args_str(struct mqc_store__args *a, const char *s);
/* Start "FCALL <function> <nkeys>". */
void mqc_store__args_fcall(struct mqc_store__args *a, const char *function, size_t nkeys);
void mqc_store__args_fmt(struct mqc_store__args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mqc_store__args_conv_key(struct mqc_store__args *a, struct mqc_store *s, const char *conv,
                              const char *part);
void mqc_store__args_user_key(struct mqc_store__args *a, struct mqc_store *s, const char *user,
                              const char *part);
void mqc_store__args_free(struct mqc_store__args *a);
/* Queue the built command; frees the builder either way. MQC_EBADREQ if any
 * step failed. */
int mqc_store__submit(struct mqc_store *s, struct mqc_store__args *a,
                      void (*done)(struct mqc_store__job *, int, redisReply *), void *cb,
                      void *ctx);

/* Queue a built send-like call (mqc2_send, mqc2_relate; the builder is freed
 * either way) whose reply is post-shaped: dedupe by (conv, sender, id)
 * with the "unsure" bookkeeping of store/conv.c; hint: the call writes a
 * job when it stores an event (its slot goes into the next hint). */
int mqc_store__submit_send(struct mqc_store *s, struct mqc_store__args *a, const char *conv,
                           const char *sender, const char *id, bool hint, mqc_store_post_cb cb,
                           void *ctx);

/* The stored events r->element[from..] as borrowed strings and lengths
 * (*events and *lens malloc'd, the caller frees both; a non-string element,
 * which Redis never sends here, reads as "{}"). MQC_OK or MQC_ENOMEM. */
int mqc_store__event_list(const redisReply *r, size_t from, const char ***events, size_t **lens,
                          size_t *n);
/* The error code of a function's error word ("not_member", "forbidden",
 * "not_found", "exists"); MQC_EINTERNAL for any other word. */
int mqc_store__error_word(const char *word);

/* Read the replies of the batch in flight and run its callbacks. */
void mqc_store__complete(struct mqc_store *s);
/* Fail every queued job with MQC_EUNAVAIL (store shutdown). */
void mqc_store__free_jobs(struct mqc_store *s);
/* Note that conv (len bytes, borrowed) got a stored event (its slot goes into the next hint). */
void mqc_store__hint(struct mqc_store *s, const char *conv, size_t len);
/* Load the function library on a fresh connection (store/lib.c). */
int mqc_store__load_library(struct mqc_store *s);
/* The same on a bare connection c (borrowed; mqchat-push's): MQC_OK, or
 * MQC_EUNAVAIL with the reason in why (the caller drops the connection). */
int mqc_store__load_library_ctx(redisContext *c, char *why, size_t len);
/* The same on connection c (borrowed): the slot router's on_connect hook
 * (store/router.h), so every primary of a Redis Cluster has the library,
 * also one promoted by a failover. 0 (MQC_OK) or MQC_EUNAVAIL with the
 * reason in err. ctx is unused. */
int mqc_store__library_hook(redisContext *c, void *ctx, char *err, size_t errlen);

/* The one rule for what Redis answers, blocking or pipelined (hiredis: a
 * status, then a reply):
 * - no reply (hiredis failed: its errstr says why): mqc_store__io_failed
 *   drops the connection (what is used when errstr is empty);
 * - an error reply (LOADING, OOM, READONLY, a script error): Redis refused
 *   the command; mqc_store__refused logs it, keeps it as the last error and
 *   returns MQC_EUNAVAIL (MQC_OK for any other reply); one saying our
 *   functions are missing also drops the connection, which reloads them. */
void mqc_store__io_failed(struct mqc_store *s, const char *what);
int mqc_store__refused(struct mqc_store *s, const redisReply *r);

/* Run one command given as argv. Returns the reply (caller frees with
 * freeReplyObject) or NULL when the connection failed or Redis refused the
 * command (the rule above): the reason is in mqc_store_last_error. */
redisReply *mqc_store__argv(struct mqc_store *s, int argc, const char **argv, const size_t *lens);
/* Run one read-only command on the side connection (dialled on first use),
 * which never waits for the batch in flight on the main one; falls back to
 * mqc_store__cmd when the side connection cannot be had. Same contract as
 * mqc_store__cmd. */
redisReply *mqc_store__side_cmd(struct mqc_store *s, int argc, const char **argv);
/* Convenience over __argv for NUL-terminated string arguments. */
redisReply *mqc_store__cmd(struct mqc_store *s, int argc, const char **argv);

/* The string reply r (taken: freed here; NULL = Redis unavailable) copied
 * into out (size bytes, NUL-terminated): MQC_OK; MQC_ENOTFOUND for a nil;
 * too_long when it does not fit; MQC_EUNAVAIL for no reply or another type. */
int mqc_store__string_reply(redisReply *r, char *out, size_t size, int too_long);

/* SCAN the keys "<prefix><suffix>" (suffix a glob pattern; the prefix is
 * matched literally) with blocking calls, fn(key, len, ctx) on each (key
 * borrowed for the call); fn's error stops the walk and is returned.
 * MQC_OK, MQC_EUNAVAIL, or fn's error. store/scan.c. */
int mqc_store__scan(struct mqc_store *s, const char *suffix,
                    int (*fn)(const char *key, size_t len, void *ctx), void *ctx);
/* Drop the connection after an I/O or protocol error (logs why). */
void mqc_store__drop(struct mqc_store *s, const char *why);
/* Cluster: run n commands (argcs[i], argvs[i], lens[i] borrowed; lens[i]
 * may be NULL) through the router in one go (each node's share in one
 * write), blocking until all are answered. out[i] gets reply i (owned:
 * freeReplyObject). MQC_OK when every command got a reply that is not an
 * error (the one rule above); otherwise every out[i] is NULL and the result
 * is MQC_EUNAVAIL (reason in last_error) or MQC_ENOMEM. For blocking
 * pipelines (a store/pipe.c-style caller on a cluster). */
int mqc_store__router_pipeline(struct mqc_store *s, int n, const int *argcs,
                               const char *const *const *argvs, const size_t *const *lens,
                               redisReply **out);
/* The same for n built commands (each freed here, whatever happens), with
 * the contract of store/pipe.c's mqc_store__pipeline (MQC_EBADREQ when a
 * builder failed): that function's cluster branch is
 *     if (mqc_store__cluster(s))
 *         return mqc_store__cluster_pipeline(s, cmds, n, out);
 * at its top. */
int mqc_store__cluster_pipeline(struct mqc_store *s, struct mqc_store__args *cmds, size_t n,
                                redisReply **out);
/* Whether s runs on a Redis Cluster (the slot router). */
bool mqc_store__cluster(const struct mqc_store *s);
/* The bus's publishers (store/bus.c): every message on a bus channel goes
 * out with this verb, PUBLISH on one Redis, SPUBLISH on a cluster (the
 * brokers SSUBSCRIBE there, store/bus_shard.c, and never see a PUBLISH; the
 * router sends SPUBLISH to the primary of the channel's slot). */
const char *mqc_store__bus_verb(const struct mqc_store *s);
/* Append "<verb> chan msg" (msg len bytes) to a. */
void mqc_store__args_bus_publish(struct mqc_store__args *a, const struct mqc_store *s,
                                 const char *chan, const char *msg, size_t len);
/* Queue msg (a NUL-terminated text) on "<prefix>bus:all". MQC_OK or an error. */
int mqc_store__bus_publish_all(struct mqc_store *s, const char *msg);
/* The bus channel a function publishes on itself (one Redis: "<prefix>bus:all"
 * written to buf): "" on a cluster, where a function cannot SPUBLISH to a
 * channel outside its keys' slot, and the caller publishes after it. */
const char *mqc_store__bus_script_chan(const struct mqc_store *s, char *buf, size_t size);
/* Cluster: a command could not be run on a node (why borrowed): the store
 * reads as down (logged once) until the next mqc_store_ensure finds every
 * primary answering again. */
void mqc_store__router_failed(struct mqc_store *s, const char *why);
/* The debug check of CLUSTER.md rule 5 (store/args.c): with MQC_CHECK_SLOTS
 * defined, an FCALL/FCALL_RO whose KEYS are not all in one slot is refused
 * (MQC_EINTERNAL, logged once per function name) unless its function is on
 * the allow-list of calls still being split; without it, always MQC_OK.
 * argv/lens borrowed (lens NULL: NUL-terminated). */
int mqc_store__args_check_slot(int argc, const char **argv, const size_t *lens);

#endif
