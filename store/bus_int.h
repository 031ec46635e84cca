/* Shared between store/bus.c (the bus, its queue, one Redis) and
 * store/bus_shard.c (the subscriber on a Redis Cluster: sharded pub/sub).
 * Not for use outside them. */
#ifndef MQC_STORE_BUS_INT_H
#define MQC_STORE_BUS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/bus.h"

/* The bus's channels: index into mqc_bus.chan / .slot. */
enum { MQC_BUS__NODE, MQC_BUS__ALL, MQC_BUS__CHANS };

struct mqc_bus__msg {
    struct mqc_bus__msg *next;
    bool to_all;
    int64_t recv_ms;
    size_t len;
    char data[];
};

struct mqc_bus {
    char *host, *unix_path, *password;
    int port, timeout_ms;
    char *chan[MQC_BUS__CHANS]; /* "<p>bus:n:<node>", "<p>bus:all" */
    /* Cluster mode: the seeds (NULL: one Redis), each channel's slot, and
     * the router that holds the slot map (owned by the bus thread once it
     * runs; never used for commands). */
    char *seeds;
    unsigned slot[MQC_BUS__CHANS];
    struct mqc_router *router;
    mqc_bus_wake_fn wake;
    void *wake_ctx;

    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    /* Under lock: */
    struct mqc_bus__msg *head, **tail;
    size_t queued, dropped;
    bool stop, up, resubscribed, was_up_once;
    char error[160];
    /* Broker thread only: what drain last reported. */
    bool reported_up;
    char reported[160];
};

/* Bus thread: record whether every channel is subscribed (why: the reason
 * when not, borrowed; NULL for none). Going up after having been up once
 * marks the bus resubscribed. */
void mqc_bus__set_state(struct mqc_bus *b, bool up, const char *why);
/* Whether mqc_bus_free asked the thread to stop. */
bool mqc_bus__stopping(struct mqc_bus *b);
/* Sleep up to ms, returning early when asked to stop. */
void mqc_bus__pause(struct mqc_bus *b, int ms);
/* Queue a message read on channel chan (len bytes, borrowed; compared with
 * the bus's channels). Returns true if queued (false: not one of ours, out
 * of memory, or the queue is full, counted as dropped). */
bool mqc_bus__queue(struct mqc_bus *b, const char *chan, const char *data, size_t len);

/* The bus thread's loop on a Redis Cluster (store/bus_shard.c): SSUBSCRIBE
 * each channel on the primary serving its slot, follow moves and failovers,
 * until stop. */
void mqc_bus__run_sharded(struct mqc_bus *b);

#endif
