/* The push bridge's Prometheus metrics (names: docs/PROTOCOL.md "Metrics"),
 * served at GET /metrics on metrics_listen by core/metrics_http.c. Counted on
 * the bridge's thread; the server thread only reads them. */
#ifndef MQC_BRIDGE_METRICS_H
#define MQC_BRIDGE_METRICS_H

#include <stddef.h>

/* Start serving on addr ("host:port", borrowed). MQC_OK, or MQC_EUNAVAIL
 * with the reason in err (errlen bytes). */
int mqc_bridge_metrics_start(const char *addr, char *err, size_t errlen);
void mqc_bridge_metrics_stop(void);
/* A push accepted by provider ("apns" or "fcm"). */
void mqc_bridge_metric_sent(const char *provider);
/* A push that will not be delivered, by provider and reason: "dead_token"
 * (the device is gone; removed), "bad_token", "rejected" (refused for good),
 * "gave_up" (retries or time to live used up). */
void mqc_bridge_metric_failed(const char *provider, const char *reason);
/* Jobs waiting: not yet read, being sent, waiting for a retry. */
void mqc_bridge_metric_backlog(long long jobs);
/* Count events (slot jobs) expanded into push decisions. */
void mqc_bridge_metric_expanded(long long events);

#endif
