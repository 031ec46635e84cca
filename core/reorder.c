/* Per-conversation delivery order: see reorder.h. A map from conversation
 * to its last delivered seq and the events waiting behind a gap (sorted by
 * seq); conversations with waiting events are also on a list, so deadlines
 * are checked without walking every conversation. States with nothing
 * waiting are dropped in a sweep once there are many: losing one only means
 * the next event of that conversation goes at once. */
#include "core/reorder.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/map.h"

#define SWEEP_AT 65536

struct item {
    struct item *next;
    int64_t seq, deadline;
    int qos;
    size_t nusers, len;
    char **users;
    char *payload;
};

struct state {
    int64_t last;    /* last seq delivered */
    int64_t last_ms; /* when it was delivered */
    struct item *waiting;
    struct state *next_waiting; /* on r->waiting_list while waiting != NULL */
    bool listed;
    char conv[];
};

struct mqc_reorder {
    struct mqc_map *convs; /* conv -> struct state (owned) */
    struct state *waiting_list;
    size_t nwaiting;
    int64_t wait_ms;
};

struct mqc_reorder *mqc_reorder_new(int64_t wait_ms)
{
    struct mqc_reorder *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (!(r->convs = mqc_map_new())) {
        free(r);
        return NULL;
    }
    r->wait_ms = wait_ms;
    return r;
}

static void item_free(struct item *it)
{
    for (size_t i = 0; i < it->nusers; i++)
        free(it->users[i]);
    free(it->users);
    free(it->payload);
    free(it);
}

static void state_free(const char *key, void *value, void *ctx)
{
    (void)key;
    (void)ctx;
    struct state *st = value;
    while (st->waiting) {
        struct item *it = st->waiting;
        st->waiting = it->next;
        item_free(it);
    }
    free(st);
}

void mqc_reorder_free(struct mqc_reorder *r)
{
    if (!r)
        return;
    mqc_map_each(r->convs, state_free, NULL);
    mqc_map_free(r->convs);
    free(r);
}

static void give(struct state *st, const struct item *it, mqc_reorder_fn fn, void *ctx)
{
    struct mqc_reorder_out out = {st->conv,   it->seq,     (const char *const *)it->users,
                                  it->nusers, it->payload, it->len,
                                  it->qos};
    fn(ctx, &out);
}

/* Hand over the waiting events that now follow st->last without a gap. */
static void release(struct mqc_reorder *r, struct state *st, int64_t now_ms, mqc_reorder_fn fn,
                    void *ctx)
{
    while (st->waiting && st->waiting->seq <= st->last + 1) {
        struct item *it = st->waiting;
        st->waiting = it->next;
        r->nwaiting--;
        if (it->seq > st->last)
            st->last = it->seq;
        give(st, it, fn, ctx);
        st->last_ms = now_ms;
        item_free(it);
    }
}

static struct item *copy_item(const struct mqc_reorder_out *ev, int64_t deadline)
{
    struct item *it = calloc(1, sizeof *it);
    if (!it)
        return NULL;
    it->seq = ev->seq;
    it->deadline = deadline;
    it->qos = ev->qos;
    it->len = ev->len;
    it->payload = malloc(ev->len + 1);
    it->users = calloc(ev->nusers ? ev->nusers : 1, sizeof *it->users);
    if (!it->payload || !it->users) {
        item_free(it);
        return NULL;
    }
    memcpy(it->payload, ev->payload, ev->len);
    it->payload[ev->len] = '\0';
    for (size_t i = 0; i < ev->nusers; i++) {
        if (!(it->users[i] = strdup(ev->users[i]))) {
            item_free(it);
            return NULL;
        }
        it->nusers++;
    }
    return it;
}

static bool idle(const char *key, void *value, void *ctx)
{
    (void)key;
    (void)ctx;
    struct state *st = value;
    if (st->waiting)
        return false;
    free(st);
    return true;
}

/* Forget conversations with nothing waiting. */
static void sweep(struct mqc_reorder *r)
{
    mqc_map_remove_if(r->convs, idle, NULL);
}

static struct state *state_for(struct mqc_reorder *r, const char *conv)
{
    struct state *st = mqc_map_get(r->convs, conv);
    if (st)
        return st;
    if (mqc_map_count(r->convs) >= SWEEP_AT)
        sweep(r);
    size_t len = strlen(conv);
    if (!(st = calloc(1, sizeof *st + len + 1)))
        return NULL;
    st->last = -1;
    memcpy(st->conv, conv, len + 1);
    if (mqc_map_put(r->convs, conv, st) != MQC_OK) {
        free(st);
        return NULL;
    }
    return st;
}

int mqc_reorder_offer(struct mqc_reorder *r, const struct mqc_reorder_out *ev, int64_t now_ms,
                      mqc_reorder_fn fn, void *ctx)
{
    struct state *st = state_for(r, ev->conv);
    if (!st) {
        fn(ctx, ev);
        return MQC_ENOMEM;
    }
    /* A conversation quiet for a while starts afresh: the events it missed
     * meanwhile were for users no longer here, not late. */
    if (!st->waiting && st->last >= 0 && now_ms - st->last_ms > r->wait_ms * 10)
        st->last = -1;
    if (st->last < 0 || ev->seq <= st->last + 1) {
        fn(ctx, ev);
        if (ev->seq > st->last)
            st->last = ev->seq;
        st->last_ms = now_ms;
        release(r, st, now_ms, fn, ctx);
        return MQC_OK;
    }
    /* A gap: wait, in seq order, for what is missing. */
    struct item *it = copy_item(ev, now_ms + r->wait_ms);
    if (!it) {
        fn(ctx, ev);
        return MQC_ENOMEM;
    }
    struct item **pp = &st->waiting;
    while (*pp && (*pp)->seq < it->seq)
        pp = &(*pp)->next;
    if (*pp && (*pp)->seq == it->seq) {
        item_free(it); /* the same event twice: once is enough */
        return MQC_OK;
    }
    it->next = *pp;
    *pp = it;
    r->nwaiting++;
    if (!st->listed) {
        st->listed = true;
        st->next_waiting = r->waiting_list;
        r->waiting_list = st;
    }
    return MQC_OK;
}

int64_t mqc_reorder_due(struct mqc_reorder *r, int64_t now_ms, mqc_reorder_fn fn, void *ctx)
{
    int64_t next = INT64_MAX;
    struct state **pp = &r->waiting_list;
    while (*pp) {
        struct state *st = *pp;
        /* The head waits longest (deadlines follow arrival, the head has the
         * lowest seq); any item past its deadline releases all before it. */
        for (struct item *it = st->waiting; it; it = it->next) {
            if (it->deadline <= now_ms)
                st->last = it->seq - 1; /* give up on the gap before it */
        }
        release(r, st, now_ms, fn, ctx);
        if (!st->waiting) {
            st->listed = false;
            *pp = st->next_waiting;
            continue;
        }
        for (struct item *it = st->waiting; it; it = it->next) {
            if (it->deadline < next)
                next = it->deadline;
        }
        pp = &st->next_waiting;
    }
    return next;
}

size_t mqc_reorder_waiting(const struct mqc_reorder *r)
{
    return r->nwaiting;
}
