/* Scenario `crowd` (S5 in bench/run): many connected, subscribed and (in
 * mqchat mode) authenticated users, and presence churn among them.
 *   - Clients 0 and 1 are a probe pair ({prefix}0a -> {prefix}0b, stream 0,
 *     like `pairs`), sending at the fixed --rate; its latency during the
 *     measured window is the scenario's latency (does churn stall delivery?).
 *   - Clients 2..N+1 are N idle users {prefix}{i}c, i = 0..N-1, each
 *     subscribed to its inbox (plain: to bench/i{i}). The run starts once all
 *     are connected; connect_seconds is the time that took (with argon2id for
 *     every first login in mqchat mode).
 *   - During the measured window, every 100 ms, --churn x N / 10 idle users
 *     (round robin) say DISCONNECT and close; each reconnects at the next
 *     100 ms tick, so 10% per second is --churn 0.1. reconnect_* is the time
 *     from the new TCP connect to its SUBACK.
 *   - The drain waits until every idle user is back (hooks->settled), so that
 *     with --hold-file every user is connected while bench/run measures the
 *     broker's RSS, Redis memory and the presence records.
 * Every pointer below is borrowed from b, which owns the state (b->scen). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "core/err.h"

#define FIRST_IDLE 2      /* clients 0 and 1 are the probe pair */
#define TICK_NS 100000000 /* churn step: 100 ms */
#define NEVER INT64_MAX

struct crowd_state {
    size_t n;            /* idle users */
    size_t up_first;     /* idle users connected during setup */
    int64_t t_connected; /* when the last of them was */
    size_t cursor;       /* next idle user to churn (0..n-1) */
    double acc;          /* fractional users owed to the churn */
    size_t *pending;     /* idle users closed at the last tick, reopened at the next; owned */
    size_t npending;
    size_t down;     /* idle users not connected and subscribed since the setup */
    int64_t *t_open; /* per idle user: when its reconnect started; owned */
    uint64_t churned, back, reopen_failed;
    struct mqc_hist *rec; /* reconnect times; owned */
};

static struct crowd_state *state(struct mqc_bench *b)
{
    return b->scen;
}

static void on_ready(struct mqc_bench *b, struct mqc_client *c, int64_t now)
{
    struct crowd_state *st = state(b);
    size_t i = c->idx - FIRST_IDLE;
    if (b->phase == MQC_PH_SETUP) {
        if (++st->up_first == st->n) {
            st->t_connected = now;
            mqc_bench__release(b);
        }
        return;
    }
    if (st->down > 0)
        st->down--;
    st->back++;
    mqc_hist_add(st->rec, now - st->t_open[i]);
}

/* Reopen the users closed at the last tick; during the measured window,
 * close the next batch. */
static int64_t tick(struct mqc_bench *b, int64_t now)
{
    struct crowd_state *st = state(b);
    for (size_t k = 0; k < st->npending; k++) {
        size_t i = st->pending[k];
        struct mqc_client *c = &b->c[FIRST_IDLE + i];
        if (c->state != MQC_CLIENT_CLOSED)
            continue;
        st->t_open[i] = now;
        if (mqc_bench__open(b, c) != MQC_OK)
            st->reopen_failed++; /* noted; it stays down, so the drain says so */
    }
    st->npending = 0;
    if (b->phase != MQC_PH_RUN)
        return NEVER; /* draining: nothing more to close */
    if (now < b->t_warm)
        return b->t_warm;
    if (now >= b->t_end)
        return NEVER;
    st->acc += (double)st->n * b->o.churn * ((double)TICK_NS / 1e9);
    size_t m = (size_t)st->acc;
    if (m > st->n)
        m = st->n;
    st->acc -= (double)m;
    for (size_t k = 0; k < m; k++) {
        size_t i = st->cursor;
        st->cursor = (st->cursor + 1) % st->n;
        struct mqc_client *c = &b->c[FIRST_IDLE + i];
        if (c->state != MQC_CLIENT_READY)
            continue; /* still reconnecting from an earlier round */
        mqc_bench__close(b, c);
        st->pending[st->npending++] = i;
        st->down++;
        st->churned++;
    }
    return now + TICK_NS;
}

static int settled(struct mqc_bench *b)
{
    struct crowd_state *st = state(b);
    return st->down == 0 && st->npending == 0;
}

static int report(struct mqc_bench *b, char *out, size_t size)
{
    struct crowd_state *st = state(b);
    double conn = st->t_connected > b->t_begin ? (double)(st->t_connected - b->t_begin) / 1e9 : 0;
    snprintf(out, size,
             " users=%zu idle=%zu connect_seconds=%.3f connect_rate=%.0f churn_per_s=%.0f"
             " reconnects=%" PRIu64 " back=%" PRIu64 " not_back=%zu reconnect_p50_ms=%.3f"
             " reconnect_p99_ms=%.3f reconnect_max_ms=%.3f",
             b->nc, st->n, conn, conn > 0 ? (double)b->nc / conn : 0, (double)st->n * b->o.churn,
             st->churned, st->back, st->down, (double)mqc_hist_quantile(st->rec, 0.50) / 1e6,
             (double)mqc_hist_quantile(st->rec, 0.99) / 1e6, (double)st->rec->max_ns / 1e6);
    if (st->down && !b->first_err[0])
        mqc_bench__note_err(b, "%zu churned users did not get back", st->down);
    return st->down != 0 || st->reopen_failed != 0;
}

static void crowd_free(void *scen)
{
    struct crowd_state *st = scen;
    if (st) {
        free(st->pending);
        free(st->t_open);
        free(st->rec);
    }
    free(st);
}

static const struct mqc_hooks hooks = {
    .ready = on_ready,
    .tick = tick,
    .settled = settled,
    .report = report,
    .free = crowd_free,
};

/* Client i of b: its names and subscription. */
static int name_client(struct mqc_bench *b, size_t i, const char *tag, size_t num, int role)
{
    struct mqc_client *c = &b->c[i];
    c->fd = -1;
    c->idx = (uint32_t)i;
    c->role = role;
    c->stream = role == MQC_ROLE_OWN ? -1 : 0;
    int n = snprintf(c->user, sizeof(c->user), "%s%zu%s", b->o.user_prefix, num, tag);
    snprintf(c->client_id, sizeof(c->client_id), "mqcb-%s-%zu", b->nonce, i);
    if (n < 0 || (size_t)n >= 65)
        return MQC_EBADREQ;
    if (b->o.mode == MQC_MODE_MQCHAT)
        snprintf(c->sub, sizeof(c->sub), "chat/u/%s/inbox", c->user);
    else if (role == MQC_ROLE_OWN)
        snprintf(c->sub, sizeof(c->sub), "bench/i%zu", num);
    else if (role == MQC_ROLE_RECEIVER)
        snprintf(c->sub, sizeof(c->sub), "bench/p0");
    return MQC_OK;
}

int mqc_crowd_setup(struct mqc_bench *b)
{
    if (b->o.rate <= 0) {
        fprintf(stderr, "mqc_bench: scenario crowd needs --rate R > 0 (the probe's rate)\n");
        return MQC_EBADREQ;
    }
    struct crowd_state *st = calloc(1, sizeof(*st));
    b->scen = st;
    b->hooks = &hooks;
    if (!st)
        return MQC_ENOMEM;
    st->n = (size_t)b->o.pairs;
    b->ns = 1;
    b->nc = st->n + FIRST_IDLE;
    b->c = calloc(b->nc, sizeof(*b->c));
    b->s = calloc(b->ns, sizeof(*b->s));
    st->pending = calloc(st->n, sizeof(*st->pending));
    st->t_open = calloc(st->n, sizeof(*st->t_open));
    st->rec = malloc(sizeof(*st->rec));
    if (!b->c || !b->s || !st->pending || !st->t_open || !st->rec)
        return MQC_ENOMEM;
    mqc_hist_init(st->rec);
    b->holds = 1; /* every idle user connected */
    struct mqc_stream *s = &b->s[0];
    s->sender = 0;
    s->receiver = 1;
    s->n_recv = 1;
    snprintf(s->req, sizeof(s->req), "c%s-probe", b->nonce);
    if (b->o.mode == MQC_MODE_PLAIN) {
        s->topic_len = (size_t)snprintf(s->topic, sizeof(s->topic), "bench/p0");
        s->ready = 1;
    }
    int rc = name_client(b, 0, "a", 0, MQC_ROLE_SENDER);
    if (rc == MQC_OK)
        rc = name_client(b, 1, "b", 0, MQC_ROLE_RECEIVER);
    for (size_t i = 0; rc == MQC_OK && i < st->n; i++)
        rc = name_client(b, FIRST_IDLE + i, "c", i, MQC_ROLE_OWN);
    return rc;
}
