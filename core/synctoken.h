/* Sync tokens (PROTOCOL.md "sync"): opaque to clients, they carry a position
 * in the user's stream of events and a fingerprint of the user, so that a
 * token shown by another user, or garbage, is refused. They hold no secret
 * and stay valid across broker restarts: a user can only ever read their
 * own events, the fingerprint only catches mix-ups.
 *
 * Version 2 (lazy fan-out, issue #15): the position is (t, conv, seq) in the
 * order of sync (event time in ms from Redis, then conversation id, then
 * seq): "every event the user may see at or before the position has been
 * returned". Without a tie-break (conv, seq) it means every event with time
 * <= t. Formats: "t2." t "." fp, or "t2." t "." seq "." conv "." fp
 * (fp = 8 hex digits; conv may itself hold dots).
 * Version 1 tokens ("t1." ms "-" seq "." fp) pointed into per-user timelines
 * that no longer exist: they decode (for their user) with legacy set, and
 * sync answers reset. Pure. */
#ifndef MQC_SYNCTOKEN_H
#define MQC_SYNCTOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/id.h"

#define MQC_SYNCTOKEN_MAX 160

struct mqc_syncpos {
    int64_t t;                 /* event time, ms (>= 0) */
    bool tie;                  /* conv and seq below are set */
    char conv[MQC_ID_MAX + 1]; /* tie-break: conversation id */
    int64_t seq;               /* tie-break: seq in conv (>= 0) */
    bool legacy;               /* decode: a version 1 token (answer reset) */
};

/* Encode pos (borrowed) for user into out. MQC_OK, MQC_EBADREQ (bad user or
 * position) or MQC_EINTERNAL (out too small). */
int mqc_synctoken_encode(const char *user, const struct mqc_syncpos *pos, char *out, size_t size);
/* Decode token for user into *pos. MQC_EBADREQ for garbage or another user's
 * token (of either version). */
int mqc_synctoken_decode(const char *user, const char *token, struct mqc_syncpos *pos);

#endif
