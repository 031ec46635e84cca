/* Membership changes (create direct / group, add / remove / leave) as a
 * chain of single-slot steps (issue #16; docs/ARCHITECTURE.md "Redis layout
 * and Redis Cluster"), driven from the store's callbacks:
 * 1. user-slot reads, pipelined: does each user exist, whom does each block
 *    (EXISTS {u:U}:user, SMEMBERS {u:U}:blocked);
 * 2. the conversation step (mqc3_create_direct / mqc3_create_group /
 *    mqc3_change, one call in {c:C}): the checks with step 1's answers as
 *    flags, the conversation's truth, the member event and its job;
 * 3. one mqc2_user_conv per user who came in or went out (each in {u:U}),
 *    versioned by the membership version so concurrent changes converge,
 *    and for an add, pipelined with them, the members' blocked sets asked
 *    about the added users (SMISMEMBER): the presence pairs hidden by a
 *    block are computed here.
 * The caller's callback runs once, after step 3, with the result the single
 * call used to give. A broker killed between 2 and 3 leaves the user
 * indexes stale: mqchat-push re-applies the user steps from the member job
 * (store/jobs_expand.c), and the next change of the same users repairs them
 * too; readers skip a conversation of a stale index (mqc2_sync_conv). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/map.h"
#include "store/internal.h"
#include "store/keys.h"

enum run_kind { RUN_DIRECT, RUN_GROUP, RUN_CHANGE };

/* One membership change in flight. Strings of the result point into step
 * (the conversation step's reply) or into users / pre (owned here). */
struct member_run {
    struct mqc_store *s;
    mqc_store_change_cb cb;
    void *ctx;
    enum run_kind kind;
    bool add;       /* create or add: users come in */
    bool abandoned; /* the caller was told a queueing error: no callback */
    int rc;
    size_t pending; /* replies of the current stage still to come */
    char conv[MQC_ID_MAX + 1], by[MQC_ID_MAX + 1], op[8];
    char *title;
    int64_t now;
    size_t max;
    size_t n;
    char **users;      /* targets, members (creator first), or {a, b} */
    redisReply **pre;  /* 2 per user: EXISTS, SMEMBERS blocked (owned) */
    redisReply *step;  /* the conversation step's reply (owned) */
    redisReply **post; /* SMISMEMBER per member after an add (owned) */
    size_t npost;
    struct mqc_change_result res;
    const char **names; /* members, gone (into step) */
    const char **added; /* users who came in (into step or users) */
    size_t nadded;
    const char **hidden;  /* (who, from) pairs */
    size_t nhidden, hcap; /* pairs, capacity in strings */
};

static void run_free(struct member_run *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->users[i]);
    free(m->users);
    for (size_t i = 0; m->pre && i < 2 * m->n; i++)
        if (m->pre[i])
            freeReplyObject(m->pre[i]);
    free(m->pre);
    if (m->step)
        freeReplyObject(m->step);
    for (size_t i = 0; i < m->npost; i++)
        if (m->post[i])
            freeReplyObject(m->post[i]);
    free(m->post);
    free(m->names);
    free(m->added);
    free(m->hidden);
    free(m->title);
    free(m);
}

static const char *str_of(const redisReply *e)
{
    return (e && (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS)) ? e->str : "";
}

static int64_t int_of(const redisReply *e)
{
    if (e && e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e && e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

/* The caller's callback (unless abandoned), then everything is freed. */
static void finish(struct member_run *m)
{
    if (!m->abandoned) {
        struct mqc_change_result *res = &m->res;
        res->hidden = m->hidden;
        res->nhidden = m->nhidden;
        if (m->rc == MQC_OK && res->event)
            mqc_store__hint(m->s, m->conv, strlen(m->conv));
        m->cb(m->ctx, m->rc, res);
    }
    run_free(m);
}

/* One job's reply is in: the stage moves on when it was the last. */
static void stage_next(struct member_run *m);

static void stage_reply_done(struct member_run *m)
{
    if (--m->pending == 0)
        stage_next(m);
}

/* Queue a built command of this run's current stage. */
static int queue(struct member_run *m, struct mqc_store__args *a,
                 void (*done)(struct mqc_store__job *, int, redisReply *), void *slot)
{
    int rc = mqc_store__submit(m->s, a, done, slot, m);
    if (rc == MQC_OK)
        m->pending++;
    return rc;
}

/* ---- stage 1: user-slot reads ---- */

static void pre_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct member_run *m = j->ctx;
    redisReply **slot = j->cb;
    if (rc == MQC_OK && r) {
        *slot = r;
        j->keep_reply = true;
    } else if (m->rc == MQC_OK) {
        m->rc = rc == MQC_OK ? MQC_EINTERNAL : rc;
    }
    stage_reply_done(m);
}

/* Does user i exist (an unanswered read counts as yes: the read failed,
 * which fails the run anyway). */
static bool user_exists(const struct member_run *m, size_t i)
{
    const redisReply *r = m->pre[2 * i];
    return !r || r->type != REDIS_REPLY_INTEGER || r->integer != 0;
}

/* Does user i block who. */
static bool user_blocks(const struct member_run *m, size_t i, const char *who)
{
    const redisReply *r = m->pre[2 * i + 1];
    for (size_t k = 0; r && r->type == REDIS_REPLY_ARRAY && k < r->elements; k++)
        if (!strcmp(str_of(r->element[k]), who))
            return true;
    return false;
}

static int queue_pre(struct member_run *m)
{
    m->pre = calloc(2 * m->n + 1, sizeof *m->pre);
    if (!m->pre)
        return MQC_ENOMEM;
    for (size_t i = 0; i < m->n; i++) {
        struct mqc_store__args a = {0}, b = {0};
        mqc_store__args_str(&a, "EXISTS");
        mqc_store__args_user_key(&a, m->s, m->users[i], "user");
        int rc = queue(m, &a, pre_done, &m->pre[2 * i]);
        mqc_store__args_str(&b, "SMEMBERS");
        mqc_store__args_user_key(&b, m->s, m->users[i], "blocked");
        if (rc == MQC_OK)
            rc = queue(m, &b, pre_done, &m->pre[2 * i + 1]);
        else
            mqc_store__args_free(&b);
        if (rc != MQC_OK)
            return rc;
    }
    return MQC_OK;
}

/* ---- stage 2: the conversation step ---- */

/* The flag of user i for the conversation step: "n" no such user, "b"
 * blocks who (NULL: not asked), else "0". */
static const char *flag(const struct member_run *m, size_t i, const char *who)
{
    if (!user_exists(m, i))
        return "n";
    return who && user_blocks(m, i, who) ? "b" : "0";
}

static void step_done(struct mqc_store__job *j, int rc, redisReply *r);

static int queue_step(struct member_run *m)
{
    struct mqc_store__args a = {0};
    struct mqc_store *s = m->s;
    char jobs[MQC_KEY_MAX];
    bool jk = mqc_key_conv_jobs(s->prefix, m->conv, jobs, sizeof jobs) == MQC_OK;
    if (m->kind == RUN_DIRECT) {
        mqc_store__args_fcall(&a, "mqc3_create_direct", 2);
        mqc_store__args_conv_key(&a, s, m->conv, "meta");
        mqc_store__args_conv_key(&a, s, m->conv, "members");
        mqc_store__args_str(&a, m->users[0]);
        mqc_store__args_str(&a, m->users[1]);
        mqc_store__args_str(&a, m->conv);
        mqc_store__args_fmt(&a, "%lld", (long long)m->now);
        mqc_store__args_str(&a, flag(m, 0, NULL));
        mqc_store__args_str(&a, flag(m, 1, m->users[0]));
        mqc_store__args_str(&a, user_blocks(m, 0, m->users[1]) ? "1" : "0");
        return queue(m, &a, step_done, NULL);
    }
    mqc_store__args_fcall(&a, m->kind == RUN_GROUP ? "mqc3_create_group" : "mqc3_change", 5);
    mqc_store__args_conv_key(&a, s, m->conv, "meta");
    mqc_store__args_conv_key(&a, s, m->conv, "members");
    mqc_store__args_conv_key(&a, s, m->conv, "log");
    mqc_store__args_conv_key(&a, s, m->conv, "rcpt");
    if (!jk)
        a.failed = 1;
    else
        mqc_store__args_str(&a, jobs);
    if (m->kind == RUN_GROUP) {
        mqc_store__args_str(&a, m->users[0]);
        mqc_store__args_str(&a, m->conv);
        mqc_store__args_str(&a, m->title);
    } else {
        mqc_store__args_str(&a, m->by);
        mqc_store__args_str(&a, m->op);
        mqc_store__args_str(&a, m->conv);
    }
    mqc_store__args_fmt(&a, "%lld", (long long)m->now);
    mqc_store__args_fmt(&a, "%zu", m->max);
    for (size_t i = 0; i < m->n; i++) {
        mqc_store__args_str(&a, m->users[i]);
        const char *who = m->kind == RUN_GROUP ? m->users[0] : m->by;
        mqc_store__args_str(&a, m->pre ? flag(m, i, who) : "0");
    }
    return queue(m, &a, step_done, NULL);
}

/* The status word of the step's reply as an error code (MQC_OK for ok and
 * noop). */
static int step_status(const redisReply *r, const char **word)
{
    *word = "";
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return MQC_EINTERNAL;
    *word = str_of(r->element[0]);
    if (!strcmp(*word, "ok") || !strcmp(*word, "noop"))
        return MQC_OK;
    return mqc_store__error_word(*word);
}

/* Point out[0..n) at the strings of r->element[from..]. */
static const char **string_list(const redisReply *r, size_t from, size_t n)
{
    const char **out = calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++)
        out[i] = from + i < r->elements ? str_of(r->element[from + i]) : "";
    return out;
}

/* Parse the step's reply into m->res, m->added (the users who came in);
 * the users who went out are res.gone. *t: the event's time. */
static int step_parse(struct member_run *m, const redisReply *r, int64_t *t)
{
    const char *word;
    int rc = step_status(r, &word);
    struct mqc_change_result *res = &m->res;
    if ((rc == MQC_ENOTFOUND || rc == MQC_EFORBIDDEN) && r->elements > 1)
        res->missing = str_of(r->element[1]);
    if (rc != MQC_OK)
        return rc;
    if (!strcmp(word, "noop")) { /* noop, mver, a, members among the targets */
        res->noop = true;
        res->mver = int_of(r->elements > 1 ? r->element[1] : NULL);
        int64_t a = r->elements > 2 ? int_of(r->element[2]) : 0;
        if (a < 0 || 3 + (size_t)a > r->elements)
            return MQC_EINTERNAL;
        m->added = string_list(r, 3, (size_t)a);
        m->nadded = (size_t)a;
        return m->added ? MQC_OK : MQC_ENOMEM;
    }
    if (m->kind == RUN_DIRECT) { /* ok, created, mver, n, members */
        int64_t n = r->elements > 3 ? int_of(r->element[3]) : -1;
        if (n < 0 || 4 + (size_t)n > r->elements)
            return MQC_EINTERNAL;
        res->noop = int_of(r->element[1]) == 0;
        res->mver = int_of(r->element[2]);
        m->added = string_list(r, 4, (size_t)n);
        m->nadded = (size_t)n;
        /* the pair, as the single call gave it (a, b) */
        res->members = (const char *const *)m->users;
        res->nmembers = 2;
        return m->added ? MQC_OK : MQC_ENOMEM;
    }
    /* ok, seq, mver, event, t, n, members (n), g, gone (g), a, added (a) */
    int64_t n = r->elements > 5 ? int_of(r->element[5]) : -1;
    size_t at = 6 + (size_t)(n < 0 ? 0 : n);
    int64_t g = n >= 0 && at < r->elements ? int_of(r->element[at]) : -1;
    size_t at2 = at + 1 + (size_t)(g < 0 ? 0 : g);
    int64_t a = g >= 0 && at2 < r->elements ? int_of(r->element[at2]) : -1;
    if (n < 0 || g < 0 || a < 0 || at2 + 1 + (size_t)a != r->elements)
        return MQC_EINTERNAL;
    res->seq = int_of(r->element[1]);
    res->mver = int_of(r->element[2]);
    res->event = str_of(r->element[3]);
    res->event_len = r->element[3]->len;
    *t = int_of(r->element[4]);
    m->names = string_list(r, 6, r->elements - 6);
    if (!m->names)
        return MQC_ENOMEM;
    res->members = m->names;
    res->nmembers = (size_t)n;
    res->gone = m->names + n + 1;
    res->ngone = (size_t)g;
    if (m->kind == RUN_GROUP) { /* every member came in */
        m->added = string_list(r, 6, (size_t)n);
        m->nadded = (size_t)n;
    } else {
        m->added = string_list(r, at2 + 1, (size_t)a);
        m->nadded = (size_t)a;
    }
    return m->added ? MQC_OK : MQC_ENOMEM;
}

/* ---- stage 3: user steps and the add's reads ---- */

static void user_step_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct member_run *m = j->ctx;
    if (rc != MQC_OK || !r || r->type != REDIS_REPLY_ARRAY)
        /* The conversation changed: the caller hears of it; mqchat-push
         * (or the next change) repairs the index. */
        mqc_log(MQC_LOG_ERR,
                "store: a user's conversation index was not updated (conv=%s): "
                "mqchat-push repairs it",
                m->conv);
    stage_reply_done(m);
}

/* Queue mqc2_user_conv for user (in or out of m->conv as of mver). */
static int queue_user_step(struct member_run *m, const char *user, bool in, int64_t mver, int64_t t)
{
    struct mqc_store__args a = {0};
    mqc_store__args_fcall(&a, "mqc2_user_conv", 4);
    mqc_store__args_user_key(&a, m->s, user, "user");
    mqc_store__args_user_key(&a, m->s, user, "convs");
    mqc_store__args_user_key(&a, m->s, user, "gone");
    mqc_store__args_user_key(&a, m->s, user, "cver");
    mqc_store__args_str(&a, m->conv);
    mqc_store__args_fmt(&a, "%lld", (long long)mver);
    mqc_store__args_str(&a, in ? "in" : "out");
    mqc_store__args_fmt(&a, "%lld", (long long)t);
    return queue(m, &a, user_step_done, NULL);
}

/* A member's SMISMEMBER reply: kept; a failure only loses the pairs it
 * would have named (the change itself is done). */
static void post_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct member_run *m = j->ctx;
    redisReply **slot = j->cb;
    if (rc == MQC_OK && r) {
        *slot = r;
        j->keep_reply = true;
    }
    stage_reply_done(m);
}

/* SMISMEMBER {u:member}:blocked added... for each member after an add. */
static int queue_post(struct member_run *m)
{
    size_t n = m->res.nmembers;
    m->post = calloc(n ? n : 1, sizeof *m->post);
    if (!m->post)
        return MQC_ENOMEM;
    m->npost = n;
    for (size_t i = 0; i < n; i++) {
        struct mqc_store__args a = {0};
        mqc_store__args_str(&a, "SMISMEMBER");
        mqc_store__args_user_key(&a, m->s, m->res.members[i], "blocked");
        for (size_t k = 0; k < m->nadded; k++)
            mqc_store__args_str(&a, m->added[k]);
        int rc = queue(m, &a, post_done, &m->post[i]);
        if (rc != MQC_OK)
            return rc;
    }
    return MQC_OK;
}

static void step_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    struct member_run *m = j->ctx;
    int64_t t = 0;
    if (rc == MQC_OK && r) {
        m->step = r;
        j->keep_reply = true;
        rc = step_parse(m, r, &t);
    }
    m->pending--;
    if (rc != MQC_OK) {
        m->rc = rc;
        finish(m);
        return;
    }
    if (!m->res.noop) {
        struct mqc_store *s = m->s;
        if (s->member_step_hook)
            s->member_step_hook(m->conv, s->member_step_ctx); /* tests: may not return */
    }
    int qrc = MQC_OK;
    for (size_t i = 0; qrc == MQC_OK && i < m->nadded; i++)
        qrc = queue_user_step(m, m->added[i], true, m->res.mver, t);
    for (size_t i = 0; qrc == MQC_OK && !m->res.noop && i < m->res.ngone; i++)
        qrc = queue_user_step(m, m->res.gone[i], false, m->res.mver, t);
    if (qrc == MQC_OK && m->kind == RUN_CHANGE && m->add && !m->res.noop && m->nadded > 0)
        qrc = queue_post(m);
    if (qrc != MQC_OK)
        mqc_log(MQC_LOG_ERR, "store: cannot queue the user steps of a change (conv=%s)", m->conv);
    if (m->pending == 0)
        stage_next(m);
}

/* ---- the end: presence pairs hidden by blocks ---- */

static int pair(struct member_run *m, const char *who, const char *from)
{
    if (2 * m->nhidden + 2 > m->hcap) {
        size_t cap = m->hcap ? 2 * m->hcap : 16;
        const char **h = realloc(m->hidden, cap * sizeof *h);
        if (!h)
            return MQC_ENOMEM;
        m->hidden = h;
        m->hcap = cap;
    }
    m->hidden[2 * m->nhidden] = who;
    m->hidden[2 * m->nhidden + 1] = from;
    m->nhidden++;
    return MQC_OK;
}

/* The index in m->users of user, or n. */
static size_t user_index(const struct member_run *m, const char *user)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->users[i], user))
            return i;
    return m->n;
}

/* (who, from) pairs: presence of who hidden from from, among the users this
 * change brought together. Only a pair that could not see each other
 * before: a direct (a blocks b), a group's members among themselves, an
 * added user with every member. */
static int hidden_pairs(struct member_run *m)
{
    static char marker;
    if (m->kind == RUN_DIRECT) /* a blocks b: a's presence hidden from b */
        return user_blocks(m, 0, m->users[1]) ? pair(m, m->users[0], m->users[1]) : MQC_OK;
    if (m->res.noop || !m->add)
        return MQC_OK;
    struct mqc_map *members = mqc_map_new();
    int rc = members ? MQC_OK : MQC_ENOMEM;
    for (size_t i = 0; rc == MQC_OK && i < m->res.nmembers; i++)
        rc = mqc_map_put(members, m->res.members[i], &marker);
    /* who = an added user (or a group member), from = a member it blocks */
    for (size_t i = 0; rc == MQC_OK && i < m->nadded; i++) {
        /* a group's members come back in the order they were given */
        size_t u = m->kind == RUN_GROUP ? i : user_index(m, m->added[i]);
        const redisReply *b = u < m->n ? m->pre[2 * u + 1] : NULL;
        for (size_t k = 0; b && b->type == REDIS_REPLY_ARRAY && k < b->elements && rc == MQC_OK;
             k++)
            if (mqc_map_get(members, str_of(b->element[k])))
                rc = pair(m, m->added[i], str_of(b->element[k]));
    }
    /* who = a member, from = an added user the member blocks */
    for (size_t i = 0; rc == MQC_OK && i < m->npost; i++) {
        const redisReply *r = m->post[i];
        for (size_t k = 0;
             r && r->type == REDIS_REPLY_ARRAY && k < r->elements && k < m->nadded && rc == MQC_OK;
             k++)
            if (int_of(r->element[k]) == 1 && strcmp(m->res.members[i], m->added[k]))
                rc = pair(m, m->res.members[i], m->added[k]);
    }
    mqc_map_free(members);
    return rc;
}

/* The current stage is complete: move to the next. */
static void stage_next(struct member_run *m)
{
    if (m->abandoned) {
        run_free(m);
        return;
    }
    if (m->rc != MQC_OK) {
        finish(m);
        return;
    }
    if (!m->step) { /* stage 1 done */
        int rc = queue_step(m);
        if (rc != MQC_OK) {
            m->rc = rc;
            finish(m);
        }
        return;
    }
    /* stage 3 done */
    if (hidden_pairs(m) != MQC_OK)
        m->rc = MQC_ENOMEM;
    finish(m);
}

/* ---- the API ---- */

static struct member_run *run_new(struct mqc_store *s, enum run_kind kind, const char *conv,
                                  const char *const *users, size_t n, mqc_store_change_cb cb,
                                  void *ctx)
{
    if (!mqc_id_valid_str(conv))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!mqc_id_valid_str(users[i]))
            return NULL;
    struct member_run *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->s = s;
    m->cb = cb;
    m->ctx = ctx;
    m->kind = kind;
    snprintf(m->conv, sizeof m->conv, "%s", conv);
    m->users = calloc(n ? n : 1, sizeof *m->users);
    m->n = m->users ? n : 0;
    for (size_t i = 0; m->users && i < n; i++)
        if (!(m->users[i] = strdup(users[i]))) {
            run_free(m);
            return NULL;
        }
    if (!m->users) {
        free(m);
        return NULL;
    }
    return m;
}

/* Start m: stage 1 when reads are needed (pre), else the conversation step.
 * On an error nothing calls back: what was queued is abandoned. */
static int run_start(struct member_run *m, bool pre)
{
    int rc = pre ? queue_pre(m) : queue_step(m);
    if (rc == MQC_OK)
        return MQC_OK;
    if (m->pending == 0)
        run_free(m);
    else
        m->abandoned = true; /* freed when the queued ones come back */
    return rc;
}

int mqc_store_create_direct(struct mqc_store *s, const char *conv, const char *a_user,
                            const char *b_user, int64_t now_ms, mqc_store_change_cb cb, void *ctx)
{
    const char *pair_users[] = {a_user, b_user};
    struct member_run *m = run_new(s, RUN_DIRECT, conv, pair_users, 2, cb, ctx);
    if (!m)
        return MQC_EBADREQ;
    m->add = true;
    m->now = now_ms;
    return run_start(m, true);
}

int mqc_store_create_group(struct mqc_store *s, const char *conv, const char *title,
                           const char *const *members, size_t n, size_t max_members, int64_t now_ms,
                           mqc_store_change_cb cb, void *ctx)
{
    struct member_run *m = run_new(s, RUN_GROUP, conv, members, n, cb, ctx);
    if (!m)
        return MQC_EBADREQ;
    m->add = true;
    m->now = now_ms;
    m->max = max_members;
    m->title = strdup(title ? title : "");
    if (!m->title) {
        run_free(m);
        return MQC_ENOMEM;
    }
    return run_start(m, true);
}

int mqc_store_change(struct mqc_store *s, const char *conv, const char *by, const char *op,
                     const char *const *targets, size_t n, size_t max_members, int64_t now_ms,
                     mqc_store_change_cb cb, void *ctx)
{
    if (!mqc_id_valid_str(by) || strlen(op) >= 8)
        return MQC_EBADREQ;
    struct member_run *m = run_new(s, RUN_CHANGE, conv, targets, n, cb, ctx);
    if (!m)
        return MQC_EBADREQ;
    snprintf(m->by, sizeof m->by, "%s", by);
    snprintf(m->op, sizeof m->op, "%s", op);
    m->add = !strcmp(op, "add");
    m->now = now_ms;
    m->max = max_members;
    return run_start(m, m->add);
}

void mqc_store_set_member_step_hook(struct mqc_store *s, void (*fn)(const char *conv, void *ctx),
                                    void *ctx)
{
    s->member_step_hook = fn;
    s->member_step_ctx = ctx;
}
