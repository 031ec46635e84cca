/* What a push service's answer means for a job: sent, retry later, the
 * token is dead (remove it), the token is bad (count it, keep it), the auth
 * token must be renewed, or a final failure. Also when to retry: the
 * service's Retry-After, or exponential backoff with full jitter. Pure: the
 * caller passes the clock and the randomness. */
#ifndef MQC_BRIDGE_OUTCOME_H
#define MQC_BRIDGE_OUTCOME_H

#include <stddef.h>
#include <stdint.h>

enum mqc_push_outcome {
    MQC_PUSH_SENT,         /* accepted by the service */
    MQC_PUSH_RETRY,        /* transient: try again later */
    MQC_PUSH_DEAD_TOKEN,   /* the device is gone: remove its token */
    MQC_PUSH_BAD_TOKEN,    /* token refused (APNs BadDeviceToken, maybe a sandbox
                              token sent to production): count, keep, do not retry */
    MQC_PUSH_REFRESH_AUTH, /* renew the provider/access token, then retry once */
    MQC_PUSH_FAILED,       /* final: retrying cannot help */
};

/* APNs answer: HTTP status (0 = transport error or timeout) and body
 * (borrowed, NUL-terminated, may be NULL). reason (borrowed, reason_len
 * bytes, may be NULL when reason_len is 0) gets the body's "reason", or
 * "HTTP <status>" / "transport" when there is none, printable ASCII only. */
enum mqc_push_outcome mqc_apns_outcome(long status, const char *body, char *reason,
                                       size_t reason_len);

/* FCM HTTP v1 answer, as mqc_apns_outcome(). reason gets the first
 * error.details[].errorCode, else error.status, else "HTTP <status>". */
enum mqc_push_outcome mqc_fcm_outcome(long status, const char *body, char *reason,
                                      size_t reason_len);

/* Milliseconds to wait according to a Retry-After header value (borrowed,
 * may be NULL): delta-seconds, or an HTTP-date compared with now_ms (UNIX
 * ms). A date in the past gives 0; waits are capped at one day. -1 when the
 * value is absent or cannot be parsed. */
int64_t mqc_retry_after_ms(const char *value, int64_t now_ms);

/* Backoff before retry number attempt (1 = the first retry): a ceiling of
 * 1 s doubling per attempt, capped at 5 min, and a delay drawn uniformly
 * from [0, ceiling] by rnd (full jitter). Deterministic in rnd. */
int64_t mqc_backoff_ms(int attempt, uint32_t rnd);
#define MQC_BACKOFF_BASE_MS 1000
#define MQC_BACKOFF_MAX_MS 300000

/* "sent", "retry", "dead_token", "bad_token", "refresh_auth", "failed"
 * (static; "unknown" for anything else). For logs and counters. */
const char *mqc_push_outcome_name(enum mqc_push_outcome o);

#endif
