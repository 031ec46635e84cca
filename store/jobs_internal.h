/* Shared between store/jobs.c (reading the slot job streams) and
 * store/jobs_expand.c (expanding what was read). Not for use elsewhere. */
#ifndef MQC_STORE_JOBS_INTERNAL_H
#define MQC_STORE_JOBS_INTERNAL_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/redis_url.h"
#include "core/slot.h"
#include "store/jobs.h"
#include "store/keys.h"
#include "store/pconn.h"

#define MQC_JOBS_GROUP "mqchat-push" /* the consumer group of every slot stream */
#define MQC_JOBS_READ 64             /* entries read per XREADGROUP */

struct mqc_jobs {
    struct mqc_pconn pc; /* commands: one Redis or the cluster's router */
    redisContext *sub;   /* SUBSCRIBEd to the hint channel; NULL while down */
    struct mqc_redis_url url;
    char *prefix, *consumer;
    char *seeds;   /* redis_cluster_nodes, or NULL for one Redis */
    unsigned nsub; /* cluster: hint dials so far (which seed is next) */
    char k_push[MQC_KEY_MAX], chan[MQC_KEY_MAX];
    unsigned char hinted[MQC_SLOTS / 8]; /* slots to read */
    size_t nhinted;
    unsigned cursor; /* where the next look for hinted slots starts */
    int64_t last_attempt, last_sub_attempt, next_sweep;
    int64_t sweep_ms, reclaim_ms; /* mqc_jobs_tune */
    bool warned, by_slot;
    struct mqc_jobs_counts n;
};

/* Drop the command connection after an I/O error (logs why); the next run
 * reconnects and sweeps. */
void mqc_jobs__drop(struct mqc_jobs *j, const char *why);

/* Expand the stream entries (borrowed: an array of [id, fields]) read from
 * slot stream key: recipients, unread counters and push decisions, push
 * jobs, then XACK + XDEL of the entries done (unreadable and deleted ones
 * too). Entries whose expansion failed stay pending (the sweep retries
 * them). wall: now, ms. *nacked: entries acknowledged. MQC_OK, or
 * MQC_EUNAVAIL when the connection failed (it is dropped). */
int mqc_jobs__expand(struct mqc_jobs *j, const char *key, const redisReply *entries, int64_t wall,
                     size_t *nacked);

#endif
