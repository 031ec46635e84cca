/* The HTTP/2 side of the push bridge: APNs and FCM requests on one libcurl
 * multi handle (multiplexed, connections reused), with the provider tokens
 * they need (APNs ES256 JWT, refreshed on schedule and once on
 * ExpiredProviderToken; FCM OAuth2 access token from the service account,
 * refreshed before expiry and once on 401; the token request runs on the
 * same multi handle, never blocking). TLS verification is always on;
 * ca_file adds a CA. Single-threaded: call from the daemon's loop only. */
#ifndef MQC_BRIDGE_SENDER_H
#define MQC_BRIDGE_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/config.h"
#include "bridge/outcome.h"
#include "bridge/payload.h"

struct mqc_sender;

/* The final word on one request. reason: short and from a small set (the
 * service's reason, curl's error class, "oauth_failed"), fit for a counter
 * name; detail: the whole story for logs and the dead-letter stream ("HTTP
 * 503 ServiceUnavailable", "Failed to connect to ... : Connection
 * refused", "FCM OAuth token request failed: HTTP 400 invalid_grant").
 * Both borrowed for the call; retry_after_ms is -1 when the service gave
 * none. */
typedef void (*mqc_sender_done)(void *ctx, enum mqc_push_outcome outcome, long status,
                                const char *reason, const char *detail, int64_t retry_after_ms);

/* cfg borrowed for the sender's life. NULL if a configured key or service
 * account cannot be used: then err (borrowed, errlen bytes) says why,
 * naming the config file's line and key ("<file>: line 4: apns_key_file:
 * cannot read '/etc/k.p8': No such file or directory"). */
struct mqc_sender *mqc_sender_new(const struct mqc_bridge_config *cfg, char *err, size_t errlen);
void mqc_sender_free(struct mqc_sender *s);
bool mqc_sender_apns(const struct mqc_sender *s);
bool mqc_sender_fcm(const struct mqc_sender *s);
/* Start sending job to dev. MQC_OK (cb will be called exactly once),
 * MQC_ENOTFOUND when dev's platform is not configured, MQC_ENOMEM. */
int mqc_sender_submit(struct mqc_sender *s, const struct mqc_push_job *job,
                      const struct mqc_push_device *dev, mqc_sender_done cb, void *ctx);
int mqc_sender_in_flight(const struct mqc_sender *s);
/* Drive transfers for at most timeout_ms and run the callbacks of finished
 * ones. */
void mqc_sender_run(struct mqc_sender *s, int timeout_ms);

#endif
