/* The push bridge's side of the store (store/ is the only code that talks
 * to Redis): the push job stream read through a consumer
 * group (a job is acknowledged only after a final outcome), the delayed
 * retry set, the dead-letter stream, pending jobs of crashed consumers,
 * device lookups and removals, and the counters. One blocking hiredis
 * connection with timeouts (or, on a Redis Cluster, a slot router); when
 * Redis goes away every call fails with MQC_EUNAVAIL and the connection is
 * re-tried, the daemon never exits. On connect, the queue keys of before the
 * hash tag (<p>push, <p>push:delay) are renamed (store/push_rename.h). */
#ifndef MQC_STORE_PUSHQ_H
#define MQC_STORE_PUSHQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/payload.h"

struct mqc_pushq;

/* url, cluster_nodes and prefix borrowed (copied). cluster_nodes: the
 * "host:port" seeds of a Redis Cluster (then url gives only the password),
 * or NULL for the one Redis of url. consumer: this daemon's name in the
 * group. */
struct mqc_pushq *mqc_pushq_new(const char *url, const char *cluster_nodes, const char *prefix,
                                const char *consumer);
void mqc_pushq_free(struct mqc_pushq *q);
/* Retries and dead letters are confirmed by n replicas (WAIT) before the
 * job they come from is acknowledged (0: no WAIT, the default); fewer in
 * time is logged and goes on. */
void mqc_pushq_wait_replicas(struct mqc_pushq *q, int n);
/* Connect (again) if needed; creates the consumer group on first contact.
 * MQC_OK or MQC_EUNAVAIL. */
int mqc_pushq_ensure(struct mqc_pushq *q, int64_t now_mono_ms);
bool mqc_pushq_up(const struct mqc_pushq *q);

/* A job as read from the stream, with the retry information the bridge adds
 * when it re-queues a job for one device. */
struct mqc_queued_job {
    struct mqc_push_job job; /* job.id is the stream entry id */
    char *only_token;        /* retry for this device only, or NULL for all */
    int attempt;             /* 1 for a first try */
    int64_t first_ts;        /* when the first attempt was queued (ms) */
};
void mqc_queued_job_cleanup(struct mqc_queued_job *j);

/* Read up to max jobs: this consumer's own pending ones first (after a
 * restart), then new ones, blocking at most block_ms when there are none.
 * *out is a malloc'd array of n jobs (caller cleans each and frees). Entries
 * that cannot be parsed are dead-lettered and acknowledged here. */
int mqc_pushq_read(struct mqc_pushq *q, size_t max, int block_ms, struct mqc_queued_job **out,
                   size_t *n);
/* Claim jobs pending for longer than min_idle_ms in other (crashed)
 * consumers. Same output as mqc_pushq_read. */
int mqc_pushq_reclaim(struct mqc_pushq *q, int64_t min_idle_ms, size_t max,
                      struct mqc_queued_job **out, size_t *n);
/* Acknowledge a job (final outcome for all its devices): queued, sent by
 * the next mqc_pushq_flush (a job whose ack is lost with the daemon is sent
 * again: at least once). */
int mqc_pushq_ack(struct mqc_pushq *q, const char *id);
/* Send the queued counter increments, then the queued acks, in one
 * pipelined round trip. Call once per loop turn and before exit. MQC_OK or
 * MQC_EUNAVAIL (the acks stay queued for the next flush). */
int mqc_pushq_flush(struct mqc_pushq *q);
/* How many acks are queued for the next flush. */
size_t mqc_pushq_unflushed(const struct mqc_pushq *q);
/* Schedule a retry of job for one device at due_ms (wall clock). */
int mqc_pushq_retry(struct mqc_pushq *q, const struct mqc_queued_job *j, const char *token,
                    int attempt, int64_t due_ms);
/* Move due retries back into the job stream. */
int mqc_pushq_move_due(struct mqc_pushq *q, int64_t now_ms);
/* Put a job for one device on the dead-letter stream with a reason (why it
 * was given up) and error (the last failure's detail; borrowed, may be
 * NULL), and the attempt it failed on. */
int mqc_pushq_dead(struct mqc_pushq *q, const struct mqc_queued_job *j, const char *token,
                   const char *reason, const char *error);
/* The user's push devices. *out malloc'd array (cleanup each, free). */
int mqc_pushq_devices(struct mqc_pushq *q, const char *user, struct mqc_push_device **out,
                      size_t *n);
/* The same for n users (borrowed) in one pipelined round trip: out[i] and
 * counts[i] (arrays of n, borrowed) get user i's devices. On failure every
 * out[i] is NULL. MQC_OK, MQC_EUNAVAIL or MQC_ENOMEM. */
int mqc_pushq_devices_many(struct mqc_pushq *q, const char *const *users, size_t n,
                           struct mqc_push_device **out, size_t *counts);
/* Remove a device the push service reported dead (only if still the user's). */
int mqc_pushq_remove_device(struct mqc_pushq *q, const char *user, const char *token);
/* Add delta to counter name (in <prefix>push:stats; sent by the next
 * mqc_pushq_flush). Failures are ignored. */
void mqc_pushq_count(struct mqc_pushq *q, const char *name, long long delta);
/* Print <prefix>push:stats to f. */
int mqc_pushq_print_stats(struct mqc_pushq *q, void *file);
/* Jobs waiting (the group's lag: not yet read; pending: read, not acked;
 * and those waiting for a retry) into *n. MQC_OK or MQC_EUNAVAIL. */
int mqc_pushq_backlog(struct mqc_pushq *q, long long *n);

#endif
