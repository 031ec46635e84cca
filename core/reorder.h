/* Per-conversation ordering of live deliveries on one node. Events of a
 * conversation carry its seq; in a cluster they reach a node by two roads
 * (the node's own Redis replies, and other nodes' events over the bus) that
 * do not keep Redis's order between them. This puts them back in seq order
 * per conversation before they reach devices: an event right after the last
 * one delivered goes at once (with any buffered ones that follow it); an
 * event after a gap waits up to wait_ms for the gap to fill, then goes anyway
 * (the missing event was not meant for this node, or was lost on the bus: a
 * device's sync fills any real hole); an old event goes at once, and so does
 * the first event of a conversation quiet for 10 x wait_ms. With one node
 * nothing ever waits. Pure; broker thread only. */
#ifndef MQC_REORDER_H
#define MQC_REORDER_H

#include <stddef.h>
#include <stdint.h>

struct mqc_reorder;

/* One event ready for delivery (all borrowed for the callback). */
struct mqc_reorder_out {
    const char *conv;
    int64_t seq;
    const char *const *users;
    size_t nusers;
    const char *payload;
    size_t len;
    int qos;
};
typedef void (*mqc_reorder_fn)(void *ctx, const struct mqc_reorder_out *out);

struct mqc_reorder *mqc_reorder_new(int64_t wait_ms);
void mqc_reorder_free(struct mqc_reorder *r);

/* Event seq of conv for users (all borrowed; copied if it must wait):
 * fn gets it now, or later from mqc_reorder_due. Events that follow it and
 * were waiting are handed over in order too. MQC_OK or MQC_ENOMEM (then it
 * was delivered at once, out of order). */
int mqc_reorder_offer(struct mqc_reorder *r, const struct mqc_reorder_out *ev, int64_t now_ms,
                      mqc_reorder_fn fn, void *ctx);
/* Hand over what waited past its deadline (and what follows it). Returns
 * the earliest deadline still pending, or INT64_MAX. */
int64_t mqc_reorder_due(struct mqc_reorder *r, int64_t now_ms, mqc_reorder_fn fn, void *ctx);
/* Events waiting, all conversations together. */
size_t mqc_reorder_waiting(const struct mqc_reorder *r);

#endif
