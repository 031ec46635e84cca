/* routerctl: drives store/router.c against a running Redis Cluster, one
 * command per stdin line, one answer line per command on stdout, so that a
 * Python test (tests/integration/test_redis_cluster.py) can change the
 * cluster (kill a primary, migrate a slot) between commands.
 *
 *   routerctl SEEDS [--library FILE] [--timeout MS] [--retry MS]
 *
 * --library: FILE is a function library loaded (FUNCTION LOAD REPLACE) on
 * every primary connection by the router's on_connect hook; "--library
 * mqchat" loads the store's own library (store/mqchat.lua) with the
 * store's hook, mqc_store__library_hook. Lines (words
 * separated by single spaces; arguments cannot contain spaces):
 *   call ARG...           one blocking command: "ok REPLY" | "unavail WHY"
 *   wait N ARG...         the command then WAIT N: "ok ACKED REPLY" | "unavail WHY"
 *   pipe CMD | CMD ...    one pipeline: "pipe I:REPLY I:REPLY..." in callback order
 *   burst N PREFIX        N SETs then N GETs of PREFIX{i}:i, pipelined in one
 *                         flush each: "ok N" when every reply is right and in
 *                         order, else "bad ..."
 *   check N PREFIX        the GETs of burst only: "ok N" | "bad ..."
 *   overlap N P PREFIX    N SETs over P passes the broker's way (send, then
 *                         harvest without waiting; drain at the end), then
 *                         checked as `check`: "ok N" | "bad ..."
 *   incr N P KEY          N INCRs of KEY over P passes the broker's way: the
 *                         answers must be 1..N in order: "ok N" | "bad ..."
 *   timed N W PREFIX      N SETs one flush each (with WAIT W when W > 0),
 *                         then N in one flush: "ok US_EACH US_PIPELINED"
 *   each ARG...           on every primary: "each ADDR=REPLY;ADDR=REPLY..."
 *   node SLOT             the primary of SLOT now: "node ADDR" | "node none"
 *   slot ARG...           the slot the command is routed by: "slot N"
 *   refresh               reload the map: "ok" | "unavail WHY"
 *   stats                 "stats moved=N ask=N tryagain=N clusterdown=N
 *                         refreshes=N conn_errors=N hooks=N"
 * REPLY: integer ":N", string as is, status "+S", error "-S", nil "nil",
 * array "[A,B]". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "store/internal.h"
#include "store/router.h"

#define MAX_ARGS 512

static char *library;

static int load_library(redisContext *c, void *ctx, char *err, size_t errlen)
{
    (void)ctx;
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", library};
    redisReply *r = redisCommandArgv(c, 4, argv, NULL);
    int rc = 0;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "FUNCTION LOAD: %s", r ? r->str : c->errstr);
        rc = -1;
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

static void put_reply(FILE *f, const redisReply *r)
{
    switch (r->type) {
    case REDIS_REPLY_INTEGER:
        fprintf(f, ":%lld", r->integer);
        break;
    case REDIS_REPLY_STRING:
        fputs(r->str, f);
        break;
    case REDIS_REPLY_STATUS:
        fprintf(f, "+%s", r->str);
        break;
    case REDIS_REPLY_ERROR:
        fprintf(f, "-%s", r->str);
        break;
    case REDIS_REPLY_ARRAY:
        fputc('[', f);
        for (size_t i = 0; i < r->elements; i++) {
            if (i)
                fputc(',', f);
            put_reply(f, r->element[i]);
        }
        fputc(']', f);
        break;
    default:
        fputs("nil", f);
    }
}

static int split(char *line, const char **argv)
{
    int n = 0;
    for (char *tok = strtok(line, " "); tok && n < MAX_ARGS; tok = strtok(NULL, " "))
        argv[n++] = tok;
    return n;
}

struct piped {
    int index;
    int rc;
    long long acked;
    char text[256];
    int *order; /* where callbacks write their index, in callback order */
    int *norder;
};

static void piped_done(void *ctx, struct mqc_router_result *res)
{
    struct piped *p = ctx;
    p->rc = res->rc;
    p->acked = res->acked;
    if (res->rc == MQC_OK) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f) {
            put_reply(f, res->reply);
            fclose(f);
            snprintf(p->text, sizeof p->text, "%s", buf);
            free(buf);
        }
    } else {
        snprintf(p->text, sizeof p->text, "%s", res->error ? res->error : "?");
    }
    p->order[(*p->norder)++] = p->index;
}

static void cmd_pipe(struct mqc_router *r, int argc, const char **argv)
{
    static struct piped p[MAX_ARGS];
    static int order[MAX_ARGS];
    int norder = 0, n = 0;
    for (int i = 1; i < argc;) {
        int k = i;
        while (k < argc && strcmp(argv[k], "|"))
            k++;
        p[n] = (struct piped){.index = n, .order = order, .norder = &norder};
        if (k > i && mqc_router_append(r, k - i, argv + i, NULL, 0, piped_done, &p[n]) == MQC_OK)
            n++;
        i = k + 1;
    }
    mqc_router_flush(r);
    printf("pipe");
    for (int i = 0; i < norder; i++)
        printf(" %d:%s%s", order[i], p[order[i]].rc == MQC_OK ? "" : "!", p[order[i]].text);
    printf("\n");
}

struct burst {
    int expect_i; /* the index the next callback must carry */
    int bad;
    char why[200];
};

struct burst_one {
    struct burst *b;
    int i;
    char want[32]; /* the reply expected: "OK" or the value */
};

static void burst_done(void *ctx, struct mqc_router_result *res)
{
    struct burst_one *o = ctx;
    struct burst *b = o->b;
    if (!b->bad && o->i != b->expect_i) {
        b->bad = 1;
        snprintf(b->why, sizeof b->why, "callback %d came when %d was due", o->i, b->expect_i);
    } else if (!b->bad &&
               (res->rc != MQC_OK || !res->reply->str || strcmp(res->reply->str, o->want))) {
        b->bad = 1;
        snprintf(b->why, sizeof b->why, "reply %d: %s", o->i,
                 res->rc == MQC_OK ? (res->reply->str ? res->reply->str : "(no string)")
                                   : res->error);
    }
    b->expect_i++;
}

/* first_pass 0: SETs then GETs; 1: GETs only (keys of an earlier burst). */
static void cmd_burst(struct mqc_router *r, int n, const char *prefix, int first_pass)
{
    struct burst_one *ones = calloc((size_t)n, sizeof *ones);
    struct burst b = {0, 0, ""};
    if (!ones) {
        printf("bad out of memory\n");
        return;
    }
    for (int pass = first_pass; pass < 2 && !b.bad; pass++) {
        b.expect_i = 0;
        for (int i = 0; i < n; i++) {
            char key[128], val[32];
            snprintf(key, sizeof key, "%s{%d}:%d", prefix, i, i);
            snprintf(val, sizeof val, "v%d", i);
            ones[i] = (struct burst_one){.b = &b, .i = i};
            snprintf(ones[i].want, sizeof ones[i].want, "%s", pass == 0 ? "OK" : val);
            const char *set[] = {"SET", key, val}, *get[] = {"GET", key};
            if (mqc_router_append(r, pass == 0 ? 3 : 2, pass == 0 ? set : get, NULL, 0, burst_done,
                                  &ones[i]) != MQC_OK) {
                b.bad = 1;
                snprintf(b.why, sizeof b.why, "append failed");
            }
        }
        mqc_router_flush(r);
        if (!b.bad && b.expect_i != n) {
            b.bad = 1;
            snprintf(b.why, sizeof b.why, "%d callbacks for %d commands", b.expect_i, n);
        }
    }
    if (b.bad)
        printf("bad %s\n", b.why);
    else
        printf("ok %d\n", n);
    free(ones);
}

/* The broker's way (store/batch.c): each of `passes` passes appends n/passes
 * SETs and sends them, then takes whatever replies have arrived without
 * waiting (harvest 0); at the end, harvest until nothing is pending. Then
 * the same keys read back in one flush. Answers in order and right: "ok N". */
static void cmd_overlap(struct mqc_router *r, int n, int passes, const char *prefix)
{
    struct burst_one *ones = calloc((size_t)n, sizeof *ones);
    struct burst b = {0, 0, ""};
    if (!ones || passes < 1) {
        printf("bad arguments\n");
        free(ones);
        return;
    }
    int per = (n + passes - 1) / passes;
    for (int i = 0; i < n && !b.bad; i++) {
        char key[128], val[32];
        snprintf(key, sizeof key, "%s{%d}:%d", prefix, i, i);
        snprintf(val, sizeof val, "v%d", i);
        ones[i] = (struct burst_one){.b = &b, .i = i, .want = "OK"};
        const char *set[] = {"SET", key, val};
        if (mqc_router_append(r, 3, set, NULL, 0, burst_done, &ones[i]) != MQC_OK)
            b.bad = 1;
        if ((i + 1) % per == 0 || i + 1 == n) {
            mqc_router_send(r);
            mqc_router_harvest(r, 0);
        }
    }
    for (int k = 0; k < 1000 && mqc_router_pending(r); k++)
        mqc_router_harvest(r, 50);
    if (!b.bad && (b.expect_i != n || mqc_router_pending(r))) {
        b.bad = 1;
        snprintf(b.why, sizeof b.why, "%d answers for %d commands, %zu pending", b.expect_i, n,
                 mqc_router_pending(r));
    }
    free(ones);
    if (b.bad) {
        printf("bad %s\n", b.why);
        return;
    }
    cmd_burst(r, n, prefix, 1);
}

struct incr {
    long long next; /* the value the next answer must carry */
    int bad;
    char why[300];
};

static void incr_done(void *ctx, struct mqc_router_result *res)
{
    struct incr *c = ctx;
    if (!c->bad && (res->rc != MQC_OK || res->reply->type != REDIS_REPLY_INTEGER ||
                    res->reply->integer != c->next)) {
        c->bad = 1;
        snprintf(c->why, sizeof c->why, "answer %lld: %s", c->next,
                 res->rc != MQC_OK ? res->error : "out of order");
    }
    c->next++;
}

/* n INCRs of key over `passes` passes the broker's way (send, harvest 0):
 * they must run in submission order, whatever the cluster does meanwhile,
 * so the answers are 1..n. "ok N" | "bad WHY". */
static void cmd_incr(struct mqc_router *r, int n, int passes, const char *key)
{
    struct incr c = {1, 0, ""};
    int per = passes > 0 ? (n + passes - 1) / passes : n;
    for (int i = 0; i < n; i++) {
        const char *argv[] = {"INCR", key};
        if (mqc_router_append(r, 2, argv, NULL, 0, incr_done, &c) != MQC_OK) {
            printf("bad append failed\n");
            return;
        }
        if ((i + 1) % per == 0 || i + 1 == n) {
            mqc_router_send(r);
            mqc_router_harvest(r, 0);
        }
    }
    for (int k = 0; k < 1000 && mqc_router_pending(r); k++)
        mqc_router_harvest(r, 50);
    if (!c.bad && c.next != n + 1)
        snprintf(c.why, sizeof c.why, "%lld answers for %d", c.next - 1, n), c.bad = 1;
    if (c.bad)
        printf("bad %s\n", c.why);
    else
        printf("ok %d\n", n);
}

struct timed {
    int w, answered, bad;
    char why[300];
};

static void timed_done(void *ctx, struct mqc_router_result *res)
{
    struct timed *t = ctx;
    t->answered++;
    if (!t->bad && (res->rc != MQC_OK || (t->w > 0 && res->acked < t->w))) {
        t->bad = 1;
        snprintf(t->why, sizeof t->why, "%s acked=%lld", res->rc == MQC_OK ? "ok" : res->error,
                 res->acked);
    }
}

/* n SETs one after the other, each in its own flush, each asking for w
 * replicas when w > 0; then n more in one flush: "ok US_EACH US_PIPELINED"
 * (microseconds per SET), or "bad WHY" when one failed or was not
 * acknowledged by w replicas. */
static void cmd_timed(struct mqc_router *r, int n, int w, const char *prefix)
{
    struct timed t = {.w = w};
    double us[2];
    for (int pass = 0; pass < 2 && !t.bad; pass++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < n && !t.bad; i++) {
            char key[128];
            snprintf(key, sizeof key, "%s%d:%d", prefix, pass, i);
            const char *argv[] = {"SET", key, "x"};
            if (mqc_router_append(r, 3, argv, NULL, w, timed_done, &t) != MQC_OK)
                t.bad = 1;
            if (!pass)
                mqc_router_flush(r);
        }
        if (pass)
            mqc_router_flush(r);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        us[pass] =
            ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / n;
    }
    if (t.bad || t.answered != 2 * n)
        printf("bad %s (%d answers)\n", t.why, t.answered);
    else
        printf("ok %.1f %.1f\n", us[0], us[1]);
}

static void each_fn(const char *addr, int rc, const redisReply *reply, void *ctx)
{
    int *first = ctx;
    printf("%s%s=", *first ? "" : ";", addr);
    *first = 0;
    if (rc == MQC_OK)
        put_reply(stdout, reply);
    else
        printf("!unavailable");
}

static void run(struct mqc_router *r, char *line)
{
    const char *argv[MAX_ARGS];
    int argc = split(line, argv);
    if (argc == 0)
        return;
    const char *v = argv[0];
    if (!strcmp(v, "call") && argc > 1) {
        redisReply *rep = NULL;
        if (mqc_router_call(r, argc - 1, argv + 1, NULL, &rep) == MQC_OK) {
            printf("ok ");
            put_reply(stdout, rep);
            printf("\n");
            freeReplyObject(rep);
        } else {
            printf("unavail %s\n", mqc_router_last_error(r));
        }
    } else if (!strcmp(v, "wait") && argc > 2) {
        struct piped p;
        int order[1], norder = 0;
        p = (struct piped){.order = order, .norder = &norder};
        if (mqc_router_append(r, argc - 2, argv + 2, NULL, atoi(argv[1]), piped_done, &p) !=
            MQC_OK) {
            printf("unavail out of memory\n");
            return;
        }
        mqc_router_flush(r);
        if (p.rc == MQC_OK)
            printf("ok %lld %s\n", p.acked, p.text);
        else
            printf("unavail %s\n", p.text);
    } else if (!strcmp(v, "pipe")) {
        cmd_pipe(r, argc, argv);
    } else if (!strcmp(v, "burst") && argc == 3) {
        cmd_burst(r, atoi(argv[1]), argv[2], 0);
    } else if (!strcmp(v, "timed") && argc == 4) {
        cmd_timed(r, atoi(argv[1]), atoi(argv[2]), argv[3]);
    } else if (!strcmp(v, "overlap") && argc == 4) {
        cmd_overlap(r, atoi(argv[1]), atoi(argv[2]), argv[3]);
    } else if (!strcmp(v, "incr") && argc == 4) {
        cmd_incr(r, atoi(argv[1]), atoi(argv[2]), argv[3]);
    } else if (!strcmp(v, "check") && argc == 3) {
        cmd_burst(r, atoi(argv[1]), argv[2], 1);
    } else if (!strcmp(v, "each") && argc > 1) {
        int first = 1;
        printf("each ");
        int rc = mqc_router_each_primary(r, argc - 1, argv + 1, NULL, each_fn, &first);
        printf("%s\n", rc == MQC_OK ? "" : " !incomplete");
    } else if (!strcmp(v, "node") && argc == 2) {
        const char *addr = mqc_router_node_of(r, (unsigned)atoi(argv[1]));
        printf("node %s\n", addr ? addr : "none");
    } else if (!strcmp(v, "slot") && argc > 1) {
        printf("slot %d\n", mqc_router_slot_of(argc - 1, argv + 1, NULL));
    } else if (!strcmp(v, "refresh")) {
        if (mqc_router_refresh(r) == MQC_OK)
            printf("ok\n");
        else
            printf("unavail %s\n", mqc_router_last_error(r));
    } else if (!strcmp(v, "stats")) {
        struct mqc_router_stats st;
        mqc_router_get_stats(r, &st);
        printf("stats moved=%llu ask=%llu tryagain=%llu clusterdown=%llu refreshes=%llu "
               "conn_errors=%llu hooks=%llu\n",
               (unsigned long long)st.moved, (unsigned long long)st.ask,
               (unsigned long long)st.tryagain, (unsigned long long)st.clusterdown,
               (unsigned long long)st.refreshes, (unsigned long long)st.conn_errors,
               (unsigned long long)st.hooks);
    } else {
        printf("error unknown command: %s\n", v);
    }
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int c;
    while (m && (c = fgetc(f)) != EOF)
        fputc(c, m);
    if (m)
        fclose(m);
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    struct mqc_router_opts o = {0};
    if (argc < 2) {
        fprintf(stderr, "usage: routerctl SEEDS [--library FILE] [--timeout MS] [--retry MS]\n");
        return 2;
    }
    o.seeds = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--library") && !strcmp(argv[i + 1], "mqchat")) {
            o.on_connect = mqc_store__library_hook;
        } else if (!strcmp(argv[i], "--library")) {
            library = read_file(argv[i + 1]);
            if (!library) {
                fprintf(stderr, "routerctl: cannot read %s\n", argv[i + 1]);
                return 2;
            }
            o.on_connect = load_library;
        } else if (!strcmp(argv[i], "--timeout")) {
            o.timeout_ms = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--retry")) {
            o.retry_ms = atoi(argv[i + 1]);
        }
    }
    struct mqc_router *r = mqc_router_new(&o);
    if (!r) {
        fprintf(stderr, "routerctl: bad seeds: %s\n", argv[1]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        if (!strcmp(line, "quit"))
            break;
        run(r, line);
        fflush(stdout);
    }
    free(line);
    mqc_router_free(r);
    free(library);
    return 0;
}
