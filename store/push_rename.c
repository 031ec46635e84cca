/* Renaming the push queue's keys of before the hash tag (see
 * push_rename.h). Plain single-key commands only, so it runs the same on
 * one Redis and, through the slot router, on a cluster (the two names are
 * in different slots: no RENAME). */
#include "store/push_rename.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/keys.h"

#define GROUP "mqchat-push"
#define CHUNK "500"

struct ren {
    mqc_store__push_call call;
    void *ctx;
    const char *old, *new;
    long long *moved;
};

/* EXISTS key into *yes. MQC_OK or MQC_EUNAVAIL. */
static int exists(struct ren *r, const char *key, bool *yes)
{
    const char *a[] = {"EXISTS", key};
    redisReply *x = r->call(r->ctx, 2, a, NULL);
    if (!x || x->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(x);
        return MQC_EUNAVAIL;
    }
    *yes = x->integer > 0;
    freeReplyObject(x);
    return MQC_OK;
}

/* Run a command whose reply is not needed; MQC_OK unless it failed. */
static int run(struct ren *r, int argc, const char **argv, const size_t *lens)
{
    redisReply *x = r->call(r->ctx, argc, argv, lens);
    freeReplyObject(x);
    return x ? MQC_OK : MQC_EUNAVAIL;
}

/* Retries of the old delayed set into the new one, removed from the old
 * as they go (ZADD of the same member is harmless). */
static int merge_zset(struct ren *r)
{
    for (;;) {
        const char *a[] = {"ZRANGE", r->old, "0", CHUNK, "WITHSCORES"};
        redisReply *x = r->call(r->ctx, 5, a, NULL);
        if (!x || x->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(x);
            return MQC_EUNAVAIL;
        }
        size_t n = x->elements / 2;
        if (n == 0) {
            freeReplyObject(x);
            return MQC_OK;
        }
        const char **add = calloc(2 + 2 * n, sizeof *add), **rem = calloc(2 + n, sizeof *rem);
        size_t *al = calloc(2 + 2 * n, sizeof *al), *rl = calloc(2 + n, sizeof *rl);
        int rc = add && rem && al && rl ? MQC_OK : MQC_ENOMEM;
        if (rc == MQC_OK) {
            add[0] = "ZADD", add[1] = r->new, rem[0] = "ZREM", rem[1] = r->old;
            al[0] = 4, al[1] = strlen(r->new), rl[0] = 4, rl[1] = strlen(r->old);
            for (size_t i = 0; i < n; i++) {
                const redisReply *m = x->element[2 * i], *s = x->element[2 * i + 1];
                add[2 + 2 * i] = s->str, al[2 + 2 * i] = s->len;
                add[3 + 2 * i] = m->str, al[3 + 2 * i] = m->len;
                rem[2 + i] = m->str, rl[2 + i] = m->len;
            }
            rc = run(r, (int)(2 + 2 * n), add, al);
            if (rc == MQC_OK)
                rc = run(r, (int)(2 + n), rem, rl);
            if (rc == MQC_OK)
                *r->moved += (long long)n;
        }
        free(add), free(rem), free(al), free(rl);
        freeReplyObject(x);
        if (rc != MQC_OK)
            return rc;
    }
}

/* Copy stream entry e ([id, [f, v, ...]]) into the new stream unless an
 * entry with its id is there: under its id when that is still free to
 * take, else under a new one. */
static int copy_entry(struct ren *r, const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !e->element[0]->str ||
        e->element[1]->type != REDIS_REPLY_ARRAY || e->element[1]->elements == 0)
        return MQC_OK; /* deleted: nothing to send */
    const char *id = e->element[0]->str;
    const char *q[] = {"XRANGE", r->new, id, id};
    redisReply *x = r->call(r->ctx, 4, q, NULL);
    if (!x || x->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(x);
        return MQC_EUNAVAIL;
    }
    bool there = x->elements > 0;
    freeReplyObject(x);
    if (there)
        return MQC_OK;
    const redisReply *f = e->element[1];
    const char **a = calloc(3 + f->elements, sizeof *a);
    size_t *l = calloc(3 + f->elements, sizeof *l);
    int rc = a && l ? MQC_OK : MQC_ENOMEM;
    if (rc == MQC_OK) {
        a[0] = "XADD", a[1] = r->new, a[2] = id;
        l[0] = 4, l[1] = strlen(r->new), l[2] = strlen(id);
        for (size_t i = 0; i < f->elements; i++)
            a[3 + i] = f->element[i]->str ? f->element[i]->str : "",
                  l[3 + i] = f->element[i]->str ? f->element[i]->len : 0;
        if (run(r, (int)(3 + f->elements), a, l) != MQC_OK) {
            a[2] = "*", l[2] = 1; /* id below the new stream's top: a new one */
            rc = run(r, (int)(3 + f->elements), a, l);
        }
        if (rc == MQC_OK)
            (*r->moved)++;
    }
    free(a);
    free(l);
    return rc;
}

/* The group's last-delivered id on the old stream into last ("0-0" when
 * it has no group: nothing was delivered). */
static int last_delivered(struct ren *r, char *last, size_t len)
{
    snprintf(last, len, "0-0");
    const char *a[] = {"XINFO", "GROUPS", r->old};
    redisReply *x = r->call(r->ctx, 3, a, NULL);
    if (!x || x->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(x);
        return MQC_EUNAVAIL;
    }
    for (size_t i = 0; i < x->elements; i++) {
        const redisReply *g = x->element[i];
        const char *name = NULL, *ld = NULL;
        for (size_t k = 0; g->type == REDIS_REPLY_ARRAY && k + 1 < g->elements; k += 2) {
            const char *f = g->element[k]->str, *v = g->element[k + 1]->str;
            if (f && v && !strcmp(f, "name"))
                name = v;
            else if (f && v && !strcmp(f, "last-delivered-id"))
                ld = v;
        }
        if (name && ld && !strcmp(name, GROUP))
            snprintf(last, len, "%s", ld);
    }
    freeReplyObject(x);
    return MQC_OK;
}

/* Entries of the old stream the group has not finished: pending ones (read,
 * not acknowledged), then those after its last-delivered id. */
static int merge_stream(struct ren *r)
{
    char last[64], from[80] = "-";
    int rc = last_delivered(r, last, sizeof last);
    for (bool more = true; rc == MQC_OK && more;) {
        const char *a[] = {"XPENDING", r->old, GROUP, from, "+", CHUNK};
        redisReply *x = r->call(r->ctx, 6, a, NULL);
        if (!x) /* NOGROUP: nothing pending */
            break;
        more = x->type == REDIS_REPLY_ARRAY && x->elements > 0;
        for (size_t i = 0; more && rc == MQC_OK && i < x->elements; i++) {
            const redisReply *p = x->element[i];
            if (p->type != REDIS_REPLY_ARRAY || p->elements < 1 || !p->element[0]->str)
                continue;
            const char *id = p->element[0]->str;
            snprintf(from, sizeof from, "(%s", id);
            const char *q[] = {"XRANGE", r->old, id, id};
            redisReply *e = r->call(r->ctx, 4, q, NULL);
            if (!e)
                rc = MQC_EUNAVAIL;
            else if (e->type == REDIS_REPLY_ARRAY && e->elements == 1)
                rc = copy_entry(r, e->element[0]);
            freeReplyObject(e);
        }
        freeReplyObject(x);
    }
    snprintf(from, sizeof from, "(%s", last);
    for (bool more = true; rc == MQC_OK && more;) {
        const char *a[] = {"XRANGE", r->old, from, "+", "COUNT", CHUNK};
        redisReply *x = r->call(r->ctx, 6, a, NULL);
        if (!x || x->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(x);
            return MQC_EUNAVAIL;
        }
        more = x->elements > 0;
        for (size_t i = 0; rc == MQC_OK && i < x->elements; i++) {
            const redisReply *e = x->element[i];
            rc = copy_entry(r, e);
            if (e->type == REDIS_REPLY_ARRAY && e->elements >= 1 && e->element[0]->str)
                snprintf(from, sizeof from, "(%s", e->element[0]->str);
        }
        freeReplyObject(x);
    }
    return rc;
}

/* r->old to r->new (a stream, or the delayed set) as push_rename.h says.
 * MQC_OK (also when there was nothing to move) or MQC_EUNAVAIL. */
static int move_key(struct ren *r, bool stream)
{
    bool had_old, had_new;
    int rc = exists(r, r->old, &had_old);
    if (rc != MQC_OK || !had_old)
        return rc;
    if ((rc = exists(r, r->new, &had_new)) != MQC_OK)
        return rc;
    if (!had_new) {
        const char *d[] = {"DUMP", r->old};
        redisReply *x = r->call(r->ctx, 2, d, NULL);
        if (!x)
            return MQC_EUNAVAIL;
        if (x->type != REDIS_REPLY_STRING) { /* gone meanwhile */
            freeReplyObject(x);
            return MQC_OK;
        }
        const char *a[] = {"RESTORE", r->new, "0", x->str};
        size_t l[] = {7, strlen(r->new), 1, x->len};
        redisReply *y = r->call(r->ctx, 4, a, l);
        freeReplyObject(x);
        if (y) {
            freeReplyObject(y);
            (*r->moved)++;
            const char *del[] = {"DEL", r->old};
            return run(r, 2, del, NULL);
        }
        /* BUSYKEY: another bridge restored it first; merge below. */
        if ((rc = exists(r, r->new, &had_new)) != MQC_OK || !had_new)
            return MQC_EUNAVAIL;
    }
    rc = stream ? merge_stream(r) : merge_zset(r);
    if (rc == MQC_OK) {
        const char *del[] = {"DEL", r->old};
        rc = run(r, 2, del, NULL);
    }
    return rc;
}

int mqc_store__push_rename(const char *prefix, mqc_store__push_call call, void *ctx,
                           long long *moved)
{
    char old_s[MQC_KEY_MAX], new_s[MQC_KEY_MAX], old_d[MQC_KEY_MAX], new_d[MQC_KEY_MAX];
    if (mqc_key_push(prefix, NULL, old_s, sizeof old_s) != MQC_OK ||
        mqc_key_push_queue(prefix, NULL, new_s, sizeof new_s) != MQC_OK ||
        mqc_key_push(prefix, "delay", old_d, sizeof old_d) != MQC_OK ||
        mqc_key_push_queue(prefix, "delay", new_d, sizeof new_d) != MQC_OK)
        return MQC_EINTERNAL;
    struct ren s = {call, ctx, old_s, new_s, moved}, d = {call, ctx, old_d, new_d, moved};
    int rc = move_key(&s, true);
    return rc == MQC_OK ? move_key(&d, false) : rc;
}
