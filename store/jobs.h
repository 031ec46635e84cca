/* Lazy fan-out, the deferred half (issue #15, docs/ARCHITECTURE.md): the
 * broker writes ONE job per stored msg / member event into the job stream of
 * the conversation's key slot ("<p>{<slot tag>}:jobs", store/keys.h) and
 * publishes the slot number on "<p>jobs" as a hint. mqchat-push consumes
 * those streams here: hinted slots at once, every slot in a sweep at start
 * and every 30 s (the hints are not durable), entries left pending by dead
 * bridges after a minute. Each job is expanded: its recipients
 * (mqc2_recipients, conversation slot) plus the users who stopped being
 * members with it, then per batch of users mqc3_expand (user slots: the
 * max-based unread counters, presence, mute, devices), then one push job per
 * user to push on "<p>{push}" in the format store/pushq.c reads (a batch's
 * run of msg jobs of one conversation expanded once, the pushes decided
 * per job: store/jobs_expand.c); only then is
 * the slot job acknowledged and deleted. At least once: a bridge killed
 * midway expands the job again (the counters are idempotent; a push may be
 * sent twice, none is lost). Its own connections (commands: one hiredis
 * context, or a slot router on a Redis Cluster, every command single-slot;
 * one connection subscribed to the hints); store/ is the only code that
 * speaks Redis. */
#ifndef MQC_STORE_JOBS_H
#define MQC_STORE_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mqc_jobs;

/* url, cluster_nodes, prefix and consumer (this daemon's name in the
 * "mqchat-push" group of every slot stream) borrowed (copied).
 * cluster_nodes: the seeds of a Redis Cluster (commands through the slot
 * router, by_slot forced, the hints from any node), or NULL for the one
 * Redis of url. NULL when out of memory or the URL is bad (logged). */
struct mqc_jobs *mqc_jobs_new(const char *url, const char *cluster_nodes, const char *prefix,
                              const char *consumer);
void mqc_jobs_free(struct mqc_jobs *j);

/* Tuning (mqchat-push's jobs_* options). sweep_ms: how often every slot
 * stream is checked (default 30 s); reclaim_ms: how long an entry stays
 * pending with another consumer before it is taken over (default 60 s);
 * by_slot: group the users of an expansion by key slot, one mqc3_expand call
 * per slot (what a Redis Cluster needs) instead of one call for all the
 * users of a job (a single Redis; the default; always set on a cluster).
 * Values <= 0 keep defaults. */
void mqc_jobs_tune(struct mqc_jobs *j, int64_t sweep_ms, int64_t reclaim_ms, bool by_slot);

/* Push jobs are confirmed by n replicas (WAIT) before their slot job is
 * acknowledged, so a failover loses none (0: no WAIT, the default); fewer
 * in time (a shard short of replicas) is logged and counted, and the job is
 * done all the same. */
void mqc_jobs_wait_replicas(struct mqc_jobs *j, int n);

/* Do what is due, without blocking for long: (re)connect (at most once a
 * second), take the hints that arrived, sweep every slot when due (at start,
 * after a reconnect, every 30 s) with the reclaim of stale pending entries,
 * then expand the jobs of hinted slots, at most about max_events of them.
 * mono_ms: monotonic clock (timers); wall_ms: wall clock (mutes).
 * *expanded: jobs expanded (acknowledged) by this call. MQC_OK, or
 * MQC_EUNAVAIL while Redis cannot be used (retried by the next call). */
int mqc_jobs_run(struct mqc_jobs *j, int64_t mono_ms, int64_t wall_ms, size_t max_events,
                 size_t *expanded);

/* Whether hinted slots are waiting (the caller should not sleep). */
bool mqc_jobs_busy(const struct mqc_jobs *j);

/* Totals since start, for the log and metrics. */
struct mqc_jobs_counts {
    long long events;      /* slot jobs expanded and acknowledged */
    long long pushes;      /* push jobs written */
    long long bad;         /* unreadable slot jobs dropped */
    long long sweeps;      /* full sweeps of the slot streams */
    long long claimed;     /* entries taken over from other (dead) consumers */
    long long unconfirmed; /* push jobs fewer than wait_replicas replicas confirmed in time */
};
void mqc_jobs_counts(const struct mqc_jobs *j, struct mqc_jobs_counts *out);

#endif
