/* Presence state machine (see presence.h). Users live in a map (kept after
 * they leave: their last_seen and what was published stay known, about a
 * hundred bytes per user this node has seen); devices in a map keyed by the
 * connection key. Changes wait in two FIFO queues: "now" (publish at the next
 * due()) and "grace" (going offline). Grace entries carry their deadline;
 * since the grace period is constant, deadlines grow along the queue, and an
 * entry made stale by a later departure of the same user is skipped (the
 * later departure queued its own entry). */
#include "core/presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/map.h"

#define PUBLISHED_UNKNOWN (-1)

struct user;

struct device {
    uintptr_t key;
    struct user *u;
    enum mqc_pstate st;
    struct device *next; /* in u->devices */
};

struct user {
    char *name;
    struct device *devices;
    size_t ndev;
    int published; /* enum mqc_pstate or PUBLISHED_UNKNOWN */
    int64_t last_seen;
    int64_t offline_at; /* when ndev became 0 */
    int queued_now, queued_grace; /* how many times in each queue */
};

struct qentry {
    struct user *u;
    int64_t deadline; /* grace queue only */
};

struct queue {
    struct qentry *v;
    size_t head, len, cap; /* ring buffer */
};

struct mqc_presence {
    struct mqc_map *users;   /* name -> struct user */
    struct mqc_map *devices; /* key (hex) -> struct device */
    struct queue now, grace;
    int64_t grace_ms;
};

static int q_push(struct queue *q, struct user *u, int64_t deadline)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        struct qentry *v = malloc(cap * sizeof *v);
        if (!v)
            return MQC_ENOMEM;
        for (size_t i = 0; i < q->len; i++)
            v[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = v;
        q->head = 0;
        q->cap = cap;
    }
    q->v[(q->head + q->len) % q->cap] = (struct qentry){u, deadline};
    q->len++;
    return MQC_OK;
}

static const struct qentry *q_peek(const struct queue *q)
{
    return q->len ? &q->v[q->head] : NULL;
}

static void q_pop(struct queue *q)
{
    q->head = (q->head + 1) % q->cap;
    q->len--;
}

static void keyname(uintptr_t key, char *buf, size_t size)
{
    snprintf(buf, size, "%jx", (uintmax_t)key);
}

struct mqc_presence *mqc_presence_new(int64_t grace_ms)
{
    struct mqc_presence *pr = calloc(1, sizeof *pr);
    if (!pr)
        return NULL;
    pr->users = mqc_map_new();
    pr->devices = mqc_map_new();
    pr->grace_ms = grace_ms;
    if (!pr->users || !pr->devices) {
        mqc_presence_free(pr);
        return NULL;
    }
    return pr;
}

static void free_user(const char *key, void *value, void *ctx)
{
    (void)key;
    (void)ctx;
    struct user *u = value;
    for (struct device *d = u->devices, *next; d; d = next) {
        next = d->next;
        free(d);
    }
    free(u->name);
    free(u);
}

void mqc_presence_free(struct mqc_presence *pr)
{
    if (!pr)
        return;
    if (pr->users)
        mqc_map_each(pr->users, free_user, NULL);
    mqc_map_free(pr->users);
    mqc_map_free(pr->devices);
    free(pr->now.v);
    free(pr->grace.v);
    free(pr);
}

static enum mqc_pstate state_of(const struct user *u)
{
    enum mqc_pstate st = MQC_PRESENCE_OFFLINE;
    for (const struct device *d = u->devices; d; d = d->next) {
        if (d->st > st)
            st = d->st;
    }
    return st;
}

static struct user *get_user(struct mqc_presence *pr, const char *name, bool create)
{
    struct user *u = mqc_map_get(pr->users, name);
    if (u || !create)
        return u;
    u = calloc(1, sizeof *u);
    if (!u || !(u->name = strdup(name)) || mqc_map_put(pr->users, name, u) != MQC_OK) {
        if (u)
            free(u->name);
        free(u);
        return NULL;
    }
    u->published = PUBLISHED_UNKNOWN;
    return u;
}

static void mark_now(struct mqc_presence *pr, struct user *u)
{
    if (!u->queued_now && q_push(&pr->now, u, 0) == MQC_OK)
        u->queued_now++;
}

static void mark_grace(struct mqc_presence *pr, struct user *u)
{
    if (q_push(&pr->grace, u, u->offline_at + pr->grace_ms) == MQC_OK)
        u->queued_grace++;
}

int mqc_presence_connect(struct mqc_presence *pr, uintptr_t key, const char *user, int64_t now)
{
    char k[32];
    keyname(key, k, sizeof k);
    if (mqc_map_get(pr->devices, k))
        return MQC_EEXIST;
    struct user *u = get_user(pr, user, true);
    struct device *d = u ? calloc(1, sizeof *d) : NULL;
    if (!d || mqc_map_put(pr->devices, k, d) != MQC_OK) {
        free(d);
        return MQC_ENOMEM;
    }
    d->key = key;
    d->u = u;
    d->st = MQC_PRESENCE_ONLINE;
    d->next = u->devices;
    u->devices = d;
    u->ndev++;
    u->last_seen = now;
    mark_now(pr, u);
    return MQC_OK;
}

void mqc_presence_disconnect(struct mqc_presence *pr, uintptr_t key, int64_t now)
{
    char k[32];
    keyname(key, k, sizeof k);
    struct device *d = mqc_map_del(pr->devices, k);
    if (!d)
        return;
    struct user *u = d->u;
    for (struct device **pp = &u->devices; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    }
    free(d);
    u->ndev--;
    u->last_seen = now;
    if (u->ndev > 0) {
        mark_now(pr, u); /* the remaining devices may all be away */
        return;
    }
    u->offline_at = now;
    if (pr->grace_ms <= 0)
        mark_now(pr, u);
    else
        mark_grace(pr, u);
}

int mqc_presence_set(struct mqc_presence *pr, uintptr_t key, enum mqc_pstate st, int64_t now)
{
    if (st != MQC_PRESENCE_ONLINE && st != MQC_PRESENCE_AWAY)
        return MQC_EBADREQ;
    char k[32];
    keyname(key, k, sizeof k);
    struct device *d = mqc_map_get(pr->devices, k);
    if (!d)
        return MQC_ENOTFOUND;
    d->st = st;
    d->u->last_seen = now;
    mark_now(pr, d->u);
    return MQC_OK;
}

bool mqc_presence_tracked(const struct mqc_presence *pr, uintptr_t key)
{
    return mqc_presence_user_of(pr, key) != NULL;
}

const char *mqc_presence_user_of(const struct mqc_presence *pr, uintptr_t key)
{
    char k[32];
    keyname(key, k, sizeof k);
    struct device *d = mqc_map_get(pr->devices, k);
    return d ? d->u->name : NULL;
}

size_t mqc_presence_devices(const struct mqc_presence *pr, const char *user)
{
    struct user *u = mqc_map_get(pr->users, user);
    return u ? u->ndev : 0;
}

enum mqc_pstate mqc_presence_state(const struct mqc_presence *pr, const char *user)
{
    struct user *u = mqc_map_get(pr->users, user);
    return u ? state_of(u) : MQC_PRESENCE_OFFLINE;
}

void mqc_presence_forget_published(struct mqc_presence *pr, const char *user)
{
    struct user *u = get_user(pr, user, false);
    if (!u)
        return; /* never seen here: nothing known to publish */
    u->published = PUBLISHED_UNKNOWN;
    if (u->ndev > 0)
        mark_now(pr, u);
    else if (!u->queued_grace)
        mark_grace(pr, u); /* publish the stamped offline once grace is over */
}

bool mqc_presence_offline_now(struct mqc_presence *pr, const char *user,
                              struct mqc_presence_change *out)
{
    struct user *u = get_user(pr, user, false);
    if (!u || u->ndev > 0 || u->published == MQC_PRESENCE_OFFLINE)
        return false;
    u->published = MQC_PRESENCE_OFFLINE; /* the grace entry then finds nothing to do */
    *out = (struct mqc_presence_change){
        .user = u->name, .state = MQC_PRESENCE_OFFLINE, .last_seen = u->last_seen, .devices = 0};
    return true;
}

void mqc_presence_mark_published(struct mqc_presence *pr, const char *user, enum mqc_pstate st,
                                 int64_t now)
{
    struct user *u = get_user(pr, user, false);
    if (u) {
        u->published = (int)st;
        u->last_seen = now;
    }
}

/* Publish u if its state differs from what was published. */
static void settle(struct user *u, int64_t now,
                   void (*fn)(const struct mqc_presence_change *c, void *ctx), void *ctx)
{
    enum mqc_pstate st = state_of(u);
    if ((int)st == u->published)
        return;
    struct mqc_presence_change c = {
        .user = u->name,
        .state = st,
        .last_seen = st == MQC_PRESENCE_OFFLINE ? u->last_seen : now,
        .devices = u->ndev,
    };
    u->published = (int)st;
    fn(&c, ctx);
}

int64_t mqc_presence_due(struct mqc_presence *pr, int64_t now,
                         void (*fn)(const struct mqc_presence_change *c, void *ctx), void *ctx)
{
    const struct qentry *e;
    /* Going offline waits for grace; anything else is published at once.
     * The now-queue is drained first so that a user who connected and left
     * within one pass is still seen as having left. */
    size_t n = pr->now.len;
    while (n-- > 0 && (e = q_peek(&pr->now))) {
        struct user *u = e->u;
        q_pop(&pr->now);
        u->queued_now--;
        if (u->ndev > 0 || pr->grace_ms <= 0 || u->published == PUBLISHED_UNKNOWN)
            settle(u, now, fn, ctx);
    }
    while ((e = q_peek(&pr->grace))) {
        struct user *u = e->u;
        bool stale = u->ndev == 0 && e->deadline < u->offline_at + pr->grace_ms;
        if (!stale && u->ndev == 0 && now < e->deadline)
            return e->deadline; /* still in grace (a rejoined user is settled now) */
        q_pop(&pr->grace);
        u->queued_grace--;
        if (!stale) /* a stale entry: the user left again later, and that entry decides */
            settle(u, now, fn, ctx);
    }
    return pr->now.len ? now : -1;
}

const char *mqc_presence_name(enum mqc_pstate st)
{
    switch (st) {
    case MQC_PRESENCE_ONLINE: return "online";
    case MQC_PRESENCE_AWAY: return "away";
    default: return "offline";
    }
}

int mqc_presence_parse(const char *name)
{
    if (!name)
        return -1;
    if (!strcmp(name, "online"))
        return MQC_PRESENCE_ONLINE;
    if (!strcmp(name, "away"))
        return MQC_PRESENCE_AWAY;
    if (!strcmp(name, "offline"))
        return MQC_PRESENCE_OFFLINE;
    return -1;
}

struct each_ctx {
    void (*fn)(const char *user, void *ctx);
    void *ctx;
};

static void each_user(const char *name, void *value, void *ctx)
{
    const struct user *u = value;
    struct each_ctx *e = ctx;
    if (u->devices)
        e->fn(name, e->ctx);
}

void mqc_presence_each_connected(const struct mqc_presence *pr,
                                 void (*fn)(const char *user, void *ctx), void *ctx)
{
    struct each_ctx e = {fn, ctx};
    mqc_map_each(pr->users, each_user, &e);
}
