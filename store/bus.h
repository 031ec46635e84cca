/* The cluster bus: Redis pub/sub between the brokers sharing one Redis. Each
 * node listens on two channels, its own ("<prefix>bus:n:<node>": events for
 * users connected to it) and the shared one ("<prefix>bus:all": directory
 * changes, membership invalidations, presence, broadcasts, node deaths).
 *
 * Listening needs a blocking read, and Mosquitto 2.0.11 lets a plugin add no
 * descriptor to the broker loop, so a bus thread owns the subscriber
 * connection: it queues each message and calls wake() after each batch so
 * the broker thread drains the queue at once instead of at its next 100 ms
 * idle pass (wake() must get the broker through a whole new pass, even if
 * its signal lands before the broker sleeps: plugin/wake.c). The bus thread
 * never calls mosquitto; the broker thread never touches the subscriber.
 *
 * Pub/sub delivers at most once: a message published while a node is cut off
 * from Redis is lost for that node. Nothing durable depends on it: every
 * event is stored first, and a device's sync catches up on what its node
 * missed. Publishing goes through the store's per-pass pipeline
 * (mqc_store_bus_publish). */
#ifndef MQC_BUS_H
#define MQC_BUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "store/store.h"

struct mqc_bus;

/* Called on the bus thread after messages were queued; must be
 * thread-safe. */
typedef void (*mqc_bus_wake_fn)(void *ctx);

/* A bus for node (borrowed, copied), connecting as opts says (borrowed during
 * the call). Starts the bus thread; it connects and reconnects by itself.
 * NULL on failure. */
struct mqc_bus *mqc_bus_new(const struct mqc_store_opts *opts, const char *node,
                            mqc_bus_wake_fn wake, void *wake_ctx);
/* Stop and join the bus thread, drop what is queued. NULL does nothing. */
void mqc_bus_free(struct mqc_bus *b);

/* One drained message: to_all says which channel it came on; data (borrowed
 * for the call) is len bytes plus a NUL; recv_ms is when the bus thread read
 * it (mqc_clock_mono_ms). */
typedef void (*mqc_bus_msg_fn)(void *ctx, bool to_all, const char *data, size_t len,
                               int64_t recv_ms);
/* Broker thread: hand every queued message to fn, in arrival order. *resubscribed
 * is set when the subscription was re-established since the last drain (the
 * node may have missed messages). Returns how many messages. */
size_t mqc_bus_drain(struct mqc_bus *b, mqc_bus_msg_fn fn, void *ctx, bool *resubscribed);
/* Whether the subscription is up (for status and tests). */
bool mqc_bus_up(struct mqc_bus *b);

/* Queue a PUBLISH of data (len bytes, borrowed) on the pipeline of s: to
 * node's channel, or to the shared channel when node is NULL. MQC_OK or an
 * error (nothing queued). */
int mqc_store_bus_publish(struct mqc_store *s, const char *node, const char *data, size_t len);

/* Blocking: send event (borrowed JSON text) to every user connected to any
 * node. *nodes gets how many nodes listened. MQC_OK or MQC_EUNAVAIL. */
int mqc_store_broadcast(struct mqc_store *s, const char *event, long long *nodes);

#endif
