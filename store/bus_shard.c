/* The bus's subscriber on a Redis Cluster: sharded pub/sub. A channel (the
 * node's own "<p>bus:n:<node>", the shared "<p>bus:all") lives in the slot
 * its name hashes to, like a key; the bus thread SSUBSCRIBEs it on the
 * primary serving that slot, one connection per distinct primary (so at
 * most two). The slot map comes from a router of the thread's own
 * (store/router.h: mqc_router_refresh and mqc_router_node_of only; no command
 * goes through it). Publishers SPUBLISH through the store's router, which
 * routes by the channel (store/router_slot.c), to that same primary.
 *
 * What takes a channel away, and what the thread does about it:
 * - the server's "sunsubscribe" push: the slot was migrated away (reshard)
 *   or the node stopped being a primary;
 * - the connection fails (a primary killed, a network cut);
 * - an error reply (MOVED) to SSUBSCRIBE: the map was stale;
 * - the map, reloaded every CHECK_MS, names another primary for the slot
 *   (a failover whose old primary hangs without closing the socket).
 * Then the map is reloaded and the channel subscribed again where it now
 * lives: at once, then every RETRY_MS while that fails (RETRY_SLOW_MS after
 * SLOW_AFTER_MS of failures, or when no node at all answered for the map).
 * The bus is down meanwhile and "resubscribed" once every channel is back
 * (mqc_bus_drain); the other channel keeps flowing. Bus thread only; it
 * never logs (its router is made quiet: store/bus.c). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "store/bus_int.h"
#include "store/internal.h"
#include "store/router.h"

#define CHECK_MS 1000      /* map check while every channel is up */
#define RETRY_MS 200       /* between attempts while a channel is down */
#define RETRY_SLOW_MS 2000 /* ... once it has been down SLOW_AFTER_MS */
#define SLOW_AFTER_MS 10000
#define IDLE_POLL_MS 200 /* how often an idle thread checks for stop */
#define ALL_CHANS ((1u << MQC_BUS__CHANS) - 1)

/* A subscriber connection to one primary. */
struct sconn {
    char addr[280];  /* "host:port", as the router names the primary */
    redisContext *c; /* NULL: unused */
    unsigned chans;  /* bit i: channel i is subscribed here */
};

struct shard {
    struct mqc_bus *b;
    struct sconn conn[MQC_BUS__CHANS];
    unsigned subscribed; /* bit i: channel i is subscribed (on one conn) */
    bool queued;         /* messages queued since the last wake */
    bool no_map;         /* the last attempt found no node to give a map */
    char why[1024];      /* why a channel is not subscribed */
};

/* Which of the bus's channels name is, or -1. */
static int chan_index(const struct mqc_bus *b, const char *name)
{
    for (int i = 0; i < MQC_BUS__CHANS; i++)
        if (!strcmp(name, b->chan[i]))
            return i;
    return -1;
}

static void wake(struct shard *s)
{
    if (s->queued && s->b->wake)
        s->b->wake(s->b->wake_ctx);
    s->queued = false;
}

/* Close connection k: its channels are no longer subscribed (why: the
 * reason, borrowed, or NULL to keep the current one). */
static void lose(struct shard *s, int k, const char *why)
{
    struct sconn *n = &s->conn[k];
    if (why)
        snprintf(s->why, sizeof s->why, "%s: %s", n->addr, why);
    s->subscribed &= ~n->chans;
    if (n->c)
        redisFree(n->c);
    memset(n, 0, sizeof *n);
}

/* Channel i is no longer subscribed on connection k (its server said so,
 * or it moved); the connection goes when it carries nothing else. */
static void drop_chan(struct shard *s, int k, int i)
{
    s->conn[k].chans &= ~(1u << i);
    s->subscribed &= ~(1u << i);
    if (!s->conn[k].chans)
        lose(s, k, NULL);
}

/* What reply r (borrowed) read on connection k says: a message (queued),
 * the server unsubscribing one of ours (dropped), a confirmation of
 * SSUBSCRIBE (returns the channel's index), an error reply (-2, why set),
 * anything else (-1). */
static int handle(struct shard *s, int k, const redisReply *r)
{
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(s->why, sizeof s->why, "%s: %s", s->conn[k].addr, r->str);
        return -2;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
        return -1;
    const char *kind = r->element[0]->str;
    if (!strcmp(kind, "smessage") && r->element[2]->type == REDIS_REPLY_STRING) {
        s->queued |=
            mqc_bus__queue(s->b, r->element[1]->str, r->element[2]->str, r->element[2]->len);
        return -1;
    }
    int i = chan_index(s->b, r->element[1]->str);
    if (i < 0)
        return -1;
    if (!strcmp(kind, "ssubscribe"))
        return i;
    if (!strcmp(kind, "sunsubscribe") && (s->conn[k].chans & (1u << i))) {
        snprintf(s->why, sizeof s->why, "%s: unsubscribed %s (slot %u moved)", s->conn[k].addr,
                 s->b->chan[i], s->b->slot[i]);
        drop_chan(s, k, i);
    }
    return -1;
}

/* The connection to the primary addr (borrowed): the open one, or a new
 * one. Its index, or -1 (why set). */
static int conn_for(struct shard *s, const char *addr)
{
    int free_k = -1;
    for (int k = 0; k < MQC_BUS__CHANS; k++) {
        if (s->conn[k].c && !strcmp(s->conn[k].addr, addr))
            return k;
        if (!s->conn[k].c && free_k < 0)
            free_k = k;
    }
    const char *colon = strrchr(addr, ':');
    if (free_k < 0 || !colon || colon == addr || strlen(addr) >= sizeof s->conn[0].addr) {
        snprintf(s->why, sizeof s->why, "no connection for %s", addr);
        return -1;
    }
    char host[280], err[160];
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    struct mqc_bus *b = s->b;
    redisContext *c =
        mqc_store__dial(host, atoi(colon + 1), NULL, b->timeout_ms, b->password, err, sizeof err);
    if (!c) {
        snprintf(s->why, sizeof s->why, "%s: %s", addr, err);
        return -1;
    }
    struct sconn *n = &s->conn[free_k];
    snprintf(n->addr, sizeof n->addr, "%s", addr);
    n->c = c;
    n->chans = 0;
    return free_k;
}

/* SSUBSCRIBE channel i on connection k and wait (timeout_ms) for the
 * confirmation, queueing what else arrives meanwhile. true when
 * subscribed; false with why set (a connection left carrying nothing is
 * closed). */
static bool subscribe_on(struct shard *s, int k, int i)
{
    struct sconn *n = &s->conn[k];
    const char *argv[] = {"SSUBSCRIBE", s->b->chan[i]};
    if (redisAppendCommandArgv(n->c, 2, argv, NULL) != REDIS_OK) {
        lose(s, k, "SSUBSCRIBE failed");
        return false;
    }
    for (;;) {
        void *v = NULL;
        if (redisGetReply(n->c, &v) != REDIS_OK || !v) {
            lose(s, k, n->c->errstr[0] ? n->c->errstr : "no reply to SSUBSCRIBE");
            return false;
        }
        int got = handle(s, k, v);
        freeReplyObject(v);
        if (got == i) {
            n->chans |= 1u << i;
            s->subscribed |= 1u << i;
            return true;
        }
        if (got == -2) {
            if (!n->chans)
                lose(s, k, NULL);
            return false;
        }
        if (!n->c) /* handle() dropped its last channel: the connection went */
            return false;
    }
}

/* Reload the map and subscribe every channel not subscribed where its slot
 * lives now. true when every channel is subscribed; false with why set. */
static bool subscribe_missing(struct shard *s)
{
    struct mqc_bus *b = s->b;
    s->no_map = mqc_router_refresh(b->router) != MQC_OK;
    if (s->no_map) {
        snprintf(s->why, sizeof s->why, "no slot map: %s", mqc_router_last_error(b->router));
        return false;
    }
    for (int i = 0; i < MQC_BUS__CHANS; i++) {
        if (s->subscribed & (1u << i))
            continue;
        const char *a = mqc_router_node_of(b->router, b->slot[i]);
        if (!a) {
            snprintf(s->why, sizeof s->why, "no primary serves slot %u (%s)", b->slot[i],
                     b->chan[i]);
            return false;
        }
        char addr[280];
        snprintf(addr, sizeof addr, "%s", a);
        int k = conn_for(s, addr);
        if (k < 0 || !subscribe_on(s, k, i))
            return false;
    }
    return s->subscribed == ALL_CHANS;
}

/* Every channel up: reload the map and move a channel whose slot another
 * primary serves now (its old one may hang without closing the socket, or
 * have missed telling us). A map that cannot be had changes nothing. */
static void check_map(struct shard *s)
{
    struct mqc_bus *b = s->b;
    if (mqc_router_refresh(b->router) != MQC_OK)
        return;
    for (int k = 0; k < MQC_BUS__CHANS; k++) {
        for (int i = 0; i < MQC_BUS__CHANS && s->conn[k].c; i++) {
            if (!(s->conn[k].chans & (1u << i)))
                continue;
            const char *a = mqc_router_node_of(b->router, b->slot[i]);
            if (!a || !strcmp(a, s->conn[k].addr))
                continue;
            snprintf(s->why, sizeof s->why, "%s: slot %u of %s moved to %s", s->conn[k].addr,
                     b->slot[i], b->chan[i], a);
            if (s->conn[k].chans == (1u << i)) {
                lose(s, k, NULL);
                continue;
            }
            /* The connection carries the other channel too: leave this one
             * (the confirmation is ignored: the bit is gone). */
            const char *argv[] = {"SUNSUBSCRIBE", b->chan[i]};
            int done = 0;
            drop_chan(s, k, i);
            if (redisAppendCommandArgv(s->conn[k].c, 2, argv, NULL) != REDIS_OK)
                lose(s, k, "SUNSUBSCRIBE failed");
            while (s->conn[k].c && !done) {
                if (redisBufferWrite(s->conn[k].c, &done) != REDIS_OK)
                    lose(s, k, s->conn[k].c->errstr);
            }
        }
    }
}

/* Read messages until a channel is lost, stop, or until_ms (monotonic).
 * The broker is woken after each batch (nothing more buffered). */
static void listen_all(struct shard *s, int64_t until_ms)
{
    while (s->subscribed == ALL_CHANS && !mqc_bus__stopping(s->b)) {
        for (int k = 0; k < MQC_BUS__CHANS; k++) {
            while (s->conn[k].c) {
                void *v = NULL;
                if (redisGetReplyFromReader(s->conn[k].c, &v) != REDIS_OK) {
                    lose(s, k, s->conn[k].c->errstr[0] ? s->conn[k].c->errstr : "protocol error");
                    break;
                }
                if (!v)
                    break;
                int got = handle(s, k, v);
                freeReplyObject(v);
                if (got == -2)
                    lose(s, k, NULL);
            }
        }
        wake(s);
        int64_t left = until_ms - mqc_clock_mono_ms();
        if (s->subscribed != ALL_CHANS || left <= 0)
            break;
        struct pollfd pfd[MQC_BUS__CHANS];
        int ks[MQC_BUS__CHANS], np = 0;
        for (int k = 0; k < MQC_BUS__CHANS; k++) {
            if (s->conn[k].c) {
                pfd[np] = (struct pollfd){.fd = s->conn[k].c->fd, .events = POLLIN};
                ks[np++] = k;
            }
        }
        int n = poll(pfd, (nfds_t)np, left < IDLE_POLL_MS ? (int)left : IDLE_POLL_MS);
        if (n < 0 && errno != EINTR) {
            for (int j = 0; j < np; j++)
                lose(s, ks[j], strerror(errno));
            break;
        }
        for (int j = 0; j < np && n > 0; j++) {
            struct sconn *c = &s->conn[ks[j]];
            if (pfd[j].revents && c->c && redisBufferRead(c->c) != REDIS_OK)
                lose(s, ks[j], c->c->errstr[0] ? c->c->errstr : "connection lost");
        }
    }
}

void mqc_bus__run_sharded(struct mqc_bus *b)
{
    struct shard s = {.b = b};
    int64_t down_since = -1;
    while (!mqc_bus__stopping(b)) {
        if (s.subscribed != ALL_CHANS) {
            int64_t now = mqc_clock_mono_ms();
            if (down_since < 0)
                down_since = now;
            bool ok = subscribe_missing(&s);
            wake(&s); /* what arrived while subscribing */
            if (!ok) {
                mqc_bus__set_state(b, false, s.why);
                bool slow = s.no_map || now - down_since >= SLOW_AFTER_MS;
                mqc_bus__pause(b, slow ? RETRY_SLOW_MS : RETRY_MS);
                continue;
            }
            down_since = -1;
            mqc_bus__set_state(b, true, NULL);
        }
        listen_all(&s, mqc_clock_mono_ms() + CHECK_MS);
        if (s.subscribed == ALL_CHANS && !mqc_bus__stopping(b))
            check_map(&s);
        if (s.subscribed != ALL_CHANS)
            mqc_bus__set_state(b, false, s.why);
    }
    for (int k = 0; k < MQC_BUS__CHANS; k++)
        lose(&s, k, NULL);
}
