/* One MQTT client connection of the load generator, and the epoll loop they
 * share: non-blocking TCP connect, an input buffer filled by recv() and an
 * output buffer that packets are appended to and that is written out once per
 * loop pass (so one pass costs one send() per busy connection, however many
 * packets it queued). What the packets mean is the scenario's business
 * (mqc_bench.c); this file only moves bytes. */
#ifndef MQC_BENCH_CLIENT_H
#define MQC_BENCH_CLIENT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/wire.h"

enum mqc_client_state {
    MQC_CLIENT_IDLE = 0, /* not opened yet */
    MQC_CLIENT_TCP,      /* TCP connect in progress */
    MQC_CLIENT_CONNACK,  /* CONNECT queued/sent, waiting for CONNACK */
    MQC_CLIENT_SUBACK,   /* SUBSCRIBE sent, waiting for SUBACK(s) */
    MQC_CLIENT_READY,    /* subscribed; may publish */
    MQC_CLIENT_CLOSED,   /* closed (by us or the broker) */
};

#define MQC_NAME_MAX 96
#define MQC_TOPIC_MAX 160

struct mqc_client {
    int fd;
    enum mqc_client_state state;
    uint32_t idx;       /* own index in the loop's client array */
    int dirty;          /* queued in the loop's dirty list */
    int out_armed;      /* EPOLLOUT is armed */
    struct mqc_buf in;  /* received, not yet parsed */
    struct mqc_buf out; /* queued, not yet written */
    uint16_t next_pid;
    uint32_t unacked; /* our QoS 1 publishes without a PUBACK yet */
    size_t want;      /* size of the packet being received, when known and not all here */
    /* Scenario data. */
    int role;          /* MQC_ROLE_* of mqc_bench.c */
    int stream;        /* the stream this client sends or receives */
    int subs_pending;  /* SUBACKs still expected */
    uint64_t expect_k; /* next message number expected (receivers) */
    char user[MQC_NAME_MAX];
    char client_id[MQC_NAME_MAX];
    char sub[MQC_TOPIC_MAX]; /* its one subscription */
    int64_t retry_at;        /* closed before CONNACK: when to connect again */
    unsigned busy_tries;     /* closes before CONNACK in a row (backoff) */
};

struct mqc_loop {
    int ep;                     /* epoll fd, owned */
    struct mqc_client *clients; /* borrowed array, indexed by idx */
    uint32_t *dirty;            /* indexes of clients with queued output, owned */
    size_t ndirty;
    size_t cap;
};

/* Create the epoll fd and a dirty list for n clients (borrowed array).
 * MQC_OK, MQC_ENOMEM or MQC_EINTERNAL (errno set). */
int mqc_loop_init(struct mqc_loop *l, struct mqc_client *clients, size_t n);
void mqc_loop_cleanup(struct mqc_loop *l);

/* Start a non-blocking TCP connect of c to addr (borrowed) and register it
 * with the loop (epoll data = c->idx). State becomes MQC_CLIENT_TCP. */
int mqc_client_open(struct mqc_loop *l, struct mqc_client *c, const struct sockaddr_in *addr);
/* Called when a connecting socket becomes writable: MQC_OK when the connect
 * succeeded (state becomes MQC_CLIENT_CONNACK), MQC_EINTERNAL with errno set
 * when it failed. */
int mqc_client_finish_connect(struct mqc_loop *l, struct mqc_client *c);
/* Note that c has queued output; it is written at the next mqc_loop_flush. */
void mqc_client_mark(struct mqc_loop *l, struct mqc_client *c);
/* Write what c has queued; arms EPOLLOUT when the socket is full. MQC_OK, or
 * MQC_EINTERNAL (errno set) on a broken connection. */
int mqc_client_flush(struct mqc_loop *l, struct mqc_client *c);
/* Receive once into c->in, making room for the rest of the packet being
 * received when c->want says how large it is (MQTT allows up to 256 MB; sync
 * pages are up to ~512 KB), else for 64 KB. *got is the byte count, 0 at EOF,
 * -1 when nothing was ready. MQC_OK, MQC_ENOMEM, or MQC_EINTERNAL (errno
 * set). */
int mqc_client_read(struct mqc_client *c, long *got);
/* Close the socket and free the buffers; state becomes MQC_CLIENT_CLOSED. */
void mqc_client_close(struct mqc_loop *l, struct mqc_client *c);
/* Flush every dirty client; calls on_error(arg, client, errno) for each
 * connection that broke (the callback usually closes it). */
void mqc_loop_flush(struct mqc_loop *l, void (*on_error)(void *, struct mqc_client *, int),
                    void *arg);
/* Next packet id for c (never 0). */
uint16_t mqc_client_pid(struct mqc_client *c);

#endif
