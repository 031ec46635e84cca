/* The broker's metrics (see metrics.h): the metric definitions, and the
 * HTTP server (core/metrics_http.c), started on the broker thread in the
 * first tick so that a bad address is logged there. */
#include "plugin/metrics.h"

#include <stdio.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/metrics_http.h"
#include "plugin/plugin.h"

static const char *const reasons[] = {"bad_request", "too_large", "not_member",
                                      "forbidden",   "not_found", "rate_limited",
                                      "unavailable", "internal",  NULL};
static const char *const logins_rows[] = {
    "password,ok", "password,fail", "password,busy", "token,ok", "token,fail",
    "token,busy",  "jwt,ok",        "jwt,fail",      "jwt,busy", NULL};
static const char *const busy_rows[] = {"login_budget", "redis_lag", "session_reads",
                                        "password_check", NULL};
static const double rtt_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                    0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};

static struct mqc_metric stored = {.name = "mqchat_messages_stored_total",
                                   .help =
                                       "Conversation events stored (messages and member events).",
                                   .kind = MQC_METRIC_COUNTER};
static struct mqc_metric rejected = {.name = "mqchat_sends_rejected_total",
                                     .help = "Sends refused, by the error code the sender got.",
                                     .kind = MQC_METRIC_COUNTER,
                                     .labels = "reason",
                                     .values = reasons};
static struct mqc_metric logins = {
    .name = "mqchat_logins_total",
    .help = "Logins by method and result (busy: closed without CONNACK, retried).",
    .kind = MQC_METRIC_COUNTER,
    .labels = "method,result",
    .values = logins_rows};
static struct mqc_metric busy = {
    .name = "mqchat_logins_busy_total",
    .help = "Logins closed busy by the broker's own pacing, by why (login_budget, redis_lag, "
            "session_reads: reads of the loop pass spent in a storm, password_check: queued "
            "for an auth thread).",
    .kind = MQC_METRIC_COUNTER,
    .labels = "reason",
    .values = busy_rows};
static struct mqc_metric prefetched = {
    .name = "mqchat_logins_prefetched_total",
    .help = "Token logins answered from a session record fetched ahead for their retry.",
    .kind = MQC_METRIC_COUNTER};
static struct mqc_metric devices = {.name = "mqchat_connected_devices",
                                    .help = "Logged-in connections on this broker.",
                                    .kind = MQC_METRIC_GAUGE};
static struct mqc_metric store_seconds = {
    .name = "mqchat_store_seconds",
    .help = "Round trip of one store command to Redis (written to reply read).",
    .kind = MQC_METRIC_HISTOGRAM,
    .bounds = rtt_bounds,
    .nbounds = sizeof rtt_bounds / sizeof rtt_bounds[0]};
static struct mqc_metric redis_up = {.name = "mqchat_redis_up",
                                     .help = "1 while the broker's Redis connection is up.",
                                     .kind = MQC_METRIC_GAUGE};

static struct mqc_metric *const all[] = {&stored,     &rejected, &logins,        &busy,
                                         &prefetched, &devices,  &store_seconds, &redis_up};

static struct {
    bool tried;
    struct mqc_metrics_http *h;
} server;

void mqc_plugin__metric_stored(void)
{
    mqc_metric_add(&stored, 1);
}

void mqc_plugin__metric_rejected(int rc)
{
    mqc_metric_add_label(&rejected, mqc_err_code(rc), 1);
}

void mqc_plugin__metric_login(const char *method, int mosq_rc)
{
    char row[32];
    const char *result = mosq_rc == MOSQ_ERR_SUCCESS ? "ok"
                         : mosq_rc == MOSQ_ERR_AUTH  ? "fail"
                                                     : "busy";
    snprintf(row, sizeof row, "%s,%s", method, result);
    mqc_metric_add_label(&logins, row, 1);
}

void mqc_plugin__metric_busy(const char *reason)
{
    mqc_metric_add_label(&busy, reason, 1);
}

void mqc_plugin__metric_prefetched(void)
{
    mqc_metric_add(&prefetched, 1);
}

void mqc_plugin__metric_store_rtt(double seconds, void *ctx)
{
    (void)ctx;
    mqc_metric_observe(&store_seconds, seconds);
}

static void start(const char *addr)
{
    char err[300];
    server.h = mqc_metrics_http_start(addr, all, sizeof all / sizeof all[0], err, sizeof err);
    if (server.h)
        mqc_log(MQC_LOG_NOTICE, "metrics: serving http://%s/metrics", addr);
    else
        mqc_log(MQC_LOG_ERR, "metrics: %s", err);
}

void mqc_plugin__metrics_tick(struct mqc_plugin *p)
{
    if (!server.tried) {
        server.tried = true;
        mqc_store_set_rtt_hook(p->store, mqc_plugin__metric_store_rtt, NULL);
        if (p->cfg.metrics_listen)
            start(p->cfg.metrics_listen);
    }
    mqc_metric_set(&redis_up, mqc_store_is_up(p->store) ? 1 : 0);
    mqc_metric_set(&devices, (long long)mqc_map_count(p->client_ids));
}

void mqc_plugin__metrics_stop(void)
{
    mqc_metrics_http_stop(server.h);
    server.h = NULL;
    server.tried = false;
}
