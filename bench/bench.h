/* State shared by the load generator's parts: the options, the streams a
 * scenario sets up, the counters and histograms the engine fills and the
 * report prints. A stream is one sender publishing to one topic that n_recv
 * receivers get; a scenario (pairs.c, later fan-out, many connections,
 * replay) only fills clients[] and streams[], and engine.c runs any of them. */
#ifndef MQC_BENCH_BENCH_H
#define MQC_BENCH_BENCH_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/resource.h>

#include "bench/client.h"
#include "bench/hist.h"

enum { MQC_MODE_PLAIN, MQC_MODE_MQCHAT };
enum { MQC_ROLE_SENDER = 1, MQC_ROLE_RECEIVER = 2 };
enum mqc_phase { MQC_PH_SETUP, MQC_PH_RUN, MQC_PH_DRAIN, MQC_PH_DONE };

#define MQC_WATCH_MAX 4

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
    int pairs;
    double rate; /* msg/s over all streams; 0 = saturate */
    int window;  /* saturate: messages in flight per stream, end to end */
    double seconds, warmup, drain, setup_timeout;
    int size;
    const char *user_prefix;
    const char *password; /* borrowed from argv or the environment; never printed */
    int connect_batch;
    int verbose;
    struct mqc_watch watch[MQC_WATCH_MAX];
    int nwatch;
};

struct mqc_stream {
    int sender;   /* client index */
    int receiver; /* client index of the (first) receiver */
    int n_recv;
    int ready;                 /* 0 no topic yet, 1 topic known, 2 clients ready too (counted) */
    char topic[MQC_TOPIC_MAX]; /* where the sender publishes */
    size_t topic_len;
    char req[64]; /* mqchat: id of the create request */
    uint64_t sent, delivered, echoed;
};

struct mqc_bench {
    struct mqc_opts o;
    struct mqc_loop loop;
    struct mqc_client *c; /* owned, nc entries */
    size_t nc;
    struct mqc_stream *s; /* owned, ns entries */
    size_t ns;
    int tfd;
    int64_t timer_at;
    enum mqc_phase phase;
    int64_t t_begin, t_setup_deadline, t0, t_warm, t_end, t_drain_end;
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
    struct rusage ru_warm, ru_end;
    int64_t t_ru_warm, t_ru_end;
    int setup_failed;
    char first_err[256];
};

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t mqc_bench_now_ns(void);
/* Connect, subscribe, set up the streams, run warmup + measured window +
 * drain, disconnect. b is borrowed; its clients and streams must be set up.
 * MQC_OK (the outcome, good or bad, is in b's counters) or MQC_EINTERNAL when
 * the event loop itself failed (errno set). */
int mqc_bench_run(struct mqc_bench *b);

/* Scenario `pairs`: N senders u{i}a, N receivers u{i}b, stream i between them. */
int mqc_pairs_setup(struct mqc_bench *b);

#endif
