/* Expanding slot jobs into per-user push jobs (see jobs.h and
 * jobs_internal.h): three pipelined rounds per batch of entries read from
 * one slot stream. Coalescing: the msg jobs of one conversation that follow
 * each other in the batch (no member job of it between them) form a run,
 * expanded once as its newest job: the counters are max-based, so counting
 * the newest m once is what counting each in turn ends with (each sender
 * of the run reads up to their own last message); the push decisions stay
 * per job. 1: mqc2_recipients of each job or run (conversation slot).
 * 2: mqc3_expand per batch of users (all the users of a job in one call, or
 * one call per user slot when by_slot is set: what a Redis Cluster needs,
 * forced there). 3: XADD of a push job ("<p>{push}", the fields store/pushq.c reads: user,
 * conv, seq, kind, from, badge, ts, preview) per user to push. Then one XACK
 * and one XDEL for the entries done. A job whose round fails is left pending:
 * the sweep expands it again (the counters are max-based, so that counts
 * nothing twice; a push may go out twice, never zero times). */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "store/internal.h"
#include "store/jobs_internal.h"

#define BATCH_USERS 1000 /* users per mqc3_expand call, at most */

/* One slot job: fields borrowed from the XREADGROUP reply. */
struct ev {
    const char *id, *conv, *kind, *from, *preview, *gone;
    const char *came; /* member jobs: users who came in (a), with v = mver */
    long long seq, m, ts, mver;
    bool readable; /* well formed: to expand */
    bool failed;   /* a round failed: leave it pending */
    size_t lead;   /* the job whose expansion covers this one (its run's newest; itself) */
    redisReply *rcpt;
    redisReply **exp; /* mqc3_expand replies (a run's: its leader's) */
    size_t nexp, npush, pushed_ok;
};

/* A user of an expansion: name (borrowed) and key slot (by_slot only). */
struct who {
    const char *user;
    unsigned slot;
    bool reset;     /* joined or left with this event */
    long long read; /* > 0: sent a msg of the run, read up to this m */
};

/* The order of the users of an mqc3_expand call: 0 reset, 1 read, 2 the others. */
static int who_rank(const struct who *w)
{
    return w->reset ? 0 : w->read > 0 ? 1 : 2;
}

/* A non-negative decimal integer (the whole of s, borrowed) into *out. */
static bool parse_ll(const char *s, long long *out)
{
    if (!s || !*s)
        return false;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 0)
        return false;
    *out = v;
    return true;
}

/* Fill e from entry [id, [field, value, ...]]; readable only when well
 * formed (a deleted entry reads [id, nil]). */
static void parse(const redisReply *entry, int64_t wall, struct ev *e)
{
    memset(e, 0, sizeof *e);
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING)
        return;
    e->id = entry->element[0]->str;
    const redisReply *f = entry->element[1];
    if (f->type != REDIS_REPLY_ARRAY)
        return;
    const char *s = NULL, *m = NULL, *ts = NULL;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const char *k = f->element[i]->str, *v = f->element[i + 1]->str;
        if (!k || !v)
            continue;
        if (!strcmp(k, "c"))
            e->conv = v;
        else if (!strcmp(k, "s"))
            s = v;
        else if (!strcmp(k, "m"))
            m = v;
        else if (!strcmp(k, "k"))
            e->kind = v;
        else if (!strcmp(k, "f"))
            e->from = v;
        else if (!strcmp(k, "ts"))
            ts = v;
        else if (!strcmp(k, "p"))
            e->preview = v;
        else if (!strcmp(k, "u"))
            e->gone = v;
        else if (!strcmp(k, "a"))
            e->came = v;
        else if (!strcmp(k, "v") && !parse_ll(v, &e->mver))
            e->mver = 0;
    }
    if (!e->from)
        e->from = "";
    e->ts = wall;
    if (!mqc_id_valid_str(e->conv) || !parse_ll(s, &e->seq) || e->seq < 1 || !e->kind ||
        (strcmp(e->kind, "msg") && strcmp(e->kind, "member")) ||
        (*e->from && !mqc_id_valid_str(e->from)) || (m && !parse_ll(m, &e->m)) ||
        (ts && !parse_ll(ts, &e->ts)))
        return;
    if (!m)
        e->m = e->seq; /* a job written before mc existed: seq counts */
    e->readable = true;
}

/* Read n pipelined replies into out[0..n) (owned; error replies logged and
 * kept). MQC_EUNAVAIL when the connection failed (dropped; out freed). */
static int replies(struct mqc_jobs *j, redisReply **out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char why[300];
        if (mqc_pconn_get(&j->pc, &out[i], why, sizeof why) != MQC_OK) {
            for (size_t k = 0; k < i; k++)
                freeReplyObject(out[k]);
            mqc_jobs__drop(j, why);
            return MQC_EUNAVAIL;
        }
        if (out[i]->type == REDIS_REPLY_ERROR)
            mqc_log(MQC_LOG_ERR, "jobs: redis refused a command: %.200s", out[i]->str);
    }
    return MQC_OK;
}

/* Whether r is a flat reply starting with "ok". */
static bool ok_reply(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
           r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "ok");
}

/* Append one mqc3_expand call for users w[0..n) of e (in who_rank()
 * order); m: the highest m of e's run. MQC_OK or MQC_ENOMEM. */
static int append_expand(struct mqc_jobs *j, const struct ev *e, long long m, const struct who *w,
                         size_t n, int64_t wall)
{
    static const char *const parts[] = {"unread", "presence", "mute", "devices"};
    struct mqc_store__args a = {0};
    char key[MQC_KEY_MAX];
    size_t nreset = 0, nread = 0;
    mqc_store__args_fcall(&a, "mqc3_expand", 4 * n);
    for (size_t i = 0; i < n; i++) {
        nreset += who_rank(&w[i]) == 0;
        nread += who_rank(&w[i]) == 1;
        for (size_t p = 0; p < 4; p++) {
            if (mqc_key_user_part(j->prefix, w[i].user, parts[p], key, sizeof key) != MQC_OK)
                a.failed = 1; /* cannot happen: users were checked */
            mqc_store__args_str(&a, key);
        }
    }
    mqc_store__args_str(&a, e->conv);
    mqc_store__args_fmt(&a, "%lld", m);
    mqc_store__args_str(&a, e->kind);
    mqc_store__args_fmt(&a, "%lld", (long long)wall);
    mqc_store__args_fmt(&a, "%zu", nreset);
    mqc_store__args_fmt(&a, "%zu", nread);
    for (size_t i = 0; i < n; i++)
        mqc_store__args_str(&a, w[i].user);
    for (size_t i = 0; i < n; i++)
        if (who_rank(&w[i]) == 1)
            mqc_store__args_fmt(&a, "%lld", w[i].read);
    int rc = a.failed ? MQC_ENOMEM : MQC_OK;
    if (rc == MQC_OK && mqc_pconn_append(&j->pc, a.n, (const char **)a.v, a.lens) != MQC_OK)
        rc = MQC_ENOMEM;
    mqc_store__args_free(&a);
    return rc;
}

/* qsort order for by_slot: by user slot, in who_rank() order in each. */
static int by_slot_cmp(const void *x, const void *y)
{
    const struct who *a = x, *b = y;
    if (a->slot != b->slot)
        return a->slot < b->slot ? -1 : 1;
    if (who_rank(a) != who_rank(b))
        return who_rank(a) < who_rank(b) ? -1 : 1;
    return strcmp(a->user, b->user);
}

/* Add user to w (n so far) unless invalid, or (check set) there already.
 * The members come from one hash (no duplicates): only the users who left
 * with the event are checked, so a big group costs O(members). */
static void add_user(struct who *w, size_t *n, const char *user, bool reset, bool check)
{
    if (!mqc_id_valid_str(user))
        return;
    for (size_t i = 0; check && i < *n; i++)
        if (!strcmp(w[i].user, user))
            return;
    char tag[80];
    int len = snprintf(tag, sizeof tag, "u:%s", user);
    w[*n] = (struct who){user, mqc_slot_of(tag, (size_t)len), reset, 0};
    (*n)++;
}

/* Round 2 for one job or run (ev[li], its newest): its users (joined with
 * it, then those who left with it, then the senders of the run's messages,
 * then the others), in batches. e->nexp: calls appended. gone: a writable
 * copy of e->gone (split here). MQC_OK or MQC_ENOMEM. */
static int plan_job(struct mqc_jobs *j, struct ev *ev, size_t nev, size_t li, char *gone,
                    int64_t wall)
{
    struct ev *e = &ev[li];
    const redisReply *r = e->rcpt;
    size_t nm = r->elements - 2, cap = nm + 1;
    for (const char *p = gone; p && *p; p++)
        cap += *p == ',';
    struct who *w = calloc(cap, sizeof *w);
    if (!w)
        return MQC_ENOMEM;
    size_t n = 0,
           joined = r->element[1]->type == REDIS_REPLY_INTEGER ? (size_t)r->element[1]->integer : 0;
    for (size_t i = 0; i < nm; i++) /* joined ones first: reset */
        add_user(w, &n, r->element[2 + i]->str, i < joined, false);
    char *save = NULL;
    for (char *u = gone ? strtok_r(gone, ",", &save) : NULL; u; u = strtok_r(NULL, ",", &save))
        add_user(w, &n, u, true, true);
    /* The senders of the run's messages (e's only, alone): read up to their
     * last one. The run's m is its newest's (m only grows with seq). */
    long long m = e->m;
    for (size_t i = 0; i < nev && !strcmp(e->kind, "msg"); i++) {
        if (ev[i].lead != li || !ev[i].readable)
            continue;
        if (ev[i].m > m)
            m = ev[i].m;
        for (size_t k = 0; k < n; k++)
            if (!w[k].reset && !strcmp(w[k].user, ev[i].from) && ev[i].m > w[k].read)
                w[k].read = ev[i].m;
    }
    /* mqc3_expand's order: reset, read, the others (any order in each). */
    size_t front = 0;
    for (int rank = 0; rank < 2; rank++) {
        for (size_t i = front; i < n; i++) {
            if (who_rank(&w[i]) == rank) {
                struct who t = w[front];
                w[front++] = w[i];
                w[i] = t;
            }
        }
    }
    if (j->by_slot)
        qsort(w, n, sizeof *w, by_slot_cmp);
    int rc = MQC_OK;
    for (size_t i = 0; i < n && rc == MQC_OK;) {
        size_t k = i + 1;
        while (k < n && k - i < BATCH_USERS && (!j->by_slot || w[k].slot == w[i].slot))
            k++;
        rc = append_expand(j, e, m, w + i, k - i, wall);
        if (rc == MQC_OK)
            e->nexp++;
        i = k;
    }
    free(w);
    return rc;
}

/* The runs: a msg job whose conversation's previous job in the batch is a
 * msg job joins that one's run; each run is led (expanded) by its newest
 * job (the highest seq); every other job leads itself. */
static void plan_runs(struct ev *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ev[i].lead = i;
        if (!ev[i].readable || strcmp(ev[i].kind, "msg"))
            continue;
        for (size_t p = i; p-- > 0;) {
            if (!ev[p].readable || strcmp(ev[p].conv, ev[i].conv))
                continue;
            if (!strcmp(ev[p].kind, "msg"))
                ev[i].lead = ev[p].lead; /* the run's first, for now */
            break;
        }
    }
    /* Each run's newest leads it: find it from the first, then point all. */
    for (size_t i = 0; i < n; i++) {
        if (ev[i].lead != i || !ev[i].readable || strcmp(ev[i].kind, "msg"))
            continue;
        size_t best = i;
        for (size_t k = i + 1; k < n; k++)
            if (ev[k].readable && ev[k].lead == i && ev[k].seq > ev[best].seq)
                best = k;
        for (size_t k = i; k < n; k++)
            if (ev[k].readable && ev[k].lead == i)
                ev[k].lead = best;
    }
}

/* Round 1: recipients of every readable job that leads. */
static int round_recipients(struct mqc_jobs *j, struct ev *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!ev[i].readable || ev[i].lead != i)
            continue;
        char mk[MQC_KEY_MAX], rk[MQC_KEY_MAX], seq[24];
        mqc_key_conv(j->prefix, ev[i].conv, "members", mk, sizeof mk);
        mqc_key_conv(j->prefix, ev[i].conv, "rcpt", rk, sizeof rk);
        snprintf(seq, sizeof seq, "%lld", ev[i].seq);
        const char *a[] = {"FCALL", "mqc2_recipients", "2", mk, rk, seq};
        if (mqc_pconn_append(&j->pc, 6, a, NULL) != MQC_OK)
            ev[i].failed = true; /* out of memory: leave it pending */
    }
    for (size_t i = 0; i < n; i++) {
        if (!ev[i].readable || ev[i].failed || ev[i].lead != i)
            continue;
        if (replies(j, &ev[i].rcpt, 1) != MQC_OK)
            return MQC_EUNAVAIL;
        const redisReply *r = ev[i].rcpt;
        if (!ok_reply(r) || r->elements < 2)
            ev[i].failed = true;
        for (size_t k = 2; !ev[i].failed && k < r->elements; k++)
            ev[i].failed = r->element[k]->type != REDIS_REPLY_STRING;
    }
    return MQC_OK;
}

/* Append mqc2_user_conv for each user of list (comma-separated, borrowed)
 * of member job e: in or out of e->conv as of e->mver. *n: calls appended. */
static int append_user_conv(struct mqc_jobs *j, const struct ev *e, const char *list, bool in,
                            size_t *n)
{
    static const char *const parts[] = {"user", "convs", "gone", "cver"};
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        char user[MQC_ID_MAX + 1];
        if (len <= MQC_ID_MAX) {
            memcpy(user, p, len);
            user[len] = '\0';
        } else {
            user[0] = '\0';
        }
        p += len + (p[len] == ',');
        if (!mqc_id_valid_str(user))
            continue;
        struct mqc_store__args a = {0};
        char key[MQC_KEY_MAX];
        mqc_store__args_fcall(&a, "mqc2_user_conv", 4);
        for (size_t k = 0; k < 4; k++) {
            if (mqc_key_user_part(j->prefix, user, parts[k], key, sizeof key) != MQC_OK)
                a.failed = 1;
            mqc_store__args_str(&a, key);
        }
        mqc_store__args_str(&a, e->conv);
        mqc_store__args_fmt(&a, "%lld", e->mver);
        mqc_store__args_str(&a, in ? "in" : "out");
        mqc_store__args_fmt(&a, "%lld", e->ts);
        int rc = a.failed ? MQC_ENOMEM : MQC_OK;
        if (rc == MQC_OK && mqc_pconn_append(&j->pc, a.n, (const char **)a.v, a.lens) != MQC_OK)
            rc = MQC_ENOMEM;
        mqc_store__args_free(&a);
        if (rc != MQC_OK)
            return rc;
        (*n)++;
    }
    return MQC_OK;
}

/* Round 1b, the repair of membership (store/member.c): a member job of a
 * change (v = its membership version) re-applies the users' index steps,
 * idempotent by version, so a broker killed between the conversation step
 * and the user steps loses nothing. */
static int round_user_conv(struct mqc_jobs *j, struct ev *ev, size_t n)
{
    size_t *calls = calloc(n ? n : 1, sizeof *calls);
    if (!calls)
        return MQC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct ev *e = &ev[i];
        if (!e->readable || e->failed || e->mver <= 0 || strcmp(e->kind, "member"))
            continue;
        if (append_user_conv(j, e, e->came, true, &calls[i]) != MQC_OK ||
            append_user_conv(j, e, e->gone, false, &calls[i]) != MQC_OK)
            e->failed = true; /* the appended ones are read below */
    }
    int rc = MQC_OK;
    for (size_t i = 0; i < n && rc == MQC_OK; i++) {
        for (size_t k = 0; k < calls[i]; k++) {
            redisReply *r;
            if (replies(j, &r, 1) != MQC_OK) {
                rc = MQC_EUNAVAIL;
                break;
            }
            if (!ok_reply(r))
                ev[i].failed = true;
            freeReplyObject(r);
        }
    }
    free(calls);
    return rc;
}

/* Round 2: the expand calls of every job that leads, and their replies. */
static int round_expand(struct mqc_jobs *j, struct ev *ev, size_t n, int64_t wall)
{
    for (size_t i = 0; i < n; i++) {
        if (!ev[i].readable || ev[i].failed || ev[i].lead != i)
            continue;
        char *gone = ev[i].gone ? strdup(ev[i].gone) : NULL;
        if ((ev[i].gone && !gone) || plan_job(j, ev, n, i, gone, wall) != MQC_OK)
            ev[i].failed = true; /* its appended calls are still read below */
        free(gone);
    }
    for (size_t i = 0; i < n; i++) {
        if (ev[i].nexp == 0)
            continue;
        ev[i].exp = calloc(ev[i].nexp, sizeof *ev[i].exp);
        if (!ev[i].exp) { /* read and throw away the replies */
            for (size_t k = 0; k < ev[i].nexp; k++) {
                redisReply *r;
                if (replies(j, &r, 1) != MQC_OK)
                    return MQC_EUNAVAIL;
                freeReplyObject(r);
            }
            ev[i].nexp = 0;
            ev[i].failed = true;
            continue;
        }
        if (replies(j, ev[i].exp, ev[i].nexp) != MQC_OK) {
            free(ev[i].exp);
            ev[i].exp = NULL;
            ev[i].nexp = 0;
            return MQC_EUNAVAIL;
        }
        for (size_t k = 0; k < ev[i].nexp; k++)
            if (!ok_reply(ev[i].exp[k]))
                ev[i].failed = true;
    }
    return MQC_OK;
}

/* Append the push job of (user, badge) for e. */
static int append_push(struct mqc_jobs *j, const struct ev *e, const redisReply *user,
                       long long badge)
{
    char seq[24], b[24], ts[24];
    snprintf(seq, sizeof seq, "%lld", e->seq);
    snprintf(b, sizeof b, "%lld", badge);
    snprintf(ts, sizeof ts, "%lld", e->ts);
    const char *a[] = {"XADD", j->k_push, "*",    "user",    user->str, "conv",  e->conv,
                       "seq",  seq,       "kind", e->kind,   "from",    e->from, "badge",
                       b,      "ts",      ts,     "preview", e->preview};
    int argc = (int)(sizeof a / sizeof *a) - (e->preview && *e->preview ? 0 : 2);
    return mqc_pconn_append_durable(&j->pc, argc, a, NULL);
}

/* An integer element of a reply (0 when it is not one). */
static long long int_of(const redisReply *r)
{
    return r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}

/* Whether job ev[i] pushes to the user of mqc3_expand's entry x (user,
 * total, r, c: r and c before the expansion), as one job at a time would
 * have decided: not its sender, and (msg) not read then: r and the m of
 * the user's own messages before it in the run below its m. *badge: the
 * total one job at a time would have given (the run's later messages and
 * reads taken back out; the total itself for a job alone). */
static bool wants_push(const struct ev *ev, size_t n, size_t i, redisReply *const *x,
                       long long *badge)
{
    const struct ev *e = &ev[i];
    *badge = int_of(x[1]);
    if (x[0]->type != REDIS_REPLY_STRING || !strcmp(x[0]->str, e->from))
        return false;
    if (strcmp(e->kind, "msg"))
        return true;
    long long r0 = int_of(x[2]), c0 = int_of(x[3]), r_i = r0, r_k = r0, m_k = e->m;
    for (size_t k = 0; k < n; k++) {
        if (!ev[k].readable || ev[k].lead != e->lead)
            continue;
        if (ev[k].m > m_k)
            m_k = ev[k].m;
        if (strcmp(ev[k].from, x[0]->str))
            continue;
        if (ev[k].m > r_k)
            r_k = ev[k].m;
        if (ev[k].seq < e->seq && ev[k].m > r_i)
            r_i = ev[k].m;
    }
    if (r_i >= e->m)
        return false;
    long long c_i = c0 > e->m ? c0 : e->m, c_k = c0 > m_k ? c0 : m_k;
    if (c_i < r_i)
        c_i = r_i;
    if (c_k < r_k)
        c_k = r_k;
    *badge -= (c_k - r_k) - (c_i - r_i);
    if (*badge < 0)
        *badge = 0;
    return true;
}

/* Round 3: the push jobs, per job (a run's from its leader's replies). A
 * job whose leader failed fails too (left pending: the sweep does it). */
static int round_push(struct mqc_jobs *j, struct ev *ev, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ev[i].readable && ev[ev[i].lead].failed)
            ev[i].failed = true;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].failed || !ev[i].readable)
            continue;
        const struct ev *l = &ev[ev[i].lead];
        for (size_t k = 0; k < l->nexp && !ev[i].failed; k++) {
            const redisReply *r = l->exp[k];
            for (size_t p = 1; p + 3 < r->elements; p += 4) {
                long long badge;
                if (!wants_push(ev, n, i, r->element + p, &badge))
                    continue;
                if (append_push(j, &ev[i], r->element[p], badge) != MQC_OK) {
                    ev[i].failed = true; /* the ones appended are read below */
                    break;
                }
                ev[i].npush++;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < ev[i].npush; k++) {
            redisReply *r;
            bool confirmed;
            char why[300];
            if (mqc_pconn_get_acked(&j->pc, &r, &confirmed, why, sizeof why) != MQC_OK) {
                mqc_jobs__drop(j, why);
                return MQC_EUNAVAIL;
            }
            if (r->type == REDIS_REPLY_ERROR) {
                mqc_log(MQC_LOG_ERR, "jobs: redis refused a push job: %.200s", r->str);
                ev[i].failed = true;
            } else {
                /* Not confirmed by enough replicas in time (a shard short
                 * of replicas): said and counted, and done all the same;
                 * expanding again would send every push of the job again
                 * at each sweep. */
                j->n.unconfirmed += !confirmed;
                ev[i].pushed_ok++;
            }
            freeReplyObject(r);
        }
    }
    return MQC_OK;
}

/* XACK and XDEL of the entries done (all of them, in two commands). */
static int ack(struct mqc_jobs *j, const char *key, struct ev *ev, size_t n, size_t *nacked)
{
    const char **a = calloc(n + 3, sizeof *a);
    if (!a)
        return MQC_ENOMEM;
    size_t ids = 0;
    for (size_t i = 0; i < n; i++)
        if (ev[i].id && !ev[i].failed)
            a[3 + ids++] = ev[i].id;
    int rc = MQC_OK;
    if (ids > 0) {
        a[0] = "XACK";
        a[1] = key;
        a[2] = MQC_JOBS_GROUP;
        size_t sent = mqc_pconn_append(&j->pc, (int)(3 + ids), a, NULL) == MQC_OK;
        a[1] = "XDEL"; /* XDEL key id...: the same ids, one slot to the right */
        a[2] = key;
        sent += sent && mqc_pconn_append(&j->pc, (int)(2 + ids), a + 1, NULL) == MQC_OK;
        redisReply *r[2] = {NULL, NULL};
        if (sent != 2)
            rc = MQC_ENOMEM;
        if (replies(j, r, sent) != MQC_OK)
            rc = MQC_EUNAVAIL;
        freeReplyObject(r[0]);
        freeReplyObject(r[1]);
        if (rc == MQC_OK)
            *nacked = ids;
    }
    free(a);
    return rc;
}

int mqc_jobs__expand(struct mqc_jobs *j, const char *key, const redisReply *entries, int64_t wall,
                     size_t *nacked)
{
    *nacked = 0;
    size_t n = entries->elements;
    if (n == 0)
        return MQC_OK;
    struct ev *ev = calloc(n, sizeof *ev);
    if (!ev)
        return MQC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = entries->element[i];
        parse(e, wall, &ev[i]);
        if (!ev[i].readable && ev[i].id && e->element[1]->type != REDIS_REPLY_NIL) {
            mqc_log(MQC_LOG_WARNING, "jobs: unreadable job dropped (key=%s id=%s)", key, ev[i].id);
            j->n.bad++;
        }
    }
    long long unconfirmed0 = j->n.unconfirmed;
    plan_runs(ev, n);
    int rc = round_recipients(j, ev, n);
    if (rc == MQC_OK)
        rc = round_user_conv(j, ev, n);
    if (rc == MQC_OK)
        rc = round_expand(j, ev, n, wall);
    if (rc == MQC_OK)
        rc = round_push(j, ev, n);
    size_t good = 0, pushes = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].readable && !ev[i].failed)
            good++;
        pushes += ev[i].pushed_ok;
    }
    j->n.pushes += (long long)pushes;
    if (j->n.unconfirmed > unconfirmed0)
        mqc_log(MQC_LOG_WARNING,
                "jobs: %lld push jobs not confirmed by %d replicas in time (key=%s): a failover "
                "of their primary now could lose them",
                j->n.unconfirmed - unconfirmed0, j->pc.wait_replicas, key);
    if (rc == MQC_OK)
        rc = ack(j, key, ev, n, nacked);
    if (rc == MQC_OK)
        j->n.events += (long long)good;
    for (size_t i = 0; i < n; i++) {
        freeReplyObject(ev[i].rcpt);
        for (size_t k = 0; k < ev[i].nexp; k++)
            freeReplyObject(ev[i].exp[k]);
        free(ev[i].exp);
    }
    free(ev);
    return rc;
}
