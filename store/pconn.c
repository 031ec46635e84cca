/* mqchat-push's connection: one hiredis context or a slot router (see
 * pconn.h). */
#include "store/pconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/internal.h"
#include "store/router.h"

static void set_timeout(redisContext *c, int ms)
{
    redisSetTimeout(c, (struct timeval){ms / 1000, (ms % 1000) * 1000});
}

/* One Redis: dial, SELECT, library. */
static int open_one(struct mqc_pconn *p, const struct mqc_redis_url *url, char *why, size_t len)
{
    redisContext *c = mqc_store__dial(url->host, url->port, url->unix_path, p->timeout_ms,
                                      url->password, why, len);
    if (!c)
        return MQC_EUNAVAIL;
    if (url->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", url->db);
        const char *a[] = {"SELECT", db};
        redisReply *r = redisCommandArgv(c, 2, a, NULL);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (!ok && r)
            snprintf(why, len, "SELECT refused: %.200s", r->str ? r->str : "");
        else if (!ok)
            snprintf(why, len, "SELECT: %s", c->errstr[0] ? c->errstr : "no reply");
        freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return MQC_EUNAVAIL;
        }
    }
    if (mqc_store__load_library_ctx(c, why, len) != MQC_OK) {
        redisFree(c);
        return MQC_EUNAVAIL;
    }
    p->c = c;
    return MQC_OK;
}

int mqc_pconn_open(struct mqc_pconn *p, const struct mqc_redis_url *url, const char *seeds,
                   int timeout_ms, char *why, size_t len)
{
    if (p->up)
        return MQC_OK;
    p->timeout_ms = timeout_ms;
    if (!seeds) {
        if (open_one(p, url, why, len) != MQC_OK)
            return MQC_EUNAVAIL;
        p->up = true;
        return MQC_OK;
    }
    if (!p->router) {
        struct mqc_router_opts o = {.seeds = seeds,
                                    .password = url->password,
                                    .timeout_ms = timeout_ms,
                                    .wait_timeout_ms = timeout_ms / 4,
                                    .on_connect = mqc_store__library_hook};
        if (!(p->router = mqc_router_new(&o))) {
            snprintf(why, len, "redis_cluster_nodes: no usable host:port (or out of memory)");
            return MQC_EUNAVAIL;
        }
    }
    if (mqc_router_refresh(p->router) != MQC_OK) {
        snprintf(why, len, "no cluster node answered (%s)", mqc_router_last_error(p->router));
        return MQC_EUNAVAIL;
    }
    p->up = true;
    return MQC_OK;
}

/* Drop the pipelined replies not taken yet. */
static void fifo_clear(struct mqc_pconn *p)
{
    for (size_t i = p->head; i < p->tail; i++) {
        freeReplyObject(p->fifo[i]);
        free(p->fifo_err[i]);
    }
    p->head = p->tail = 0;
}

void mqc_pconn_close(struct mqc_pconn *p)
{
    if (p->c)
        redisFree(p->c);
    p->c = NULL;
    if (p->router)
        mqc_router_flush(p->router); /* answers whatever is still queued */
    fifo_clear(p);
    p->ring_head = p->ring_n = p->ring_durable = 0;
    p->up = false;
}

void mqc_pconn_free(struct mqc_pconn *p)
{
    mqc_pconn_close(p);
    mqc_router_free(p->router);
    p->router = NULL;
    free(p->fifo);
    free(p->fifo_err);
    free(p->acked);
    free(p->ring);
    p->fifo = NULL;
    p->fifo_err = NULL;
    p->acked = NULL;
    p->ring = NULL;
    p->cap = p->ring_cap = 0;
}

bool mqc_pconn_cluster(const struct mqc_pconn *p)
{
    return p->router != NULL;
}

redisReply *mqc_pconn_call(struct mqc_pconn *p, int argc, const char **argv, const size_t *lens,
                           int timeout_ms, char *why, size_t len)
{
    if (!p->up) {
        snprintf(why, len, "not connected");
        return NULL;
    }
    if (p->router) {
        /* The router's timeout covers short BLOCKs (the bridge's are 50 ms). */
        redisReply *r = NULL;
        if (mqc_router_call(p->router, argc, argv, lens, &r) != MQC_OK) {
            snprintf(why, len, "%s", mqc_router_last_error(p->router));
            return NULL;
        }
        return r;
    }
    if (timeout_ms > 0)
        set_timeout(p->c, timeout_ms);
    redisReply *r = redisCommandArgv(p->c, argc, argv, lens);
    if (timeout_ms > 0 && p->c)
        set_timeout(p->c, p->timeout_ms);
    if (!r)
        snprintf(why, len, "%s", p->c->errstr[0] ? p->c->errstr : "no reply");
    return r;
}

/* Router callback: the reply (taken) or the failure into the next fifo
 * entry; callbacks run in submission order, so entries are in append order. */
static void on_reply(void *ctx, struct mqc_router_result *res)
{
    struct mqc_pconn *p = ctx;
    size_t i = p->tail++; /* room was made by append */
    p->fifo[i] = NULL;
    p->fifo_err[i] = NULL;
    p->acked[i] = res->acked;
    if (res->rc == MQC_OK) {
        p->fifo[i] = res->reply;
        res->reply = NULL;
    } else {
        p->fifo_err[i] = strdup(res->error ? res->error : "unavailable");
    }
}

/* One Redis: note whether the command just appended is followed by a
 * WAIT. false when out of memory. */
static bool ring_push(struct mqc_pconn *p, bool waits)
{
    if (p->ring_n == p->ring_cap) {
        size_t cap = p->ring_cap ? 2 * p->ring_cap : 256;
        unsigned char *r = malloc(cap);
        if (!r)
            return false;
        for (size_t i = 0; i < p->ring_n; i++)
            r[i] = p->ring[(p->ring_head + i) % p->ring_cap];
        free(p->ring);
        p->ring = r;
        p->ring_cap = cap;
        p->ring_head = 0;
    }
    p->ring[(p->ring_head + p->ring_n++) % p->ring_cap] = waits;
    p->ring_durable += waits;
    return true;
}

/* Room for need entries in the fifo. false when out of memory. */
static bool fifo_room(struct mqc_pconn *p, size_t need)
{
    if (need <= p->cap)
        return true;
    size_t cap = p->cap ? p->cap : 64;
    while (cap < need)
        cap *= 2;
    redisReply **f = realloc(p->fifo, cap * sizeof *f);
    if (!f)
        return false;
    p->fifo = f;
    char **e = realloc(p->fifo_err, cap * sizeof *e);
    if (!e)
        return false;
    p->fifo_err = e;
    long long *a = realloc(p->acked, cap * sizeof *a);
    if (!a)
        return false;
    p->acked = a;
    p->cap = cap;
    return true;
}

/* Append to the router (wait: replicas to wait for), with room for the
 * reply in the fifo. */
static int router_append(struct mqc_pconn *p, int argc, const char **argv, const size_t *lens,
                         int wait)
{
    /* Room for every reply still to come (in flight + this one). */
    size_t need = p->tail + mqc_router_pending(p->router) + 1;
    if (p->head > 0 && p->head == p->tail && mqc_router_pending(p->router) == 0) {
        p->head = p->tail = 0;
        need = 1;
    }
    if (!fifo_room(p, need))
        return MQC_ENOMEM;
    return mqc_router_append(p->router, argc, argv, lens, wait, on_reply, p);
}

int mqc_pconn_append(struct mqc_pconn *p, int argc, const char **argv, const size_t *lens)
{
    if (p->router)
        return router_append(p, argc, argv, lens, 0);
    if (!p->c || !ring_push(p, false))
        return MQC_ENOMEM;
    if (redisAppendCommandArgv(p->c, argc, argv, lens) != REDIS_OK) {
        p->ring_n--;
        return MQC_ENOMEM;
    }
    return MQC_OK;
}

int mqc_pconn_append_durable(struct mqc_pconn *p, int argc, const char **argv, const size_t *lens)
{
    if (p->wait_replicas <= 0)
        return mqc_pconn_append(p, argc, argv, lens);
    if (p->router)
        return router_append(p, argc, argv, lens, p->wait_replicas);
    /* One Redis: one WAIT after the last durable command, appended when
     * the first reply is asked for (single_wait). */
    if (!p->c || !ring_push(p, true))
        return MQC_ENOMEM;
    if (redisAppendCommandArgv(p->c, argc, argv, lens) != REDIS_OK) {
        p->ring_n--;
        p->ring_durable--;
        return MQC_ENOMEM;
    }
    return MQC_OK;
}

/* One Redis with durable commands appended: append one WAIT, read every
 * reply up to it into the fifo, the WAIT's answer as the durable ones'
 * acked. MQC_OK or MQC_EUNAVAIL (why set). */
static int single_wait(struct mqc_pconn *p, char *why, size_t len)
{
    char n[16], t[16];
    snprintf(n, sizeof n, "%d", p->wait_replicas);
    snprintf(t, sizeof t, "%d", p->timeout_ms / 4); /* as the router's */
    const char *w[] = {"WAIT", n, t};
    size_t count = p->ring_n;
    p->head = p->tail = 0;
    if (!fifo_room(p, count) || redisAppendCommandArgv(p->c, 3, w, NULL) != REDIS_OK) {
        snprintf(why, len, "out of memory");
        return MQC_EUNAVAIL;
    }
    for (size_t i = 0; i <= count; i++) {
        void *v = NULL;
        if (redisGetReply(p->c, &v) != REDIS_OK || !v) {
            snprintf(why, len, "%s", p->c->errstr[0] ? p->c->errstr : "no reply");
            fifo_clear(p);
            return MQC_EUNAVAIL;
        }
        if (i == count) { /* the WAIT */
            const redisReply *wr = v;
            long long acked = wr->type == REDIS_REPLY_INTEGER ? wr->integer : 0;
            for (size_t k = 0; k < count; k++)
                if (p->acked[k] == -2)
                    p->acked[k] = acked;
            freeReplyObject(v);
            break;
        }
        bool durable = p->ring[p->ring_head];
        p->ring_head = (p->ring_head + 1) % p->ring_cap;
        p->ring_n--;
        p->ring_durable -= durable;
        p->fifo[p->tail] = v;
        p->fifo_err[p->tail] = NULL;
        p->acked[p->tail++] = durable ? -2 : -1; /* -2: the WAIT's answer, below */
    }
    return MQC_OK;
}

redisReply *mqc_pconn_call_durable(struct mqc_pconn *p, int argc, const char **argv,
                                   const size_t *lens, bool *confirmed, char *why, size_t len)
{
    *confirmed = true;
    if (p->wait_replicas <= 0)
        return mqc_pconn_call(p, argc, argv, lens, 0, why, len);
    if (!p->up) {
        snprintf(why, len, "not connected");
        return NULL;
    }
    redisReply *r = NULL;
    if (mqc_pconn_append_durable(p, argc, argv, lens) != MQC_OK) {
        snprintf(why, len, "out of memory");
        return NULL;
    }
    return mqc_pconn_get_acked(p, &r, confirmed, why, len) == MQC_OK ? r : NULL;
}

int mqc_pconn_get(struct mqc_pconn *p, redisReply **out, char *why, size_t len)
{
    bool confirmed;
    return mqc_pconn_get_acked(p, out, &confirmed, why, len);
}

int mqc_pconn_get_acked(struct mqc_pconn *p, redisReply **out, bool *confirmed, char *why,
                        size_t len)
{
    *out = NULL;
    *confirmed = true;
    if (!p->router && p->head == p->tail) {
        if (p->ring_durable > 0) {
            if (!p->c || single_wait(p, why, len) != MQC_OK)
                return MQC_EUNAVAIL;
        } else {
            if (p->ring_n > 0) {
                p->ring_head = (p->ring_head + 1) % p->ring_cap;
                p->ring_n--;
            }
            void *v = NULL;
            if (!p->c || redisGetReply(p->c, &v) != REDIS_OK || !v) {
                snprintf(why, len, "%s", p->c && p->c->errstr[0] ? p->c->errstr : "no reply");
                return MQC_EUNAVAIL;
            }
            *out = v;
            return MQC_OK;
        }
    }
    if (p->router && p->head == p->tail && mqc_router_pending(p->router) > 0)
        mqc_router_flush(p->router);
    if (p->head == p->tail) {
        snprintf(why, len, "no reply pending");
        return MQC_EUNAVAIL;
    }
    size_t i = p->head++;
    if (!p->fifo[i]) {
        snprintf(why, len, "%s", p->fifo_err[i] ? p->fifo_err[i] : "unavailable");
        free(p->fifo_err[i]);
        p->fifo_err[i] = NULL;
        return MQC_EUNAVAIL;
    }
    if (p->acked[i] >= 0 && p->acked[i] < p->wait_replicas)
        *confirmed = false;
    *out = p->fifo[i];
    p->fifo[i] = NULL;
    return MQC_OK;
}
