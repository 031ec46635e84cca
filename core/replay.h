/* The events this node fanned out lately, kept a short while so that a
 * directory change can be made up for (ARCHITECTURE.md, "Cluster"): when the
 * bus says user U is now on node N, the events of the last ~2 s that U was a
 * recipient of and that were not sent to N for U go to N now. That closes the
 * race between a user's connect-time sync on N and a message routed by this
 * node before it had learned that U is on N. Bounded by age, count and bytes;
 * each event is copied once (payload and recipient names), its recipients
 * sorted only when a lookup first needs them. Pure; broker thread only. */
#ifndef MQC_REPLAY_H
#define MQC_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* Nodes one event remembers having been sent to; a replay to more is sent
 * without being remembered. */
#define MQC_REPLAY_MAX_NODES 16

struct mqc_replay;
struct mqc_replay_ev;

/* A ring keeping events for window_ms, at most max_events of them and
 * max_bytes of payload and names together. NULL when out of memory. */
struct mqc_replay *mqc_replay_new(int64_t window_ms, size_t max_events, size_t max_bytes);
void mqc_replay_free(struct mqc_replay *r);

/* Record an event fanned out at now_ms: seq of conv (conv NULL or seq < 0:
 * unordered) for users (n of them), payload of len bytes; all borrowed and
 * copied. Returns the event (owned by the ring, valid until the next call
 * that changes the ring), for mqc_replay_mark, or NULL (out of memory, or
 * larger than the ring: then nothing is kept). */
struct mqc_replay_ev *mqc_replay_add(struct mqc_replay *r, int64_t now_ms, const char *conv,
                                     int64_t seq, int qos, const char *const *users, size_t n,
                                     const char *payload, size_t len);
/* users[i] of mqc_replay_add was sent to node (borrowed; kept by pointer, so
 * it must outlive the ring: the directory's interned names do). */
void mqc_replay_mark(struct mqc_replay_ev *ev, size_t i, const char *node);

/* One event to send again (all borrowed for the callback). */
struct mqc_replay_out {
    const char *conv; /* NULL: unordered */
    int64_t seq;
    int qos;
    const char *payload;
    size_t len;
};
typedef void (*mqc_replay_fn)(void *ctx, const struct mqc_replay_out *out);

/* user (borrowed) is now on node (kept by pointer, as in mqc_replay_mark,
 * and compared by pointer: pass the directory's interned name): for every
 * event of the window added at since_ms or later, with user among its
 * recipients and not yet sent to node for user, call fn and remember it as
 * sent. since_ms is when the news may have been true at the earliest:
 * older events were stored before it, and the user's sync has them. Returns
 * how many. */
size_t mqc_replay_user(struct mqc_replay *r, int64_t now_ms, int64_t since_ms, const char *user,
                       const char *node, mqc_replay_fn fn, void *ctx);
/* Events kept now. */
size_t mqc_replay_count(const struct mqc_replay *r);

#endif
