/* mqc_bench: the load generator. One process, many MQTT 3.1.1 clients over
 * non-blocking sockets and one epoll loop, all QoS 1. A scenario sets up
 * clients and "streams" (one sender publishing to one topic, read by a known
 * number of receivers), then sends either as fast as an end-to-end window per
 * stream allows (--rate 0; for --seconds, or until --events messages in all)
 * or on a fixed timetable (--rate R msg/s, spread
 * evenly over the streams), and measures send->recipient latency from a
 * CLOCK_MONOTONIC timestamp carried in each body (the same process sends and
 * receives). --mode plain talks to a stock broker (topics bench/p{i}, no
 * auth); --mode mqchat speaks the chat protocol (docs/PROTOCOL.md): each pair
 * creates its direct conversation with a `create` request, publishes `send`s
 * and reads `msg` events on the inboxes, the sender's own copy counting as the
 * application-level acknowledgement. It prints one key=value summary line and
 * stops by itself: every phase has a deadline. It only talks to 127.0.0.0/8.
 * Scenarios: `pairs` (N one-to-one streams), `sync` (the replay rate of an
 * offline user's missed events, sync.c), `group` (fan-out to one group of N,
 * group.c) and `crowd` (N connected users with presence churn and a probe
 * pair, crowd.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/err.h"

struct mqc_scenario {
    const char *name;
    const char *what;
    int (*setup)(struct mqc_bench *b);
};

static const struct mqc_scenario scenarios[] = {
    {"pairs", "N one-to-one streams (N senders, N receivers)", mqc_pairs_setup},
    {"sync", "N senders write --events messages to an offline user, who replays them",
     mqc_sync_setup},
    {"group", "one sender, N receivers in one group (plain: one topic, N subscribers)",
     mqc_group_setup},
    {"crowd", "N idle users, --churn of them reconnecting per second, a probe pair at --rate",
     mqc_crowd_setup},
};

/* ---- report ------------------------------------------------------------- */

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static double cpu_s(const struct rusage *r)
{
    return (double)r->ru_utime.tv_sec + (double)r->ru_utime.tv_usec / 1e6 +
           (double)r->ru_stime.tv_sec + (double)r->ru_stime.tv_usec / 1e6;
}

static int report(struct mqc_bench *b)
{
    const struct mqc_opts *o = &b->o;
    char extra[768] = "";
    int scen_bad = 0;
    if (b->hooks && b->hooks->report && !b->setup_failed)
        scen_bad = b->hooks->report(b, extra, sizeof(extra));
    uint64_t expected = 0;
    for (size_t i = 0; i < b->ns; i++)
        expected += b->s[i].sent * (uint64_t)b->s[i].n_recv;
    uint64_t lost = expected > b->delivered_total ? expected - b->delivered_total : 0;
    uint64_t echo_lost = 0;
    if (o->mode == MQC_MODE_MQCHAT && b->sent_total > b->echoed_total)
        echo_lost = b->sent_total - b->echoed_total;
    double wall = (double)(b->t_ru_end - b->t_ru_warm) / 1e9;
    double gen_cpu = wall > 0 ? (cpu_s(&b->ru_end) - cpu_s(&b->ru_warm)) / wall : 0;
    /* Rates per second of the measured window: --seconds, or with --events the
     * time the sending took. Streams nobody receives complete on own copies. */
    double win = o->events ? wall : o->seconds;
    uint64_t done_win = expected || o->mode == MQC_MODE_PLAIN ? b->delivered_win : b->echoed_win;
    const char *status = "ok";
    if (b->setup_failed)
        status = "setup_failed";
    else if (b->errors || b->disconnects || lost || echo_lost || b->dup || b->bad_payloads ||
             done_win == 0 || scen_bad || b->hold_expired ||
             (o->events && b->sent_total < o->events))
        status = "errors";
    printf("mode=%s scenario=%s pairs=%d clients=%zu rate=%.0f window=%d size=%d warmup=%g "
           "seconds=%g status=%s sent=%" PRIu64 " received=%" PRIu64 " echoed=%" PRIu64
           " throughput=%.0f send_rate=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
           "max_ms=%.3f ack_p50_ms=%.3f ack_p99_ms=%.3f lost=%" PRIu64 " echo_lost=%" PRIu64
           " dup=%" PRIu64 " gaps=%" PRIu64 " errors=%" PRIu64 " disconnects=%" PRIu64
           " skipped=%" PRIu64 " bad_payloads=%" PRIu64 " connect_retries=%" PRIu64
           " lag_p99_ms=%.3f lag_max_ms=%.3f "
           "gen_cpu=%.2f",
           o->mode == MQC_MODE_PLAIN ? "plain" : "mqchat", o->scenario, o->pairs, b->nc, o->rate,
           o->window, o->size, o->events ? 0 : o->warmup, o->seconds, status, b->sent_total,
           b->delivered_total, b->echoed_total, win > 0 ? (double)b->delivered_win / win : 0,
           win > 0 ? (double)b->sent_win / win : 0, ms(mqc_hist_quantile(&b->lat, 0.50)),
           ms(mqc_hist_quantile(&b->lat, 0.90)), ms(mqc_hist_quantile(&b->lat, 0.99)),
           ms(mqc_hist_quantile(&b->lat, 0.999)), ms(b->lat.max_ns),
           ms(mqc_hist_quantile(&b->ack, 0.50)), ms(mqc_hist_quantile(&b->ack, 0.99)), lost,
           echo_lost, b->dup, b->gaps, b->errors, b->disconnects, b->skipped, b->bad_payloads,
           b->connect_retries, ms(mqc_hist_quantile(&b->lag, 0.99)), ms(b->lag.max_ns), gen_cpu);
    for (int i = 0; i < o->nwatch; i++) {
        const struct mqc_watch *w = &o->watch[i];
        double cpu = -1;
        if (wall > 0 && w->cpu_warm >= 0 && w->cpu_end >= 0)
            cpu = (w->cpu_end - w->cpu_warm) / wall;
        printf(" %s_cpu=%.2f", w->name, cpu);
    }
    fputs(extra, stdout);
    char why[sizeof(b->first_err)];
    snprintf(why, sizeof(why), "%s", b->first_err);
    if (!why[0] && strcmp(status, "errors") == 0) /* say which counter made it so */
        snprintf(why, sizeof(why), "%s",
                 lost              ? "messages lost (or still queued after the drain)"
                 : echo_lost       ? "own copies missing (or still queued after the drain)"
                 : b->dup          ? "duplicates"
                 : b->bad_payloads ? "unreadable payloads"
                                   : "nothing delivered in the window");
    printf(" first_error=\"%s\"\n", why);
    if (fflush(stdout) != 0)
        return 1;
    return b->setup_failed ? 2 : strcmp(status, "ok") == 0 ? 0 : 3;
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f, "usage: mqc_bench --mode plain|mqchat [options]\n"
               "  --scenario NAME     pairs (default), or sync: --pairs senders P{i}a write\n"
               "                      --events messages to P0b while it is offline, then P0b\n"
               "                      replays them with sync (mqchat only); group: P0a sends\n"
               "                      to a group of --pairs receivers P{i}b; crowd: --pairs\n"
               "                      idle users P{i}c, --churn of them reconnecting per\n"
               "                      second, probe pair P0a->P0b at --rate\n"
               "  --host ADDR         broker address, 127.0.0.0/8 only (127.0.0.1)\n"
               "  --port N            broker port (1883)\n"
               "  --ports N,N,...     cluster: more nodes' ports (node 0 is --port); a\n"
               "                      stream's sender connects to node stream %% n, its\n"
               "                      receivers to node (stream + --cross) %% n\n"
               "  --cross K           cluster: receivers' node offset from their sender's (1)\n"
               "  --pairs N           sender/receiver pairs (50)\n"
               "  --rate R            offered msg/s over all pairs; 0 = saturate (0)\n"
               "  --events N          saturate: send N messages in all, then stop; --seconds is\n"
               "                      then the most time the sending (and a scenario's last\n"
               "                      phase) may take, and there is no warmup (0: time-bound)\n"
               "  --window W          saturate: messages in flight per sender, end to end (16)\n"
               "  --seconds S         measured time (10)\n"
               "  --warmup S          unmeasured time before (2)\n"
               "  --drain S           most time to wait for stragglers after (5)\n"
               "  --setup-timeout S   most time to connect, subscribe and create (60)\n"
               "  --size BYTES        message body size (100)\n"
               "  --user-prefix P     mqchat users are P{i}a (sender) and P{i}b (u)\n"
               "  --password PW       mqchat users' password (or $MQC_BENCH_PASSWORD)\n"
               "  --tokens-file PATH  mqchat: \"user token\" lines; those users log in with\n"
               "                      their device session token instead (mqc_bench_tokens)\n"
               "  --connect-batch N   connects in progress at once (64)\n"
               "  --churn F           crowd: fraction of idle users reconnecting per second\n"
               "                      during the measured window (0.1)\n"
               "  --hold-file PATH    after the drain, create PATH and keep every client\n"
               "                      connected until PATH is removed (or --hold seconds)\n"
               "  --hold S            most seconds to hold (60)\n"
               "  --watch NAME=PID    also report NAME_cpu, the CPU share process PID used\n"
               "                      during the measured window (up to 4)\n"
               "  --verbose           print every problem, not only the first\n"
               "Prints one line of key=value pairs. Exit: 0 ok, 1 usage or system error,\n"
               "2 setup failed, 3 ran but saw errors, losses or disconnects.\n");
}

static int num(const char *name, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "mqc_bench: %s: '%s' is not a number from %g to %g\n", name, v, lo, hi);
        return MQC_EBADREQ;
    }
    *out = d;
    return MQC_OK;
}

/* "--ports N,N,...": nodes 1.. (their address is --host's, filled in later). */
static int parse_ports(const char *list, struct mqc_opts *o)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    o->nnodes = 1;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        double d;
        if (o->nnodes == MQC_NODES_MAX || num("--ports", t, 1, 65535, &d) != MQC_OK) {
            fprintf(stderr, "mqc_bench: --ports: at most %d ports of 1-65535\n", MQC_NODES_MAX - 1);
            return MQC_EBADREQ;
        }
        o->nodes[o->nnodes].sin_port = htons((uint16_t)d);
        o->nnodes++;
    }
    return MQC_OK;
}

/* --watch NAME=PID; NAME is [a-z0-9_], 1-16 characters. Edits optarg. */
static int parse_watch(struct mqc_opts *o, char *arg)
{
    char *eq = strchr(arg, '=');
    size_t nlen = eq ? (size_t)(eq - arg) : 0;
    double pid;
    if (o->nwatch >= MQC_WATCH_MAX || !eq || nlen == 0 || nlen > 16 ||
        strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_") != nlen) {
        fprintf(stderr, "mqc_bench: --watch: '%s' is not NAME=PID (at most %d)\n", arg,
                MQC_WATCH_MAX);
        return MQC_EBADREQ;
    }
    if (num("--watch", eq + 1, 1, 4194304, &pid) != MQC_OK)
        return MQC_EBADREQ;
    *eq = '\0';
    o->watch[o->nwatch].name = arg;
    o->watch[o->nwatch].pid = (long)pid;
    o->watch[o->nwatch].cpu_warm = o->watch[o->nwatch].cpu_end = -1;
    o->nwatch++;
    return MQC_OK;
}

/* The numeric options: name, bounds and where the value goes. */
enum num_kind { NUM_INT, NUM_DOUBLE, NUM_U64 };

struct num_opt {
    int ch; /* getopt_long's value for it */
    const char *name;
    double lo, hi;
    enum num_kind kind;
    size_t off; /* of the field in struct mqc_opts */
};

static const struct num_opt num_opts[] = {
    {'K', "--cross", 0, MQC_NODES_MAX, NUM_INT, offsetof(struct mqc_opts, cross)},
    {'p', "--port", 1, 65535, NUM_INT, offsetof(struct mqc_opts, port)},
    {'n', "--pairs", 1, 20000, NUM_INT, offsetof(struct mqc_opts, pairs)},
    {'r', "--rate", 0, 10e6, NUM_DOUBLE, offsetof(struct mqc_opts, rate)},
    {'e', "--events", 0, 1e9, NUM_U64, offsetof(struct mqc_opts, events)},
    {'w', "--window", 1, 10000, NUM_INT, offsetof(struct mqc_opts, window)},
    {'s', "--seconds", 0.1, 600, NUM_DOUBLE, offsetof(struct mqc_opts, seconds)},
    {'W', "--warmup", 0, 120, NUM_DOUBLE, offsetof(struct mqc_opts, warmup)},
    {'d', "--drain", 0, 600, NUM_DOUBLE, offsetof(struct mqc_opts, drain)},
    {'T', "--setup-timeout", 1, 7200, NUM_DOUBLE, offsetof(struct mqc_opts, setup_timeout)},
    {'z', "--size", 0, 60000, NUM_INT, offsetof(struct mqc_opts, size)},
    {'b', "--connect-batch", 1, 10000, NUM_INT, offsetof(struct mqc_opts, connect_batch)},
    {'c', "--churn", 0, 1, NUM_DOUBLE, offsetof(struct mqc_opts, churn)},
    {'o', "--hold", 0, 3600, NUM_DOUBLE, offsetof(struct mqc_opts, hold)},
};

static void set_defaults(struct mqc_opts *o)
{
    o->mode = -1;
    o->scenario = "pairs";
    o->host = "127.0.0.1";
    o->port = 1883;
    o->pairs = 50;
    o->window = 16;
    o->seconds = 10;
    o->warmup = 2;
    o->drain = 5;
    o->setup_timeout = 60;
    o->size = 100;
    o->user_prefix = "u";
    o->password = getenv("MQC_BENCH_PASSWORD");
    o->connect_batch = 64;
    o->churn = 0.1;
    o->hold = 60;
    o->cross = 1;
}

/* A numeric option ch with value arg (borrowed) into o. MQC_OK,
 * MQC_EBADREQ (said why), or MQC_ENOTFOUND when ch is not numeric. */
static int apply_num(struct mqc_opts *o, int ch, const char *arg)
{
    for (size_t i = 0; i < sizeof num_opts / sizeof num_opts[0]; i++) {
        const struct num_opt *n = &num_opts[i];
        if (n->ch != ch)
            continue;
        double d;
        if (num(n->name, arg, n->lo, n->hi, &d) != MQC_OK)
            return MQC_EBADREQ;
        char *field = (char *)o + n->off;
        if (n->kind == NUM_INT)
            *(int *)(void *)field = (int)d;
        else if (n->kind == NUM_U64)
            *(uint64_t *)(void *)field = (uint64_t)d;
        else
            *(double *)(void *)field = d;
        return MQC_OK;
    }
    return MQC_ENOTFOUND;
}

/* Any other option ch with value arg (borrowed from argv; --watch edits
 * it). MQC_OK, MQC_EBADREQ (said why), or MQC_ENOTFOUND when unknown. */
static int apply_other(struct mqc_opts *o, int ch, char *arg)
{
    switch (ch) {
    case 'm':
        if (strcmp(arg, "plain") == 0)
            o->mode = MQC_MODE_PLAIN;
        else if (strcmp(arg, "mqchat") == 0)
            o->mode = MQC_MODE_MQCHAT;
        else {
            fprintf(stderr, "mqc_bench: --mode: '%s' is not plain or mqchat\n", arg);
            return MQC_EBADREQ;
        }
        return MQC_OK;
    case 'S':
        o->scenario = arg;
        return MQC_OK;
    case 'H':
        o->host = arg;
        return MQC_OK;
    case 'N':
        return parse_ports(arg, o);
    case 'u':
        o->user_prefix = arg;
        return MQC_OK;
    case 'P':
        o->password = arg;
        return MQC_OK;
    case 'F':
        o->hold_file = arg;
        return MQC_OK;
    case 't':
        o->tokens_file = arg;
        return MQC_OK;
    case 'v':
        o->verbose = 1;
        return MQC_OK;
    case 'x':
        return parse_watch(o, arg);
    default:
        return MQC_ENOTFOUND;
    }
}

/* After the options: the addresses (--host must be loopback; --ports
 * share its address) and the checks that take several options. */
static int finish_opts(struct mqc_opts *o)
{
    memset(&o->addr, 0, sizeof(o->addr));
    o->addr.sin_family = AF_INET;
    o->addr.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->host, &o->addr.sin_addr) != 1 ||
        (ntohl(o->addr.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "mqc_bench: --host: '%s' is not a loopback IPv4 address (127.x.y.z)\n",
                o->host);
        return MQC_EBADREQ;
    }
    o->nodes[0] = o->addr;
    for (int i = 1; i < o->nnodes; i++) {
        int port = ntohs(o->nodes[i].sin_port);
        o->nodes[i] = o->addr;
        o->nodes[i].sin_port = htons((uint16_t)port);
    }
    if (o->nnodes == 0)
        o->nnodes = 1;
    if (o->events && o->rate > 0) {
        fprintf(stderr, "mqc_bench: --events needs --rate 0 (saturation)\n");
        return MQC_EBADREQ;
    }
    if (o->mode == MQC_MODE_MQCHAT && (!o->password || !o->password[0]) && !o->tokens_file) {
        fprintf(stderr, "mqc_bench: --mode mqchat needs --password or $MQC_BENCH_PASSWORD\n");
        return MQC_EBADREQ;
    }
    return MQC_OK;
}

static int parse_opts(int argc, char **argv, struct mqc_opts *o)
{
    static const struct option longs[] = {
        {"mode", required_argument, 0, 'm'},
        {"scenario", required_argument, 0, 'S'},
        {"host", required_argument, 0, 'H'},
        {"port", required_argument, 0, 'p'},
        {"pairs", required_argument, 0, 'n'},
        {"rate", required_argument, 0, 'r'},
        {"events", required_argument, 0, 'e'},
        {"window", required_argument, 0, 'w'},
        {"seconds", required_argument, 0, 's'},
        {"warmup", required_argument, 0, 'W'},
        {"drain", required_argument, 0, 'd'},
        {"setup-timeout", required_argument, 0, 'T'},
        {"size", required_argument, 0, 'z'},
        {"user-prefix", required_argument, 0, 'u'},
        {"password", required_argument, 0, 'P'},
        {"connect-batch", required_argument, 0, 'b'},
        {"verbose", no_argument, 0, 'v'},
        {"watch", required_argument, 0, 'x'},
        {"churn", required_argument, 0, 'c'},
        {"hold-file", required_argument, 0, 'F'},
        {"tokens-file", required_argument, 0, 't'},
        {"hold", required_argument, 0, 'o'},
        {"ports", required_argument, 0, 'N'},
        {"cross", required_argument, 0, 'K'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    set_defaults(o);
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            exit(0);
        }
        int rc = apply_num(o, ch, optarg);
        if (rc == MQC_ENOTFOUND)
            rc = apply_other(o, ch, optarg);
        if (rc == MQC_ENOTFOUND) {
            usage(stderr);
            return MQC_EBADREQ;
        }
        if (rc != MQC_OK)
            return rc;
    }
    if (optind < argc || o->mode < 0) {
        fprintf(stderr, "mqc_bench: %s\n",
                optind < argc ? "unexpected argument" : "--mode is required");
        usage(stderr);
        return MQC_EBADREQ;
    }
    return finish_opts(o);
}

static const struct mqc_scenario *find_scenario(const char *name)
{
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        if (strcmp(scenarios[i].name, name) == 0)
            return &scenarios[i];
    return NULL;
}

/* Let the process hold one descriptor per client plus a few. */
static int raise_fd_limit(size_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return MQC_EINTERNAL;
    if (rl.rlim_cur >= need)
        return MQC_OK;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need)
        return MQC_EINTERNAL;
    return MQC_OK;
}

int main(int argc, char **argv)
{
    int ret = 1;
    struct mqc_bench *b = calloc(1, sizeof(*b));
    if (!b) {
        fprintf(stderr, "mqc_bench: out of memory\n");
        return 1;
    }
    b->tfd = -1;
    b->loop.ep = -1;
    if (parse_opts(argc, argv, &b->o) != MQC_OK)
        goto out;
    if (b->o.tokens_file && mqc_bench__tokens_load(b, b->o.tokens_file) != MQC_OK) {
        fprintf(stderr, "mqc_bench: --tokens-file: cannot read %s\n", b->o.tokens_file);
        goto out;
    }
    const struct mqc_scenario *sc = find_scenario(b->o.scenario);
    if (!sc) {
        fprintf(stderr,
                "mqc_bench: --scenario: '%s' is unknown (known: pairs, sync, group, crowd)\n",
                b->o.scenario);
        goto out;
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        goto out;
    /* Wake up on time for the fixed-rate timetable (default slack is 50 us). */
    if (prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL) != 0)
        fprintf(stderr, "mqc_bench: cannot lower timer slack: %s\n", strerror(errno));
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    uint64_t seed = (uint64_t)rt.tv_nsec ^ ((uint64_t)rt.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
    snprintf(b->nonce, sizeof(b->nonce), "%010" PRIx64, seed & UINT64_C(0xffffffffff));
    mqc_hist_init(&b->lat);
    mqc_hist_init(&b->ack);
    mqc_hist_init(&b->lag);
    int rc = sc->setup(b);
    if (rc != MQC_OK) {
        fprintf(stderr, "mqc_bench: cannot set up scenario %s (%s)\n", sc->name,
                rc == MQC_ENOMEM ? "out of memory"
                                 : "options it cannot run with, or names too long");
        goto out;
    }
    for (size_t i = 0; b->o.events && i < b->ns; i++) /* --events: spread over the streams */
        b->s[i].quota = b->o.events / b->ns + (i < b->o.events % b->ns ? 1 : 0);
    if (raise_fd_limit(b->nc + 64) != MQC_OK) {
        fprintf(stderr, "mqc_bench: need %zu file descriptors: raise ulimit -n\n", b->nc + 64);
        goto out;
    }
    b->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (b->tfd < 0 || mqc_loop_init(&b->loop, b->c, b->nc) != MQC_OK) {
        fprintf(stderr, "mqc_bench: timerfd/epoll: %s\n", strerror(errno));
        goto out;
    }
    if (mqc_bench_run(b) != MQC_OK) {
        fprintf(stderr, "mqc_bench: event loop: %s\n", strerror(errno));
        goto out;
    }
    ret = report(b);
out:
    for (size_t i = 0; b->c && i < b->nc; i++) {
        if (b->c[i].fd >= 0) {
            mqc_client_close(&b->loop, &b->c[i]);
        } else {
            mqc_buf_cleanup(&b->c[i].in);
            mqc_buf_cleanup(&b->c[i].out);
        }
    }
    if (b->loop.ep >= 0)
        mqc_loop_cleanup(&b->loop);
    if (b->tfd >= 0)
        close(b->tfd);
    if (b->hooks && b->hooks->free)
        b->hooks->free(b->scen);
    free(b->c);
    free(b->s);
    free(b->scratch);
    free(b->retry_q);
    mqc_bench__tokens_free(b);
    free(b);
    return ret;
}
