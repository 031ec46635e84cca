/* The broker's Prometheus metrics (plugin/metrics.c): the event handlers
 * bump counters (atomics, any thread, never blocking); with
 * plugin_opt_metrics_listen set, a small HTTP thread serves them at
 * GET /metrics. Metric names: docs/PROTOCOL.md "Metrics". */
#ifndef MQC_PLUGIN_METRICS_H
#define MQC_PLUGIN_METRICS_H

#include <stdbool.h>

struct mqc_plugin;

/* One stored conversation event (message or member event). */
void mqc_plugin__metric_stored(void);
/* A send refused with rc (an MQC_E* code; labelled by its wire code). */
void mqc_plugin__metric_rejected(int rc);
/* A login by method ("password", "token", "jwt") with the MOSQ_ERR_* the
 * broker got: success = ok, auth = fail, anything else (closed without a
 * CONNACK: busy, Redis down) = busy. */
void mqc_plugin__metric_login(const char *method, int mosq_rc);
/* A login closed busy by the broker's own pacing; reason one of
 * "login_budget", "redis_lag", "session_reads", "password_check". */
void mqc_plugin__metric_busy(const char *reason);
/* A token login answered from a record fetched ahead (session_prefetch.c). */
void mqc_plugin__metric_prefetched(void);
/* One store command's round trip in seconds (store/ hook). */
void mqc_plugin__metric_store_rtt(double seconds, void *ctx);
/* From tick (broker thread): start the server once when configured (bind
 * errors are logged here, once) and refresh the gauges. */
void mqc_plugin__metrics_tick(struct mqc_plugin *p);
/* Stop and join the server thread (plugin cleanup). */
void mqc_plugin__metrics_stop(void);

#endif
