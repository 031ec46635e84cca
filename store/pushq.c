/* The push job queue in Redis, for the push bridge (see pushq.h): the
 * store's module for mqchat-push, so that store/ stays the only code that
 * speaks Redis. Keys (store/keys.h): <p>{push} (jobs, written by the slot
 * job expansion and by retries), <p>{push}:delay (one hash tag: the retry
 * move is one single-slot call), <p>push:dead, <p>push:stats, and the
 * users' devices. The consumer group is "mqchat-push". Its scripts are
 * functions of the store library (store/mqchat.lua), loaded on connect (or,
 * on a Redis Cluster, by the router's hook on every primary: store/pconn.h).
 * Every command is single-slot, so one code path serves both. */
#include "store/pushq.h"

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/redis_url.h"
#include "store/internal.h"
#include "store/keys.h"
#include "store/pconn.h"
#include "store/push_rename.h"

#define GROUP "mqchat-push"
#define RETRY_MS 1000
#define DIAL_TIMEOUT_MS 2000

struct mqc_pushq {
    struct mqc_pconn pc; /* one Redis or the cluster's router */
    struct mqc_redis_url url;
    char *prefix, *consumer, *seeds; /* seeds: redis_cluster_nodes, or NULL */
    char k_stream[256], k_delay[256], k_dead[256], k_stats[256];
    int64_t last_attempt;
    bool backlog_done; /* own pending entries (from before a restart) read */
    char backlog_after[64];
    bool warned;
    /* Acknowledgements and counter increments waiting for mqc_pushq_flush:
     * one XACK and one HINCRBY per counter per loop turn instead of a round
     * trip each. */
    char **acks;
    size_t nacks, acks_cap;
    struct {
        char name[64];
        long long delta;
    } counts[32];
    size_t ncounts;
};

struct mqc_pushq *mqc_pushq_new(const char *url, const char *cluster_nodes, const char *prefix,
                                const char *consumer)
{
    struct mqc_pushq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    if (mqc_redis_url_parse(url, &q->url) != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "pushq: redis_url is not a Redis URL");
        free(q);
        return NULL;
    }
    q->prefix = strdup(prefix);
    q->consumer = strdup(consumer);
    q->seeds = cluster_nodes ? strdup(cluster_nodes) : NULL;
    if (!q->prefix || !q->consumer || (cluster_nodes && !q->seeds)) {
        mqc_pushq_free(q);
        return NULL;
    }
    if (mqc_key_push_queue(prefix, NULL, q->k_stream, sizeof q->k_stream) != MQC_OK ||
        mqc_key_push_queue(prefix, "delay", q->k_delay, sizeof q->k_delay) != MQC_OK ||
        mqc_key_push(prefix, "dead", q->k_dead, sizeof q->k_dead) != MQC_OK ||
        mqc_key_push(prefix, "stats", q->k_stats, sizeof q->k_stats) != MQC_OK) {
        mqc_pushq_free(q);
        return NULL;
    }
    strcpy(q->backlog_after, "0");
    return q;
}

void mqc_pushq_free(struct mqc_pushq *q)
{
    if (!q)
        return;
    mqc_pconn_free(&q->pc);
    for (size_t i = 0; i < q->nacks; i++)
        free(q->acks[i]);
    free(q->acks);
    mqc_redis_url_cleanup(&q->url);
    free(q->prefix);
    free(q->consumer);
    free(q->seeds);
    free(q);
}

static void drop(struct mqc_pushq *q, const char *why)
{
    if (q->pc.up) {
        mqc_log(MQC_LOG_ERR, "pushq: redis connection lost: %s", why);
        mqc_pconn_close(&q->pc);
    }
}

static redisReply *cmd_timeout(struct mqc_pushq *q, int argc, const char **argv, const size_t *lens,
                               int timeout_ms);

/* Run a command; NULL (and the connection dropped) on I/O errors. Error
 * replies are logged and returned as NULL too. */
static redisReply *cmd(struct mqc_pushq *q, int argc, const char **argv, const size_t *lens)
{
    return cmd_timeout(q, argc, argv, lens, 0);
}

/* cmd() with this command's timeout (ms; 0: the default). */
static redisReply *cmd_timeout(struct mqc_pushq *q, int argc, const char **argv, const size_t *lens,
                               int timeout_ms)
{
    if (!q->pc.up)
        return NULL;
    char why[300];
    redisReply *r = mqc_pconn_call(&q->pc, argc, argv, lens, timeout_ms, why, sizeof why);
    if (!r) {
        drop(q, why);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        mqc_log(MQC_LOG_ERR, "pushq: redis refused %s: %.200s", argv[0], r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Where Redis is, for logs: the URL without its password, or the seeds. */
static const char *where_redis(const struct mqc_pushq *q, char *buf, size_t len)
{
    if (q->seeds)
        snprintf(buf, len, "cluster %s", q->seeds);
    else
        mqc_redis_url_describe(&q->url, buf, len);
    return buf;
}

/* Say once per outage why Redis cannot be used, naming the URL (without its
 * password); the next success says it is back. */
static void cannot_use(struct mqc_pushq *q, const char *why)
{
    if (!q->warned) {
        char where[512];
        mqc_log(MQC_LOG_ERR, "pushq: cannot use redis at %s: %s (retrying every %d ms)",
                where_redis(q, where, sizeof where), why, RETRY_MS);
    }
    q->warned = true;
    mqc_pconn_close(&q->pc);
}

/* Run a setup command; NULL (nothing to free) and why set when it failed. */
static bool setup_cmd(struct mqc_pushq *q, int argc, const char **argv, char *why, size_t len)
{
    char io[300];
    redisReply *r = mqc_pconn_call(&q->pc, argc, argv, NULL, 0, io, sizeof io);
    if (!r) {
        snprintf(why, len, "%s: %.200s", argv[0], io);
        return false;
    }
    bool ok = r->type != REDIS_REPLY_ERROR ||
              (!strcmp(argv[0], "XGROUP") && r->str && !strncmp(r->str, "BUSYGROUP", 9));
    if (!ok)
        snprintf(why, len, "%s refused: %.200s", argv[0], r->str ? r->str : "");
    freeReplyObject(r);
    return ok;
}

/* mqc_store__push_rename's call: one command, NULL for an error reply or
 * a failure (the rename checks what it needs with EXISTS). */
static redisReply *rename_call(void *ctx, int argc, const char **argv, const size_t *lens)
{
    struct mqc_pushq *q = ctx;
    char why[300];
    redisReply *r = mqc_pconn_call(&q->pc, argc, argv, lens, 0, why, sizeof why);
    if (r && r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

int mqc_pushq_ensure(struct mqc_pushq *q, int64_t now)
{
    if (q->pc.up)
        return MQC_OK;
    if (now - q->last_attempt < RETRY_MS && q->last_attempt)
        return MQC_EUNAVAIL;
    q->last_attempt = now;
    char why[300];
    /* The functions (mqc1_push_move, mqc2_token_release) are the library's:
     * loaded on connect (or by the router's hook on every primary), as the
     * broker does, in case Redis lost it. */
    if (mqc_pconn_open(&q->pc, &q->url, q->seeds, DIAL_TIMEOUT_MS, why, sizeof why) != MQC_OK)
        goto fail;
    /* Queue keys of before the hash tag (<p>push, <p>push:delay) renamed:
     * their pending pushes are sent. */
    long long moved = 0;
    if (mqc_store__push_rename(q->prefix, rename_call, q, &moved) != MQC_OK) {
        snprintf(why, sizeof why, "cannot rename the old push queue keys");
        goto fail;
    }
    if (moved)
        mqc_log(MQC_LOG_NOTICE, "pushq: moved %lld old push queue keys/entries to %s", moved,
                q->k_stream);
    /* The group starts at the beginning: jobs written before the bridge ever
     * ran are sent too. BUSYGROUP (it exists) is fine. */
    const char *a[] = {"XGROUP", "CREATE", q->k_stream, GROUP, "0", "MKSTREAM"};
    if (!setup_cmd(q, 6, a, why, sizeof why))
        goto fail;
    char where[512];
    mqc_log(MQC_LOG_NOTICE, "pushq: connected to redis at %s, consumer %s in group " GROUP,
            where_redis(q, where, sizeof where), q->consumer);
    q->warned = false;
    return MQC_OK;
fail:
    cannot_use(q, why);
    return MQC_EUNAVAIL;
}

void mqc_pushq_wait_replicas(struct mqc_pushq *q, int n)
{
    q->pc.wait_replicas = n > 0 ? n : 0;
}

/* A write whose loss in a failover would lose a push (a retry, a dead
 * letter): with wait_replicas, it waits for the replicas (at most half the
 * command timeout) before the job it comes from is acknowledged; fewer in
 * time is logged, not an error (the shard is short of replicas: stopping
 * would stop every push). MQC_OK, or MQC_EUNAVAIL when it did not run. */
static int durable(struct mqc_pushq *q, int argc, const char **argv)
{
    if (!q->pc.up)
        return MQC_EUNAVAIL;
    char why[300];
    bool confirmed;
    redisReply *r = mqc_pconn_call_durable(&q->pc, argc, argv, NULL, &confirmed, why, sizeof why);
    if (!r) {
        drop(q, why);
        return MQC_EUNAVAIL;
    }
    int rc = MQC_OK;
    if (r->type == REDIS_REPLY_ERROR) {
        mqc_log(MQC_LOG_ERR, "pushq: redis refused %s: %.200s", argv[0], r->str);
        rc = MQC_EUNAVAIL;
    } else if (!confirmed) {
        mqc_log(MQC_LOG_WARNING,
                "pushq: %s not confirmed by %d replicas in time (a failover now could lose it)",
                argv[0], q->pc.wait_replicas);
    }
    freeReplyObject(r);
    return rc;
}

bool mqc_pushq_up(const struct mqc_pushq *q)
{
    return q->pc.up;
}

void mqc_queued_job_cleanup(struct mqc_queued_job *j)
{
    if (!j)
        return;
    mqc_push_job_cleanup(&j->job);
    free(j->only_token);
    j->only_token = NULL;
}

/* Parse one stream entry [id, [f, v, ...]] into out. */
static int parse_entry(const redisReply *e, struct mqc_queued_job *out)
{
    memset(out, 0, sizeof *out);
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
        return MQC_EBADREQ;
    const redisReply *f = e->element[1];
    const char **fv = calloc(f->elements ? f->elements : 1, sizeof *fv);
    if (!fv)
        return MQC_ENOMEM;
    size_t n = 0;
    out->attempt = 1;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const char *k = f->element[i]->str, *v = f->element[i + 1]->str;
        if (!k || !v)
            continue;
        if (!strcmp(k, "only_token")) {
            free(out->only_token);
            out->only_token = strdup(v);
        } else if (!strcmp(k, "attempt")) {
            out->attempt = atoi(v) > 0 ? atoi(v) : 1;
        } else if (!strcmp(k, "first_ts")) {
            out->first_ts = strtoll(v, NULL, 10);
        } else {
            fv[n++] = k;
            fv[n++] = v;
        }
    }
    int rc = mqc_push_job_parse(e->element[0]->str, fv, n, &out->job);
    free(fv);
    if (rc == MQC_OK && out->first_ts == 0)
        out->first_ts = out->job.ts;
    if (rc != MQC_OK)
        free(out->only_token), out->only_token = NULL;
    return rc;
}

/* Turn a list of entries into jobs; bad entries are dead-lettered and acked. */
static int collect(struct mqc_pushq *q, const redisReply *entries, struct mqc_queued_job **out,
                   size_t *n, char *last_id, size_t last_len)
{
    *out = calloc(entries->elements ? entries->elements : 1, sizeof **out);
    *n = 0;
    if (!*out)
        return MQC_ENOMEM;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type == REDIS_REPLY_ARRAY && e->elements >= 1 && e->element[0]->str && last_id)
            snprintf(last_id, last_len, "%s", e->element[0]->str);
        if (parse_entry(e, &(*out)[*n]) == MQC_OK) {
            (*n)++;
            continue;
        }
        if (e->type == REDIS_REPLY_ARRAY && e->elements >= 1 && e->element[0]->str) {
            /* Deleted entries come back with a nil body: just ack them. */
            mqc_log(MQC_LOG_WARNING, "pushq: unreadable job dropped (id=%s)", e->element[0]->str);
            const char *a[] = {"XADD",   q->k_dead,       "*", "id", e->element[0]->str,
                               "reason", "unreadable job"};
            redisReply *r = cmd(q, 7, a, NULL);
            freeReplyObject(r);
            mqc_pushq_ack(q, e->element[0]->str);
            mqc_pushq_count(q, "dead_unreadable", 1);
        }
    }
    return MQC_OK;
}

int mqc_pushq_read(struct mqc_pushq *q, size_t max, int block_ms, struct mqc_queued_job **out,
                   size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!q->pc.up)
        return MQC_EUNAVAIL;
    char count[24], block[24];
    snprintf(count, sizeof count, "%zu", max);
    snprintf(block, sizeof block, "%d", block_ms);
    const char *from = q->backlog_done ? ">" : q->backlog_after;
    const char *a[11];
    int argc = 0;
    a[argc++] = "XREADGROUP";
    a[argc++] = "GROUP";
    a[argc++] = GROUP;
    a[argc++] = q->consumer;
    a[argc++] = "COUNT";
    a[argc++] = count;
    if (q->backlog_done && block_ms > 0) { /* never BLOCK 0: that waits forever */
        a[argc++] = "BLOCK";
        a[argc++] = block;
    }
    a[argc++] = "STREAMS";
    a[argc++] = q->k_stream;
    a[argc++] = from;
    redisReply *r = cmd_timeout(q, argc, a, NULL, block_ms + 5000);
    if (!r)
        return MQC_EUNAVAIL;
    int rc = MQC_OK;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
        const redisReply *entries = r->element[0]->element[1];
        if (!q->backlog_done && entries->elements == 0)
            q->backlog_done = true;
        else
            rc = collect(q, entries, out, n, q->backlog_done ? NULL : q->backlog_after,
                         sizeof q->backlog_after);
    } else if (!q->backlog_done) {
        q->backlog_done = true;
    }
    freeReplyObject(r);
    return rc;
}

int mqc_pushq_reclaim(struct mqc_pushq *q, int64_t min_idle_ms, size_t max,
                      struct mqc_queued_job **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char idle[24], count[24];
    snprintf(idle, sizeof idle, "%lld", (long long)min_idle_ms);
    snprintf(count, sizeof count, "%zu", max);
    const char *a[] = {"XAUTOCLAIM", q->k_stream, GROUP, q->consumer, idle, "0-0", "COUNT", count};
    redisReply *r = cmd(q, 8, a, NULL);
    if (!r)
        return MQC_EUNAVAIL;
    int rc = MQC_OK;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[1]->type == REDIS_REPLY_ARRAY)
        rc = collect(q, r->element[1], out, n, NULL, 0);
    freeReplyObject(r);
    return rc;
}

/* Queue id for the next flush; false when out of memory. */
static bool queue_ack(struct mqc_pushq *q, const char *id)
{
    if (q->nacks == q->acks_cap) {
        size_t cap = q->acks_cap ? 2 * q->acks_cap : 256;
        char **a = realloc(q->acks, cap * sizeof *a);
        if (!a)
            return false;
        q->acks = a;
        q->acks_cap = cap;
    }
    if (!(q->acks[q->nacks] = strdup(id)))
        return false;
    q->nacks++;
    return true;
}

int mqc_pushq_ack(struct mqc_pushq *q, const char *id)
{
    if (queue_ack(q, id))
        return MQC_OK;
    const char *a[] = {"XACK", q->k_stream, GROUP, id};
    redisReply *r = cmd(q, 4, a, NULL);
    if (!r)
        return MQC_EUNAVAIL;
    freeReplyObject(r);
    return MQC_OK;
}

/* JSON [field, value, ...] of job for one device, with its retry data. */
static char *retry_fields(const struct mqc_queued_job *j, const char *token, int attempt)
{
    const struct mqc_push_job *p = &j->job;
    char seq[24], badge[24], ts[24], att[16], first[24], nonce[17];
    unsigned char rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(nonce, sizeof nonce, rnd, sizeof rnd);
    snprintf(seq, sizeof seq, "%lld", (long long)p->seq);
    snprintf(badge, sizeof badge, "%lld", (long long)p->badge);
    snprintf(ts, sizeof ts, "%lld", (long long)p->ts);
    snprintf(att, sizeof att, "%d", attempt);
    snprintf(first, sizeof first, "%lld", (long long)j->first_ts);
    const char *kv[] = {"user",  p->user,   "conv",    p->conv,    "seq",
                        seq,     "kind",    p->kind,   "from",     p->from ? p->from : "",
                        "badge", badge,     "ts",      ts,         "only_token",
                        token,   "attempt", att,       "first_ts", first,
                        "nonce", nonce,     "preview", p->preview};
    size_t n = sizeof kv / sizeof kv[0];
    if (!p->preview)
        n -= 2;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *s = cJSON_CreateString(kv[i]);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    char *out = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return out;
}

int mqc_pushq_retry(struct mqc_pushq *q, const struct mqc_queued_job *j, const char *token,
                    int attempt, int64_t due_ms)
{
    char *m = retry_fields(j, token, attempt);
    if (!m)
        return MQC_ENOMEM;
    char due[24];
    snprintf(due, sizeof due, "%lld", (long long)due_ms);
    const char *a[] = {"ZADD", q->k_delay, due, m};
    int rc = durable(q, 4, a);
    free(m);
    return rc;
}

int mqc_pushq_move_due(struct mqc_pushq *q, int64_t now_ms)
{
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    const char *a[] = {"FCALL", "mqc1_push_move", "2", q->k_delay, q->k_stream, now};
    redisReply *r = cmd(q, 6, a, NULL);
    if (!r)
        return MQC_EUNAVAIL;
    freeReplyObject(r);
    return MQC_OK;
}

int mqc_pushq_dead(struct mqc_pushq *q, const struct mqc_queued_job *j, const char *token,
                   const char *reason, const char *error)
{
    char seq[24], att[16];
    snprintf(seq, sizeof seq, "%lld", (long long)j->job.seq);
    snprintf(att, sizeof att, "%d", j->attempt);
    const char *a[] = {"XADD",    q->k_dead,
                       "MAXLEN",  "~",
                       "100000",  "*",
                       "id",      j->job.id,
                       "user",    j->job.user,
                       "conv",    j->job.conv,
                       "seq",     seq,
                       "token",   token ? token : "",
                       "attempt", att,
                       "reason",  reason ? reason : "",
                       "error",   error ? error : ""};
    return durable(q, sizeof a / sizeof a[0], a);
}

size_t mqc_pushq_unflushed(const struct mqc_pushq *q)
{
    return q->nacks;
}

int mqc_pushq_flush(struct mqc_pushq *q)
{
    if (!q->pc.up)
        return MQC_EUNAVAIL;
    size_t sent = 0;
    char d[24];
    for (size_t i = 0; i < q->ncounts; i++) {
        snprintf(d, sizeof d, "%lld", q->counts[i].delta);
        const char *a[] = {"HINCRBY", q->k_stats, q->counts[i].name, d};
        if (mqc_pconn_append(&q->pc, 4, a, NULL) == MQC_OK)
            sent++;
    }
    /* Counters go once: a connection lost now may lose some, never doubles. */
    q->ncounts = 0;
    size_t acked = 0;
    while (acked < q->nacks) {
        size_t n = q->nacks - acked < 1000 ? q->nacks - acked : 1000;
        const char **a = malloc((n + 3) * sizeof *a);
        if (!a)
            break;
        a[0] = "XACK";
        a[1] = q->k_stream;
        a[2] = GROUP;
        memcpy(a + 3, q->acks + acked, n * sizeof *a);
        int rc = mqc_pconn_append(&q->pc, (int)(n + 3), a, NULL);
        free(a);
        if (rc != MQC_OK)
            break;
        sent++;
        acked += n;
    }
    for (size_t i = 0; i < sent; i++) {
        redisReply *r = NULL;
        char why[300];
        if (mqc_pconn_get(&q->pc, &r, why, sizeof why) != MQC_OK) {
            drop(q, why);
            return MQC_EUNAVAIL; /* the acks stay queued: XACK again is harmless */
        }
        if (((redisReply *)r)->type == REDIS_REPLY_ERROR)
            mqc_log(MQC_LOG_ERR, "pushq: redis refused a flush: %.200s", ((redisReply *)r)->str);
        freeReplyObject(r);
    }
    if (acked == 0)
        return MQC_OK;
    for (size_t i = 0; i < acked; i++)
        free(q->acks[i]);
    memmove(q->acks, q->acks + acked, (q->nacks - acked) * sizeof *q->acks);
    q->nacks -= acked;
    return MQC_OK;
}

/* The devices in HGETALL reply r of user's devices into *out / *n. */
static int parse_devices(const redisReply *r, const char *user, struct mqc_push_device **out,
                         size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = MQC_OK;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
        *out = calloc(r->elements / 2, sizeof **out);
        if (!*out)
            rc = MQC_ENOMEM;
        for (size_t i = 0; rc == MQC_OK && i + 1 < r->elements; i += 2) {
            if (mqc_push_device_parse(r->element[i]->str, r->element[i + 1]->str, &(*out)[*n]) ==
                MQC_OK)
                (*n)++;
            else
                mqc_log(MQC_LOG_WARNING, "pushq: unreadable device record (user=%s)", user);
        }
    }
    return rc;
}

int mqc_pushq_devices(struct mqc_pushq *q, const char *user, struct mqc_push_device **out,
                      size_t *n)
{
    return mqc_pushq_devices_many(q, &user, 1, out, n);
}

int mqc_pushq_devices_many(struct mqc_pushq *q, const char *const *users, size_t n,
                           struct mqc_push_device **out, size_t *counts)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
        counts[i] = 0;
    }
    if (!q->pc.up)
        return MQC_EUNAVAIL;
    char key[MQC_KEY_MAX];
    size_t sent = 0;
    for (; sent < n; sent++) {
        if (mqc_key_user_part(q->prefix, users[sent], "devices", key, sizeof key) != MQC_OK)
            snprintf(key, sizeof key, "%s", "-"); /* a bad id has no devices */
        const char *a[] = {"HGETALL", key};
        if (mqc_pconn_append(&q->pc, 2, a, NULL) != MQC_OK)
            break;
    }
    int rc = sent == n ? MQC_OK : MQC_ENOMEM;
    for (size_t i = 0; i < sent; i++) {
        redisReply *r = NULL;
        char why[300];
        if (mqc_pconn_get(&q->pc, &r, why, sizeof why) != MQC_OK) {
            drop(q, why);
            rc = MQC_EUNAVAIL;
            break;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            mqc_log(MQC_LOG_ERR, "pushq: redis refused HGETALL: %.200s", r->str);
            rc = MQC_EUNAVAIL;
        } else if (rc == MQC_OK && parse_devices(r, users[i], &out[i], &counts[i]) != MQC_OK) {
            rc = MQC_ENOMEM;
        }
        freeReplyObject(r);
    }
    if (rc != MQC_OK) {
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; k < counts[i]; k++)
                mqc_push_device_cleanup(&out[i][k]);
            free(out[i]);
            out[i] = NULL;
            counts[i] = 0;
        }
    }
    return rc;
}

int mqc_pushq_remove_device(struct mqc_pushq *q, const char *user, const char *token)
{
    char dk[MQC_KEY_MAX], ik[4200];
    if (mqc_key_user_part(q->prefix, user, "devices", dk, sizeof dk) != MQC_OK ||
        mqc_key_devtoken(q->prefix, token, ik, sizeof ik) != MQC_OK)
        return MQC_EBADREQ;
    /* Two single-slot steps (the user's slot, then the token index's), each
     * idempotent: a bridge killed between them leaves an index naming a
     * user without that device, which the next registration of the token
     * overwrites and the next dead-token report removes. */
    const char *a[] = {"HDEL", dk, token};
    redisReply *r = cmd(q, 3, a, NULL);
    if (!r)
        return MQC_EUNAVAIL;
    freeReplyObject(r);
    const char *b[] = {"FCALL", "mqc2_token_release", "1", ik, user};
    if (!(r = cmd(q, 5, b, NULL)))
        return MQC_EUNAVAIL;
    freeReplyObject(r);
    return MQC_OK;
}

void mqc_pushq_count(struct mqc_pushq *q, const char *name, long long delta)
{
    size_t i = 0;
    while (i < q->ncounts && strcmp(q->counts[i].name, name) != 0)
        i++;
    if (i == q->ncounts && i == sizeof q->counts / sizeof q->counts[0]) {
        mqc_pushq_flush(q);
        i = q->ncounts;
    }
    if (i < sizeof q->counts / sizeof q->counts[0] && strlen(name) < sizeof q->counts[0].name) {
        if (i == q->ncounts) {
            strcpy(q->counts[i].name, name);
            q->counts[i].delta = 0;
            q->ncounts++;
        }
        q->counts[i].delta += delta;
        return;
    }
    char d[24];
    snprintf(d, sizeof d, "%lld", delta);
    const char *a[] = {"HINCRBY", q->k_stats, name, d};
    redisReply *r = cmd(q, 4, a, NULL);
    freeReplyObject(r);
}

/* Jobs in the stream the group has not read yet: XINFO GROUPS' lag, or
 * when Redis cannot tell it (entries deleted or trimmed) the entries after
 * the group's last-delivered-id, counted up to a cap. -1 if unknown. */
static long long waiting_jobs(struct mqc_pushq *q)
{
    const char *a[] = {"XINFO", "GROUPS", q->k_stream};
    redisReply *r = cmd(q, 3, a, NULL);
    long long n = -1;
    char last[64] = "";
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *g = r->element[i];
        long long lag = -1;
        bool ours = false;
        for (size_t k = 0; g->type == REDIS_REPLY_ARRAY && k + 1 < g->elements; k += 2) {
            const redisReply *f = g->element[k], *v = g->element[k + 1];
            if (!f->str)
                continue;
            if (!strcmp(f->str, "name"))
                ours = v->str && !strcmp(v->str, GROUP);
            else if (!strcmp(f->str, "lag") && v->type == REDIS_REPLY_INTEGER)
                lag = v->integer;
            else if (!strcmp(f->str, "last-delivered-id") && v->str)
                snprintf(last, sizeof last, "(%s", v->str);
        }
        if (!ours)
            continue;
        n = lag;
        break;
    }
    freeReplyObject(r);
    if (n >= 0 || !last[0])
        return n;
    const char *b[] = {"XRANGE", q->k_stream, last, "+", "COUNT", "100000"};
    redisReply *x = cmd(q, 6, b, NULL);
    if (x && x->type == REDIS_REPLY_ARRAY)
        n = (long long)x->elements;
    freeReplyObject(x);
    return n;
}

int mqc_pushq_print_stats(struct mqc_pushq *q, void *file)
{
    const char *a[] = {"HGETALL", q->k_stats};
    redisReply *r = cmd(q, 2, a, NULL);
    if (!r)
        return MQC_EUNAVAIL;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        fprintf(file, "%s %s\n", r->element[i]->str, r->element[i + 1]->str);
    freeReplyObject(r);
    /* pending: read by a consumer, not yet acknowledged; waiting: in the
     * stream, not yet read; waiting_retry: in the delayed set. */
    const char *b[] = {"XPENDING", q->k_stream, GROUP};
    redisReply *p = cmd(q, 3, b, NULL);
    if (p && p->type == REDIS_REPLY_ARRAY && p->elements >= 1)
        fprintf(file, "pending %lld\n", p->element[0]->integer);
    freeReplyObject(p);
    long long waiting = waiting_jobs(q);
    if (waiting >= 0)
        fprintf(file, "waiting %lld\n", waiting);
    const char *c[] = {"ZCARD", q->k_delay};
    redisReply *z = cmd(q, 2, c, NULL);
    if (z)
        fprintf(file, "waiting_retry %lld\n", z->integer);
    freeReplyObject(z);
    return q->pc.up ? MQC_OK : MQC_EUNAVAIL;
}

/* The integer value of key in a flat key/value reply, or 0. */
static long long field_int(const redisReply *r, const char *key)
{
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && !strcmp(k->str, key))
            return v->type == REDIS_REPLY_INTEGER ? v->integer : 0;
    }
    return 0;
}

int mqc_pushq_backlog(struct mqc_pushq *q, long long *n)
{
    const char *a[] = {"XINFO", "GROUPS", q->k_stream};
    redisReply *r = cmd(q, 3, a, NULL);
    if (!r)
        return MQC_EUNAVAIL;
    long long total = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *g = r->element[i];
        for (size_t j = 0; g->type == REDIS_REPLY_ARRAY && j + 1 < g->elements; j += 2) {
            if (g->element[j]->type == REDIS_REPLY_STRING && !strcmp(g->element[j]->str, "name") &&
                g->element[j + 1]->type == REDIS_REPLY_STRING &&
                !strcmp(g->element[j + 1]->str, GROUP))
                total += field_int(g, "lag") + field_int(g, "pending");
        }
    }
    freeReplyObject(r);
    const char *b[] = {"ZCARD", q->k_delay};
    redisReply *z = cmd(q, 2, b, NULL);
    if (!z)
        return MQC_EUNAVAIL;
    if (z->type == REDIS_REPLY_INTEGER)
        total += z->integer;
    freeReplyObject(z);
    *n = total;
    return MQC_OK;
}
