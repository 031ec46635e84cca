/* State shared by the load generator's parts: the options, the streams a
 * scenario sets up, the counters and histograms the engine fills and the
 * report prints. A stream is one sender publishing to one topic that n_recv
 * receivers get (0: the sender's own copy is all that comes back); a scenario
 * (pairs.c, sync.c, group.c, crowd.c) fills clients[] and streams[], and
 * engine.c runs any of them. A scenario that needs more (a client of its own,
 * its own create request, a clock of its own, a last phase after the sending)
 * sets hooks: the engine hands it that client's packets and calls it when the
 * sending is over. */
#ifndef MQC_BENCH_BENCH_H
#define MQC_BENCH_BENCH_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "bench/client.h"
#include "bench/hist.h"

enum { MQC_MODE_PLAIN, MQC_MODE_MQCHAT };
/* MQC_ROLE_OWN: the scenario's own client (hooks->ready, hooks->publish). */
enum { MQC_ROLE_SENDER = 1, MQC_ROLE_RECEIVER = 2, MQC_ROLE_OWN = 3 };
/* MQC_PH_AFTER: the scenario's last phase (hooks->after), --events runs only. */
/* MQC_PH_HOLD (--hold-file): every client stays connected until the file is
 * removed, so an outside script can look at the broker and Redis meanwhile. */
enum mqc_phase { MQC_PH_SETUP, MQC_PH_RUN, MQC_PH_DRAIN, MQC_PH_AFTER, MQC_PH_HOLD, MQC_PH_DONE };

#define MQC_WATCH_MAX 6
#define MQC_NODES_MAX 8

/* A process whose CPU use is reported for the measured window (--watch). */
struct mqc_watch {
    const char *name; /* borrowed from argv */
    long pid;
    double cpu_warm, cpu_end; /* seconds of CPU at the window's edges, -1 unknown */
};

struct mqc_opts {
    int mode;
    const char *scenario;
    const char *host;
    int port;
    struct sockaddr_in addr;
    /* Cluster runs (--ports): node i listens on nodes[i] (nodes[0] = addr);
     * a stream's sender uses node stream % nnodes, its receivers node
     * (stream + cross) % nnodes. */
    struct sockaddr_in nodes[MQC_NODES_MAX];
    int nnodes;
    int cross;
    int pairs;
    double rate;     /* msg/s over all streams; 0 = saturate */
    uint64_t events; /* saturate: stop after this many messages in all (0 = after --seconds) */
    int window;      /* saturate: messages in flight per stream, end to end */
    double seconds, warmup, drain, setup_timeout;
    int size;
    const char *user_prefix;
    const char *password;    /* borrowed from argv or the environment; never printed */
    const char *tokens_file; /* per-user passwords (session tokens), or NULL */
    int connect_batch;
    double churn;          /* scenario crowd: fraction of idle users reconnecting per second */
    const char *hold_file; /* borrowed from argv; NULL = no hold phase */
    double hold;           /* most seconds to hold */
    int verbose;
    struct mqc_watch watch[MQC_WATCH_MAX];
    int nwatch;
};

struct mqc_stream {
    int sender;   /* client index */
    int receiver; /* client index of the (first) receiver; with n_recv 0, of the
                   * user the sender's mqchat `create` names */
    int n_recv;
    int recv_ready;            /* receivers subscribed (the stream waits for all) */
    int ready;                 /* 0 no topic yet, 1 topic known, 2 clients ready too (counted) */
    char topic[MQC_TOPIC_MAX]; /* where the sender publishes */
    size_t topic_len;
    char req[64]; /* mqchat: id of the create request */
    uint64_t sent, delivered, echoed;
    uint64_t quota;          /* --events: this stream's share (0 = no limit) */
    uint64_t seq_lo, seq_hi; /* b->track_seq: lowest and highest seq of the own copies */
};

struct mqc_bench;
struct mqc_wire_packet;

/* What a scenario adds to the engine (every hook optional; b and c borrowed). */
struct mqc_hooks {
    const char *after_name; /* what hooks->after starts, for a timeout message */
    /* c (MQC_ROLE_OWN) is connected and subscribed. */
    void (*ready)(struct mqc_bench *b, struct mqc_client *c, int64_t now);
    /* A PUBLISH for c (MQC_ROLE_OWN), already acknowledged; pkt borrowed. */
    void (*publish)(struct mqc_bench *b, struct mqc_client *c, const struct mqc_wire_packet *pkt,
                    int64_t now);
    /* --events: every stream sent its share and saw it complete; start the last
     * phase. The engine ends it when b->phase becomes MQC_PH_DONE, or after
     * --seconds. */
    void (*after)(struct mqc_bench *b, int64_t now);
    /* mqchat: send the request that creates stream s's conversation from its
     * sender c (default: a direct `create` naming the receiver). MQC_OK, or the
     * encoder's error. */
    int (*create)(struct mqc_bench *b, struct mqc_client *c, struct mqc_stream *s);
    /* Called in the run and drain phases whenever the time it last returned
     * has come (and at their start); returns the next time it wants. */
    int64_t (*tick)(struct mqc_bench *b, int64_t now);
    /* Drain: nonzero once the scenario's own clients are settled again. */
    int (*settled)(struct mqc_bench *b);
    /* Write " key=value ..." for the summary line into out (size bytes);
     * nonzero when the scenario's own checks failed (first_error noted). */
    int (*report)(struct mqc_bench *b, char *out, size_t size);
    /* Free b->scen. */
    void (*free)(void *scen);
};

/* A user's own password (bench/tokens.c). */
struct mqc_bench_token {
    char *user, *token; /* owned */
};

struct mqc_bench {
    struct mqc_opts o;
    struct mqc_bench_token *tokens; /* owned, sorted by user; ntokens entries */
    size_t ntokens;
    struct mqc_loop loop;
    struct mqc_client *c; /* owned, nc entries */
    size_t nc;
    struct mqc_stream *s; /* owned, ns entries */
    size_t ns;
    const struct mqc_hooks *hooks; /* static, or NULL */
    void *scen;                    /* the scenario's own state, owned (hooks->free) */
    int holds;     /* setup steps of the scenario not done yet (mqc_bench__release) */
    int track_seq; /* read the seq of own copies into seq_lo/seq_hi */
    int tfd;
    int64_t timer_at;
    enum mqc_phase phase;
    int64_t t_begin, t_setup_deadline, t0, t_warm, t_end, t_drain_end, t_after_end, t_hold_end;
    int64_t t_tick; /* when hooks->tick wants to run next (0: at once) */
    int warm_seen;
    uint64_t next_j; /* fixed-rate timetable: next message number */
    size_t next_open;
    size_t connecting;
    size_t ready_clients, ready_streams;
    char nonce[24]; /* makes client ids, request and message ids unique per run */
    char *scratch;  /* payload being built, owned */
    size_t scratch_cap;
    struct mqc_hist lat, ack, lag;
    uint64_t sent_total, sent_win, delivered_total, delivered_win, echoed_total, echoed_win;
    uint64_t dup, gaps, errors, disconnects, skipped, bad_payloads;
    /* Connections the broker closed before its CONNACK (mqchat: the password
     * check was queued, "retry"), connected again after MQC_RETRY_MS. */
    uint64_t connect_retries;
    uint32_t *retry_q; /* ring of client indexes waiting to retry, nc slots, owned */
    size_t retry_head, retry_len;
    struct rusage ru_warm, ru_end;
    int64_t t_ru_warm, t_ru_end;
    int setup_failed;
    int hold_expired; /* nobody ended the hold: what it was for did not happen */
    char first_err[256];
};

#define MQC_RETRY_MS                                                                               \
    50 /* first wait (jittered) before connecting again after a close without CONNACK */
#define MQC_RETRY_MAX_MS 1000 /* the wait doubles per close in a row up to this */

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t mqc_bench_now_ns(void);
/* Connect, subscribe, set up the streams, run warmup + measured window +
 * drain, disconnect. b is borrowed; its clients and streams must be set up.
 * MQC_OK (the outcome, good or bad, is in b's counters) or MQC_EINTERNAL when
 * the event loop itself failed (errno set). */
int mqc_bench_run(struct mqc_bench *b);

/* Scenario `pairs`: N senders u{i}a, N receivers u{i}b, stream i between them. */
int mqc_pairs_setup(struct mqc_bench *b);
/* Scenario `group`: one sender {prefix}0a, N receivers {prefix}{i}b in one
 * group conversation (plain: one topic with N subscribers). */
int mqc_group_setup(struct mqc_bench *b);
/* Scenario `crowd`: N idle users {prefix}{i}c connected and subscribed, a
 * fraction reconnecting every second, and a probe pair {prefix}0a/0b. */
int mqc_crowd_setup(struct mqc_bench *b);
/* Scenario `sync`: N senders u{i}a write --events messages to u0b, who is
 * offline, then replays them with `sync` (mqchat only). */
int mqc_sync_setup(struct mqc_bench *b);

/* For scenarios (engine.c); b and c borrowed. */
/* Remember the first problem for the summary (and print it). */
void mqc_bench__note_err(struct mqc_bench *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* During setup: give up (the summary says setup_failed). */
void mqc_bench__fail_setup(struct mqc_bench *b);
/* Queue a QoS 1 PUBLISH of payload (borrowed) from c to topic. MQC_OK, or
 * the encoder's error (c is then closed and counted as a disconnect). */
int mqc_bench__publish(struct mqc_bench *b, struct mqc_client *c, const char *topic,
                       const char *payload, size_t len);
/* (Re)connect c: CONNECT, then SUBSCRIBE c->sub, then hooks->ready. */
int mqc_bench__open(struct mqc_bench *b, struct mqc_client *c);
/* Say DISCONNECT and close c; not counted as a disconnect. */
void mqc_bench__close(struct mqc_bench *b, struct mqc_client *c);
/* One of b->holds is done; the run starts when none are left and every
 * stream is ready. */
void mqc_bench__release(struct mqc_bench *b);
/* CPU seconds process pid has used so far, -1 when unknown. */
double mqc_bench__proc_cpu(long pid);

/* --tokens-file (bench/tokens.c): load "user token" lines from path.
 * MQC_OK, MQC_EBADREQ (cannot open), MQC_ENOMEM. */
int mqc_bench__tokens_load(struct mqc_bench *b, const char *path);
/* user's token (borrowed from b), or NULL. */
const char *mqc_bench__token(const struct mqc_bench *b, const char *user);
void mqc_bench__tokens_free(struct mqc_bench *b);

#endif
