/* busctl: drives store/bus.c, the brokers' bus, against a running Redis
 * Cluster (sharded pub/sub) or one Redis (plain pub/sub), one command per
 * stdin line, one answer line per command on stdout, so that a Python test
 * (tests/integration/test_redis_cluster_bus.py) can kill a primary or move a
 * slot between commands.
 *
 *   busctl SEEDS [--prefix P] [--timeout MS]   a cluster: SEEDS "host:port ..."
 *   busctl --single HOST:PORT [--prefix P]      one Redis
 *
 * Publishing goes the way the store sends it (store/bus.c publish_cmd):
 * SPUBLISH through a slot router (routed by the channel) on a cluster,
 * PUBLISH on one Redis. Lines (words separated by single spaces):
 *   bus NAME NODE       start a bus for NODE (NAME a single letter a-h): "ok"
 *   free NAME           stop it: "ok"
 *   up NAME MS          wait until every channel is subscribed: "up" | "down"
 *   resub NAME MS       wait until the bus says it resubscribed (drained) and
 *                       is up: "resub MS_TAKEN" | "timeout"
 *   pub NODE|* DATA     publish DATA to NODE's channel or the shared one:
 *                       "ok RECEIVERS" | "unavail WHY"
 *   recv NAME MS        the next message the bus drained, waiting up to MS:
 *                       "msg all|node DATA" | "none"
 *   flush NAME          forget what NAME drained so far: "ok N"
 *   chan NODE|*         the channel's name and slot: "chan NAME SLOT"
 *   node SLOT           the primary serving SLOT now: "node ADDR" | "node none"
 *   refresh             reload the publishing router's map: "ok" | "unavail WHY"
 * The bus's own reports (subscribed, resubscribed, why not) go to stderr. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/slot.h"
#include "store/bus.h"
#include "store/internal.h"
#include "store/router.h"

#define MAX_BUSES 8
#define MAX_HELD 4096

struct held {
    bool to_all;
    char *data;
};

struct ctl_bus {
    struct mqc_bus *bus;
    int pipe[2]; /* the bus thread's wake(): one byte written */
    struct held held[MAX_HELD];
    size_t nheld, first;
    bool resubscribed;
};

static struct ctl_bus buses[MAX_BUSES];
static struct mqc_store_opts opts;
static const char *prefix = "mqchat:";
static struct mqc_router *router; /* cluster: SPUBLISH */
static redisContext *single;      /* one Redis: PUBLISH */
static char single_host[256];
static int single_port;

static void wake(void *ctx)
{
    struct ctl_bus *c = ctx;
    char x = 1;
    (void)!write(c->pipe[1], &x, 1); /* full pipe: a wake is pending anyway */
}

static void on_msg(void *ctx, bool to_all, const char *data, size_t len, int64_t recv_ms)
{
    struct ctl_bus *c = ctx;
    (void)recv_ms;
    if (c->first + c->nheld >= MAX_HELD) {
        fprintf(stderr, "busctl: too many held messages\n");
        return;
    }
    c->held[c->first + c->nheld].to_all = to_all;
    c->held[c->first + c->nheld].data = strndup(data, len);
    c->nheld++;
}

static void drain(struct ctl_bus *c)
{
    char buf[64];
    while (read(c->pipe[0], buf, sizeof buf) > 0)
        ;
    bool resub = false;
    mqc_bus_drain(c->bus, on_msg, c, &resub);
    c->resubscribed |= resub;
}

/* Wait up to ms (from start_ms) for the wake pipe or 20 ms, whichever comes
 * first; false once the deadline has passed. */
static bool wait_some(struct ctl_bus *c, int64_t deadline_ms)
{
    int64_t left = deadline_ms - mqc_clock_mono_ms();
    if (left <= 0)
        return false;
    struct pollfd p = {.fd = c->pipe[0], .events = POLLIN};
    poll(&p, 1, left < 20 ? (int)left : 20);
    return true;
}

static struct ctl_bus *bus_named(const char *name)
{
    if (!name || name[0] < 'a' || name[0] >= 'a' + MAX_BUSES || name[1])
        return NULL;
    return &buses[name[0] - 'a'];
}

static void chan_of(const char *node, char *out, size_t size)
{
    if (!strcmp(node, "*"))
        snprintf(out, size, "%sbus:all", prefix);
    else
        snprintf(out, size, "%sbus:n:%s", prefix, node);
}

static void publish(const char *node, const char *data)
{
    char chan[512];
    chan_of(node, chan, sizeof chan);
    const char *argv[] = {router ? "SPUBLISH" : "PUBLISH", chan, data};
    redisReply *r = NULL;
    if (router) {
        if (mqc_router_call(router, 3, argv, NULL, &r) != MQC_OK) {
            printf("unavail %s\n", mqc_router_last_error(router));
            return;
        }
    } else {
        if (!single) {
            char err[160];
            single = mqc_store__dial(single_host, single_port, NULL, 1000, NULL, err, sizeof err);
            if (!single) {
                printf("unavail %s\n", err);
                return;
            }
        }
        r = redisCommandArgv(single, 3, argv, NULL);
        if (!r) {
            printf("unavail %s\n", single->errstr);
            redisFree(single);
            single = NULL;
            return;
        }
    }
    if (r->type == REDIS_REPLY_INTEGER)
        printf("ok %lld\n", r->integer);
    else
        printf("unavail %s\n", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    freeReplyObject(r);
}

static void run(char *line)
{
    char *save = NULL;
    const char *cmd = strtok_r(line, " ", &save);
    const char *a1 = strtok_r(NULL, " ", &save);
    const char *a2 = strtok_r(NULL, "", &save);
    struct ctl_bus *c = bus_named(a1);
    if (!cmd) {
        printf("bad empty\n");
    } else if (!strcmp(cmd, "bus") && c && !c->bus && a2) {
        if (pipe(c->pipe) != 0 || fcntl(c->pipe[0], F_SETFL, O_NONBLOCK) != 0 ||
            fcntl(c->pipe[1], F_SETFL, O_NONBLOCK) != 0) {
            printf("bad pipe: %s\n", strerror(errno));
            return;
        }
        c->bus = mqc_bus_new(&opts, a2, wake, c);
        printf(c->bus ? "ok\n" : "bad mqc_bus_new\n");
    } else if (!strcmp(cmd, "free") && c && c->bus) {
        mqc_bus_free(c->bus);
        close(c->pipe[0]);
        close(c->pipe[1]);
        for (size_t i = 0; i < c->nheld; i++)
            free(c->held[c->first + i].data);
        memset(c, 0, sizeof *c);
        printf("ok\n");
    } else if (!strcmp(cmd, "up") && c && c->bus && a2) {
        int64_t deadline = mqc_clock_mono_ms() + atoi(a2);
        while (!mqc_bus_up(c->bus) && wait_some(c, deadline))
            ;
        drain(c);
        printf(mqc_bus_up(c->bus) ? "up\n" : "down\n");
    } else if (!strcmp(cmd, "resub") && c && c->bus && a2) {
        int64_t start = mqc_clock_mono_ms(), deadline = start + atoi(a2);
        do
            drain(c);
        while (!(c->resubscribed && mqc_bus_up(c->bus)) && wait_some(c, deadline));
        if (c->resubscribed && mqc_bus_up(c->bus)) {
            c->resubscribed = false;
            printf("resub %lld\n", (long long)(mqc_clock_mono_ms() - start));
        } else {
            printf("timeout\n");
        }
    } else if (!strcmp(cmd, "pub") && a1 && a2) {
        publish(a1, a2);
    } else if (!strcmp(cmd, "recv") && c && c->bus && a2) {
        int64_t deadline = mqc_clock_mono_ms() + atoi(a2);
        do
            drain(c);
        while (!c->nheld && wait_some(c, deadline));
        if (!c->nheld) {
            printf("none\n");
            return;
        }
        struct held *h = &c->held[c->first];
        printf("msg %s %s\n", h->to_all ? "all" : "node", h->data);
        free(h->data);
        c->nheld--;
        c->first = c->nheld ? c->first + 1 : 0;
    } else if (!strcmp(cmd, "flush") && c && c->bus) {
        drain(c);
        size_t n = c->nheld;
        for (size_t i = 0; i < n; i++)
            free(c->held[c->first + i].data);
        c->nheld = c->first = 0;
        printf("ok %zu\n", n);
    } else if (!strcmp(cmd, "chan") && a1) {
        char chan[512];
        chan_of(a1, chan, sizeof chan);
        printf("chan %s %u\n", chan, mqc_slot_of(chan, strlen(chan)));
    } else if (!strcmp(cmd, "node") && a1 && router) {
        const char *a = mqc_router_node_of(router, (unsigned)atoi(a1));
        printf("node %s\n", a ? a : "none");
    } else if (!strcmp(cmd, "refresh") && router) {
        if (mqc_router_refresh(router) == MQC_OK)
            printf("ok\n");
        else
            printf("unavail %s\n", mqc_router_last_error(router));
    } else {
        printf("bad command\n");
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: busctl SEEDS|--single HOST:PORT [--prefix P] [--timeout MS]\n");
        return 2;
    }
    opts.timeout_ms = 1000;
    int first = 2;
    if (!strcmp(argv[1], "--single") && argc > 2) {
        const char *colon = strrchr(argv[2], ':');
        if (!colon) {
            fprintf(stderr, "busctl: --single HOST:PORT\n");
            return 2;
        }
        snprintf(single_host, sizeof single_host, "%.*s", (int)(colon - argv[2]), argv[2]);
        single_port = atoi(colon + 1);
        opts.host = single_host;
        opts.port = single_port;
        first = 3;
    } else {
        opts.cluster_nodes = argv[1];
    }
    for (int i = first; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--prefix"))
            prefix = argv[i + 1];
        else if (!strcmp(argv[i], "--timeout"))
            opts.timeout_ms = atoi(argv[i + 1]);
    }
    opts.prefix = prefix;
    if (opts.cluster_nodes) {
        struct mqc_router_opts ro = {
            .seeds = opts.cluster_nodes, .timeout_ms = opts.timeout_ms, .retry_ms = 100};
        router = mqc_router_new(&ro);
        if (!router) {
            fprintf(stderr, "busctl: bad seeds: %s\n", argv[1]);
            return 2;
        }
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
        run(line);
        fflush(stdout);
    }
    free(line);
    for (int i = 0; i < MAX_BUSES; i++) {
        if (buses[i].bus) {
            char free_line[8] = "free x";
            free_line[5] = (char)('a' + i);
            run(free_line);
        }
    }
    mqc_router_free(router);
    if (single)
        redisFree(single);
    return 0;
}
