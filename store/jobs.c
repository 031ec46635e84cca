/* The slot job streams of lazy fan-out, read by mqchat-push (see jobs.h):
 * connections, hints, the sweep of every slot, reading a slot stream through
 * the consumer group, and the reclaim of entries other consumers left
 * pending. Expanding what was read is store/jobs_expand.c. */
#include "store/jobs.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/redis_url.h"
#include "core/slot.h"
#include "store/internal.h"
#include "store/jobs_internal.h"
#include "store/keys.h"
#include "store/router.h"

#define RETRY_MS 1000
#define DIAL_TIMEOUT_MS 2000
#define SWEEP_CHUNK 1024 /* XLEN commands per pipelined write of a sweep */
#define HINT_READS 64    /* socket reads of hints per run, at most */
#define RECOVER_ROUNDS 16

struct mqc_jobs *mqc_jobs_new(const char *url, const char *cluster_nodes, const char *prefix,
                              const char *consumer)
{
    struct mqc_jobs *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    if (mqc_redis_url_parse(url, &j->url) != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "jobs: redis_url is not a Redis URL");
        free(j);
        return NULL;
    }
    j->prefix = strdup(prefix);
    j->consumer = strdup(consumer);
    j->seeds = cluster_nodes ? strdup(cluster_nodes) : NULL;
    if (!j->prefix || !j->consumer || (cluster_nodes && !j->seeds) ||
        mqc_key_push_queue(prefix, NULL, j->k_push, sizeof j->k_push) != MQC_OK ||
        snprintf(j->chan, sizeof j->chan, "%sjobs", prefix) >= (int)sizeof j->chan) {
        mqc_jobs_free(j);
        return NULL;
    }
    j->sweep_ms = 30000;
    j->reclaim_ms = 60000;
    j->by_slot = cluster_nodes != NULL; /* a cluster refuses cross-slot calls */
    (void)mqc_slot_tag(0);              /* build the tag table now, once */
    return j;
}

void mqc_jobs_free(struct mqc_jobs *j)
{
    if (!j)
        return;
    mqc_pconn_free(&j->pc);
    if (j->sub)
        redisFree(j->sub);
    mqc_redis_url_cleanup(&j->url);
    free(j->seeds);
    free(j->prefix);
    free(j->consumer);
    free(j);
}

void mqc_jobs_tune(struct mqc_jobs *j, int64_t sweep_ms, int64_t reclaim_ms, bool by_slot)
{
    if (sweep_ms > 0)
        j->sweep_ms = sweep_ms;
    if (reclaim_ms > 0)
        j->reclaim_ms = reclaim_ms;
    j->by_slot = by_slot || j->seeds != NULL;
}

void mqc_jobs_wait_replicas(struct mqc_jobs *j, int n)
{
    j->pc.wait_replicas = n > 0 ? n : 0;
}

void mqc_jobs_counts(const struct mqc_jobs *j, struct mqc_jobs_counts *out)
{
    *out = j->n;
}

bool mqc_jobs_busy(const struct mqc_jobs *j)
{
    return j->pc.up && j->nhinted > 0;
}

/* Mark slot as having jobs to read (idempotent). */
static void hint(struct mqc_jobs *j, unsigned slot)
{
    unsigned char bit = (unsigned char)(1u << (slot & 7));
    if (slot < MQC_SLOTS && !(j->hinted[slot >> 3] & bit)) {
        j->hinted[slot >> 3] |= bit;
        j->nhinted++;
    }
}

/* The slot's stream was read to its end (or does not exist). */
static void unhint(struct mqc_jobs *j, unsigned slot)
{
    unsigned char bit = (unsigned char)(1u << (slot & 7));
    if (j->hinted[slot >> 3] & bit) {
        j->hinted[slot >> 3] &= (unsigned char)~bit;
        j->nhinted--;
    }
}

void mqc_jobs__drop(struct mqc_jobs *j, const char *why)
{
    if (j->pc.up) {
        mqc_log(MQC_LOG_ERR, "jobs: redis connection lost: %s", why);
        mqc_pconn_close(&j->pc);
    }
    j->next_sweep = 0; /* whatever was half done is found again by the sweep */
}

/* Drop the hint connection (logs why); the sweep covers what it misses. */
static void drop_sub(struct mqc_jobs *j, const char *why)
{
    if (j->sub) {
        mqc_log(MQC_LOG_WARNING, "jobs: hint subscription lost: %s (sweeping instead)", why);
        redisFree(j->sub);
        j->sub = NULL;
    }
    j->next_sweep = 0; /* hints published meanwhile are lost */
}

/* The next seed of the cluster ("host:port" into host, *port), round
 * robin over the dials, so a dead node is not tried forever. */
static bool next_seed(struct mqc_jobs *j, char *host, size_t len, int *port)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t k = 0;
        for (const char *p = j->seeds; *p;) {
            size_t w = strcspn(p, " ,\t");
            if (w > 0) {
                if (pass == 1 && k == j->nsub % n) {
                    const char *colon = memchr(p, ':', w);
                    const char *c2;
                    while (colon && (c2 = memchr(colon + 1, ':', w - (size_t)(colon + 1 - p))))
                        colon = c2; /* the last ':' */
                    if (!colon || (size_t)(colon - p) >= len)
                        return false;
                    memcpy(host, p, (size_t)(colon - p));
                    host[colon - p] = '\0';
                    *port = atoi(colon + 1);
                    j->nsub++;
                    return true;
                }
                k++;
            }
            p += w;
            p += strspn(p, " ,\t");
        }
        n = k;
        if (n == 0)
            return false;
    }
    return false;
}

/* Dial Redis and SELECT the database (one Redis), or the next seed (a
 * cluster: PUBLISH reaches every node); NULL with why set on failure. */
static redisContext *dial(struct mqc_jobs *j, char *why, size_t len)
{
    char host[256];
    int port = 0;
    /* A cluster: the primary serving the hint channel's slot (where a
     * sharded SPUBLISH lands; a plain PUBLISH reaches every node), else a
     * seed. */
    const char *addr = j->pc.router
                           ? mqc_router_node_of(j->pc.router, mqc_slot_of(j->chan, strlen(j->chan)))
                           : NULL;
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (colon && (size_t)(colon - addr) < sizeof host) {
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        port = atoi(colon + 1);
    } else if (j->seeds && !next_seed(j, host, sizeof host, &port)) {
        snprintf(why, len, "no usable seed in redis_cluster_nodes");
        return NULL;
    }
    redisContext *c =
        j->seeds ? mqc_store__dial(host, port, NULL, DIAL_TIMEOUT_MS, j->url.password, why, len)
                 : mqc_store__dial(j->url.host, j->url.port, j->url.unix_path, DIAL_TIMEOUT_MS,
                                   j->url.password, why, len);
    if (!c)
        return NULL;
    redisSetTimeout(c, (struct timeval){5, 0});
    if (j->url.db && !j->seeds) {
        char db[16];
        snprintf(db, sizeof db, "%d", j->url.db);
        const char *a[] = {"SELECT", db};
        redisReply *r = redisCommandArgv(c, 2, a, NULL);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (!ok)
            snprintf(why, len, "SELECT: %s", r ? r->str : c->errstr);
        freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* The command connection, with the function library loaded (on every
 * primary of a cluster: the router's hook). */
static int ensure(struct mqc_jobs *j, int64_t mono)
{
    if (j->pc.up)
        return MQC_OK;
    if (j->last_attempt && mono - j->last_attempt < RETRY_MS)
        return MQC_EUNAVAIL;
    j->last_attempt = mono;
    char why[300];
    if (mqc_pconn_open(&j->pc, &j->url, j->seeds, DIAL_TIMEOUT_MS, why, sizeof why) != MQC_OK) {
        if (!j->warned) {
            char where[512];
            if (j->seeds)
                snprintf(where, sizeof where, "cluster %s", j->seeds);
            else
                mqc_redis_url_describe(&j->url, where, sizeof where);
            mqc_log(MQC_LOG_ERR, "jobs: cannot use redis at %s: %s (retrying every %d ms)", where,
                    why, RETRY_MS);
        }
        j->warned = true;
        return MQC_EUNAVAIL;
    }
    j->warned = false;
    j->next_sweep = 0;
    return MQC_OK;
}

/* The hint subscription; a failure only means slower pickup (the sweep). */
static void ensure_sub(struct mqc_jobs *j, int64_t mono)
{
    if (j->sub || (j->last_sub_attempt && mono - j->last_sub_attempt < RETRY_MS))
        return;
    j->last_sub_attempt = mono;
    char why[300];
    redisContext *c = dial(j, why, sizeof why);
    if (!c)
        return;
    const char *a[] = {"SUBSCRIBE", j->chan};
    redisReply *r = redisCommandArgv(c, 2, a, NULL);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        mqc_log(MQC_LOG_WARNING, "jobs: cannot subscribe to %s: %s", j->chan,
                r && r->str ? r->str : c->errstr);
        freeReplyObject(r);
        redisFree(c);
        return;
    }
    freeReplyObject(r);
    if (j->seeds) {
        /* Hints published sharded (SPUBLISH) too: same channel, this node
         * serves its slot. Refused (the map moved): plain ones only, and
         * the sweep. */
        const char *b[] = {"SSUBSCRIBE", j->chan};
        r = redisCommandArgv(c, 2, b, NULL);
        if (!r) {
            mqc_log(MQC_LOG_WARNING, "jobs: cannot subscribe to %s: %s", j->chan, c->errstr);
            redisFree(c);
            return;
        }
        if (r->type != REDIS_REPLY_ARRAY)
            mqc_log(MQC_LOG_WARNING, "jobs: SSUBSCRIBE %s refused: %.200s", j->chan,
                    r->str ? r->str : "");
        freeReplyObject(r);
    }
    j->sub = c;
    j->next_sweep = 0; /* sweep after subscribing: nothing falls in between */
}

/* A published hint (plain or sharded): slot numbers separated by spaces.
 * Returns false when Redis unsubscribed us (the channel's slot moved). */
static bool take_hint(struct mqc_jobs *j, const redisReply *r)
{
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "sunsubscribe"))
        return false;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        (strcmp(r->element[0]->str, "message") != 0 &&
         strcmp(r->element[0]->str, "smessage") != 0) ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return true;
    const char *p = r->element[2]->str;
    while (*p) {
        char *end;
        unsigned long s = strtoul(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        if (s < MQC_SLOTS)
            hint(j, (unsigned)s);
        p = end;
    }
    return true;
}

/* Read the hints that arrived, without blocking. */
static void drain_hints(struct mqc_jobs *j)
{
    for (int i = 0; j->sub && i < HINT_READS; i++) {
        struct pollfd p = {.fd = j->sub->fd, .events = POLLIN};
        if (poll(&p, 1, 0) <= 0)
            return;
        if (redisBufferRead(j->sub) != REDIS_OK) {
            drop_sub(j, j->sub->errstr[0] ? j->sub->errstr : "read failed");
            return;
        }
        void *r = NULL;
        int rc;
        bool still = true;
        while ((rc = redisReaderGetReply(j->sub->reader, &r)) == REDIS_OK && r) {
            still = take_hint(j, r) && still;
            freeReplyObject(r);
            r = NULL;
        }
        if (!still) {
            drop_sub(j, "the hint channel's slot moved");
            return;
        }
        if (rc != REDIS_OK) {
            drop_sub(j, "protocol error");
            return;
        }
    }
}

/* XGROUP CREATE at the start of the stream (entries written before any
 * bridge ran are expanded too). MQC_OK (also when it exists), MQC_ENOTFOUND
 * when there is no stream, MQC_EUNAVAIL. */
static int create_group(struct mqc_jobs *j, const char *key)
{
    const char *a[] = {"XGROUP", "CREATE", key, MQC_JOBS_GROUP, "0"};
    char why[300];
    redisReply *r = mqc_pconn_call(&j->pc, 5, a, NULL, 0, why, sizeof why);
    if (!r) {
        mqc_jobs__drop(j, why);
        return MQC_EUNAVAIL;
    }
    int rc = MQC_OK;
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0) {
        if (strstr(r->str, "requires the key to exist"))
            rc = MQC_ENOTFOUND;
        else {
            mqc_log(MQC_LOG_ERR, "jobs: redis refused XGROUP CREATE: %.200s", r->str);
            rc = MQC_EUNAVAIL;
        }
    }
    freeReplyObject(r);
    return rc;
}

/* Run a command that reads stream entries (XREADGROUP, XAUTOCLAIM) on key,
 * creating the group when Redis says NOGROUP. *out: the reply (owned, NULL
 * for none). MQC_OK, MQC_ENOTFOUND (no stream), MQC_EUNAVAIL. */
static int read_cmd(struct mqc_jobs *j, const char *key, int argc, const char **argv,
                    redisReply **out)
{
    *out = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        char why[300];
        redisReply *r = mqc_pconn_call(&j->pc, argc, argv, NULL, 0, why, sizeof why);
        if (!r) {
            mqc_jobs__drop(j, why);
            return MQC_EUNAVAIL;
        }
        if (r->type == REDIS_REPLY_ERROR && attempt == 0 && !strncmp(r->str, "NOGROUP", 7)) {
            freeReplyObject(r);
            int rc = create_group(j, key);
            if (rc != MQC_OK)
                return rc;
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            mqc_log(MQC_LOG_ERR, "jobs: redis refused %s: %.200s", argv[0], r->str);
            freeReplyObject(r);
            return MQC_EUNAVAIL;
        }
        *out = r;
        return MQC_OK;
    }
    return MQC_EUNAVAIL;
}

/* XREADGROUP of up to MQC_JOBS_READ entries of slot stream key after from
 * (">" new ones, "0" this consumer's pending ones), expanded. *nread:
 * entries read, *nacked: acknowledged. MQC_OK, MQC_ENOTFOUND, MQC_EUNAVAIL. */
static int read_slot(struct mqc_jobs *j, const char *key, const char *from, int64_t wall,
                     size_t *nread, size_t *nacked)
{
    *nread = *nacked = 0;
    char count[16];
    snprintf(count, sizeof count, "%d", MQC_JOBS_READ);
    const char *a[] = {
        "XREADGROUP", "GROUP", MQC_JOBS_GROUP, j->consumer, "COUNT", count, "STREAMS", key, from};
    redisReply *r;
    int rc = read_cmd(j, key, 9, a, &r);
    if (rc != MQC_OK)
        return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
        r->element[0]->element[1]->type == REDIS_REPLY_ARRAY) {
        const redisReply *entries = r->element[0]->element[1];
        *nread = entries->elements;
        rc = mqc_jobs__expand(j, key, entries, wall, nacked);
    }
    freeReplyObject(r);
    return rc;
}

/* After a sweep found entries in slot stream key: this consumer's own
 * pending entries (left by a previous run of this bridge, or by a failed
 * expansion), then those other consumers left pending for longer than
 * reclaim_ms (dead bridges), each expanded. */
static int recover(struct mqc_jobs *j, const char *key, int64_t wall)
{
    for (int i = 0; i < RECOVER_ROUNDS; i++) {
        size_t nread, nacked;
        int rc = read_slot(j, key, "0", wall, &nread, &nacked);
        if (rc != MQC_OK)
            return rc == MQC_ENOTFOUND ? MQC_OK : rc;
        if (nread == 0 || nacked == 0)
            break; /* none left, or none could be done now: the next sweep retries */
    }
    char cursor[64] = "0-0", idle[24], count[16];
    snprintf(idle, sizeof idle, "%lld", (long long)j->reclaim_ms);
    snprintf(count, sizeof count, "%d", MQC_JOBS_READ);
    for (int i = 0; i < RECOVER_ROUNDS; i++) {
        const char *a[] = {"XAUTOCLAIM", key,    MQC_JOBS_GROUP, j->consumer,
                           idle,         cursor, "COUNT",        count};
        redisReply *r;
        int rc = read_cmd(j, key, 8, a, &r);
        if (rc != MQC_OK)
            return rc == MQC_ENOTFOUND ? MQC_OK : rc;
        bool more = false;
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
            r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_ARRAY) {
            size_t nacked;
            j->n.claimed += (long long)r->element[1]->elements;
            if (r->element[1]->elements)
                mqc_log(MQC_LOG_NOTICE, "jobs: took over %zu stale jobs of %s",
                        r->element[1]->elements, key);
            rc = mqc_jobs__expand(j, key, r->element[1], wall, &nacked);
            snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
            more = strcmp(cursor, "0-0") != 0;
        }
        freeReplyObject(r);
        if (rc != MQC_OK)
            return rc;
        if (!more)
            break;
    }
    return MQC_OK;
}

/* Every slot stream: XLEN of all 16384, pipelined (a few ms of Redis time
 * when they are empty), then recover() on those with entries and a hint for
 * them (new entries are read by the normal path). */
static int sweep(struct mqc_jobs *j, int64_t wall)
{
    char key[MQC_KEY_MAX];
    int64_t t0 = mqc_clock_mono_ms();
    for (unsigned base = 0; base < MQC_SLOTS; base += SWEEP_CHUNK) {
        unsigned n = 0;
        for (unsigned s = base; s < base + SWEEP_CHUNK && s < MQC_SLOTS; s++, n++) {
            if (mqc_key_slot_jobs(j->prefix, s, key, sizeof key) != MQC_OK)
                return MQC_EINTERNAL;
            const char *a[] = {"XLEN", key};
            if (mqc_pconn_append(&j->pc, 2, a, NULL) != MQC_OK) {
                mqc_jobs__drop(j, "out of memory");
                return MQC_EUNAVAIL;
            }
        }
        for (unsigned i = 0; i < n; i++) {
            redisReply *r = NULL;
            char why[300];
            if (mqc_pconn_get(&j->pc, &r, why, sizeof why) != MQC_OK) {
                mqc_jobs__drop(j, why);
                return MQC_EUNAVAIL;
            }
            if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
                hint(j, base + i);
            freeReplyObject(r);
        }
    }
    /* The slots with entries are exactly the hinted ones now (old hints of
     * empty slots cost one read each, as they would have anyway). */
    for (unsigned s = 0; s < MQC_SLOTS; s++) {
        if (!(j->hinted[s >> 3] & (1u << (s & 7))))
            continue;
        if (mqc_key_slot_jobs(j->prefix, s, key, sizeof key) != MQC_OK)
            return MQC_EINTERNAL;
        int rc = recover(j, key, wall);
        if (rc != MQC_OK)
            return rc;
    }
    if (j->n.sweeps++ == 0) /* the first: what a sweep costs here */
        mqc_log(MQC_LOG_NOTICE,
                "jobs: first sweep of the %d slot streams took %lld ms (%zu with jobs)", MQC_SLOTS,
                (long long)(mqc_clock_mono_ms() - t0), j->nhinted);
    return MQC_OK;
}

/* Expand new jobs of hinted slots, round robin, until about max events. */
static int work(struct mqc_jobs *j, int64_t wall, size_t max, size_t *done)
{
    char key[MQC_KEY_MAX];
    size_t looked = 0;
    while (j->nhinted > 0 && *done < max && looked < MQC_SLOTS) {
        unsigned s = j->cursor;
        j->cursor = (j->cursor + 1) % MQC_SLOTS;
        looked++;
        if (!(j->hinted[s >> 3] & (1u << (s & 7))))
            continue;
        if (mqc_key_slot_jobs(j->prefix, s, key, sizeof key) != MQC_OK)
            return MQC_EINTERNAL;
        size_t nread, nacked;
        int rc = read_slot(j, key, ">", wall, &nread, &nacked);
        if (rc == MQC_EUNAVAIL)
            return rc; /* the hint stays: the slot is read again */
        *done += nacked;
        if (rc == MQC_ENOTFOUND || nread < MQC_JOBS_READ)
            unhint(j, s);
        else if (nacked > 0)
            j->cursor = s; /* more in this slot: stay on it */
    }
    return MQC_OK;
}

int mqc_jobs_run(struct mqc_jobs *j, int64_t mono, int64_t wall, size_t max_events,
                 size_t *expanded)
{
    *expanded = 0;
    if (ensure(j, mono) != MQC_OK)
        return MQC_EUNAVAIL;
    ensure_sub(j, mono);
    drain_hints(j);
    if (mono >= j->next_sweep) {
        j->next_sweep = mono + j->sweep_ms;
        if (sweep(j, wall) != MQC_OK) {
            j->next_sweep = 0;
            return MQC_EUNAVAIL;
        }
    }
    size_t before = (size_t)j->n.events;
    int rc = work(j, wall, max_events, expanded);
    *expanded = (size_t)j->n.events - before;
    return rc == MQC_OK && j->pc.up ? MQC_OK : MQC_EUNAVAIL;
}
