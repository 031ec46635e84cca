/* Replay ring: see replay.h. A circular array of events, oldest first; each
 * event is one allocation (header, recipients, names, conv, payload). */
#include "core/replay.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct rcpt {
    const char *user; /* into the event's block */
    uint16_t sent;    /* bit j: sent to nodes[j] for this user */
};

struct mqc_replay_ev {
    int64_t at, seq;
    int qos;
    bool sorted;
    size_t n, len, bytes;
    size_t nnodes;
    const char *nodes[MQC_REPLAY_MAX_NODES]; /* borrowed (see mqc_replay_mark) */
    const char *conv;                        /* into the block, or NULL */
    const char *payload;                     /* into the block */
    struct rcpt r[];
};

struct mqc_replay {
    int64_t window_ms;
    size_t cap, max_bytes;
    size_t head, count, bytes;
    struct mqc_replay_ev **ring;
};

struct mqc_replay *mqc_replay_new(int64_t window_ms, size_t max_events, size_t max_bytes)
{
    struct mqc_replay *r = calloc(1, sizeof *r);
    if (!r || max_events == 0)
        goto fail;
    r->window_ms = window_ms;
    r->cap = max_events;
    r->max_bytes = max_bytes;
    if (!(r->ring = calloc(max_events, sizeof *r->ring)))
        goto fail;
    return r;
fail:
    free(r);
    return NULL;
}

static void drop_oldest(struct mqc_replay *r)
{
    struct mqc_replay_ev *ev = r->ring[r->head];
    r->bytes -= ev->bytes;
    free(ev);
    r->ring[r->head] = NULL;
    r->head = (r->head + 1) % r->cap;
    r->count--;
}

void mqc_replay_free(struct mqc_replay *r)
{
    if (!r)
        return;
    while (r->count)
        drop_oldest(r);
    free(r->ring);
    free(r);
}

/* Forget what is past the window. */
static void expire(struct mqc_replay *r, int64_t now_ms)
{
    while (r->count && r->ring[r->head]->at < now_ms - r->window_ms)
        drop_oldest(r);
}

struct mqc_replay_ev *mqc_replay_add(struct mqc_replay *r, int64_t now_ms, const char *conv,
                                     int64_t seq, int qos, const char *const *users, size_t n,
                                     const char *payload, size_t len)
{
    size_t names = 0, cl = conv && seq >= 0 ? strlen(conv) + 1 : 0;
    for (size_t i = 0; i < n; i++)
        names += strlen(users[i]) + 1;
    size_t bytes = names + cl + len;
    if (bytes > r->max_bytes)
        return NULL;
    struct mqc_replay_ev *ev = malloc(sizeof *ev + n * sizeof ev->r[0] + bytes + 1);
    if (!ev)
        return NULL;
    *ev = (struct mqc_replay_ev){
        .at = now_ms, .seq = cl ? seq : -1, .qos = qos, .n = n, .len = len, .bytes = bytes};
    char *w = (char *)&ev->r[n];
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(users[i]) + 1;
        memcpy(w, users[i], l);
        ev->r[i] = (struct rcpt){.user = w, .sent = 0};
        w += l;
    }
    if (cl) {
        memcpy(w, conv, cl);
        ev->conv = w;
        w += cl;
    }
    memcpy(w, payload, len);
    w[len] = '\0';
    ev->payload = w;
    expire(r, now_ms);
    while (r->count && (r->count == r->cap || r->bytes + bytes > r->max_bytes))
        drop_oldest(r);
    r->ring[(r->head + r->count) % r->cap] = ev;
    r->count++;
    r->bytes += bytes;
    return ev;
}

/* The slot of node (compared by pointer) in ev, added when missing and
 * there is room; -1 when full. */
static int node_slot(struct mqc_replay_ev *ev, const char *node)
{
    for (size_t j = 0; j < ev->nnodes; j++) {
        if (ev->nodes[j] == node)
            return (int)j;
    }
    if (ev->nnodes == MQC_REPLAY_MAX_NODES)
        return -1;
    ev->nodes[ev->nnodes] = node;
    return (int)ev->nnodes++;
}

void mqc_replay_mark(struct mqc_replay_ev *ev, size_t i, const char *node)
{
    if (!ev || ev->sorted || i >= ev->n)
        return; /* marks come right after add, in the order of its users */
    int j = node_slot(ev, node);
    if (j >= 0)
        ev->r[i].sent |= (uint16_t)(1u << j);
}

static int cmp_rcpt(const void *a, const void *b)
{
    return strcmp(((const struct rcpt *)a)->user, ((const struct rcpt *)b)->user);
}

static struct rcpt *find(struct mqc_replay_ev *ev, const char *user)
{
    if (!ev->sorted) {
        qsort(ev->r, ev->n, sizeof ev->r[0], cmp_rcpt);
        ev->sorted = true;
    }
    struct rcpt key = {.user = user};
    return bsearch(&key, ev->r, ev->n, sizeof ev->r[0], cmp_rcpt);
}

size_t mqc_replay_user(struct mqc_replay *r, int64_t now_ms, int64_t since_ms, const char *user,
                       const char *node, mqc_replay_fn fn, void *ctx)
{
    expire(r, now_ms);
    size_t sent = 0, first = r->count;
    /* Events are in time order: look only at those since since_ms (a few
     * ms' worth), oldest first, so that they reach the node in order. */
    while (first > 0 && r->ring[(r->head + first - 1) % r->cap]->at >= since_ms)
        first--;
    for (size_t k = first; k < r->count; k++) {
        struct mqc_replay_ev *ev = r->ring[(r->head + k) % r->cap];
        struct rcpt *rc = find(ev, user);
        if (!rc)
            continue;
        int j = node_slot(ev, node);
        if (j >= 0 && (rc->sent & (1u << j)))
            continue;
        struct mqc_replay_out out = {ev->conv, ev->seq, ev->qos, ev->payload, ev->len};
        fn(ctx, &out);
        sent++;
        if (j >= 0)
            rc->sent |= (uint16_t)(1u << j);
    }
    return sent;
}

size_t mqc_replay_count(const struct mqc_replay *r)
{
    return r ? r->count : 0;
}
