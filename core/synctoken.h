/* Sync tokens (PROTOCOL.md "sync"): opaque to clients, they carry a position
 * in the user's timeline (a Redis stream id "ms-seq") and a fingerprint of the
 * user, so that a token shown by another user, or garbage, is refused. They
 * hold no secret and stay valid across broker restarts: a user can only ever
 * read their own timeline, the fingerprint only catches mix-ups.
 * Format: "t1." + ms + "-" + seq + "." + 8 hex digits. Pure. */
#ifndef MQC_SYNCTOKEN_H
#define MQC_SYNCTOKEN_H

#include <stddef.h>

#define MQC_SYNCTOKEN_MAX 64
#define MQC_STREAMID_MAX 48

/* Encode the stream id (borrowed, "ms-seq") for user into out. MQC_OK or
 * MQC_EBADREQ (bad stream id or user). */
int mqc_synctoken_encode(const char *user, const char *stream_id, char *out, size_t size);
/* Decode token for user into the stream id. MQC_EBADREQ for garbage or
 * another user's token. */
int mqc_synctoken_decode(const char *user, const char *token, char *stream_id, size_t size);

#endif
