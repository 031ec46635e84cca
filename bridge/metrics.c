/* The push bridge's metrics (see metrics.h): their fixed label rows and the
 * server. */
#include "bridge/metrics.h"

#include <stdio.h>

#include "core/err.h"
#include "core/metrics.h"
#include "core/metrics_http.h"

static const char *const providers[] = {"apns", "fcm", NULL};
static const char *const failures[] = {"apns,dead_token", "apns,bad_token", "apns,rejected",
                                       "apns,gave_up",    "fcm,dead_token", "fcm,bad_token",
                                       "fcm,rejected",    "fcm,gave_up",    NULL};

static struct mqc_metric sent = {.name = "mqchat_push_sent_total",
                                 .help = "Pushes accepted by APNs or FCM.",
                                 .kind = MQC_METRIC_COUNTER,
                                 .labels = "provider",
                                 .values = providers};
static struct mqc_metric failed = {.name = "mqchat_push_failed_total",
                                   .help = "Pushes that will not be delivered, by reason.",
                                   .kind = MQC_METRIC_COUNTER,
                                   .labels = "provider,reason",
                                   .values = failures};
static struct mqc_metric backlog = {
    .name = "mqchat_push_backlog",
    .help = "Push jobs waiting: not yet read, being sent, or waiting for a retry.",
    .kind = MQC_METRIC_GAUGE};
static struct mqc_metric expanded = {
    .name = "mqchat_push_expanded_total",
    .help = "Message and member events expanded into per-user push decisions (lazy fan-out).",
    .kind = MQC_METRIC_COUNTER};
static struct mqc_metric *const all[] = {&sent, &failed, &backlog, &expanded};
static struct mqc_metrics_http *server;

int mqc_bridge_metrics_start(const char *addr, char *err, size_t errlen)
{
    server = mqc_metrics_http_start(addr, all, sizeof all / sizeof all[0], err, errlen);
    return server ? MQC_OK : MQC_EUNAVAIL;
}

void mqc_bridge_metrics_stop(void)
{
    mqc_metrics_http_stop(server);
    server = NULL;
}

void mqc_bridge_metric_sent(const char *provider)
{
    mqc_metric_add_label(&sent, provider ? provider : "", 1);
}

void mqc_bridge_metric_failed(const char *provider, const char *reason)
{
    char row[64];
    snprintf(row, sizeof row, "%s,%s", provider ? provider : "", reason);
    mqc_metric_add_label(&failed, row, 1);
}

void mqc_bridge_metric_backlog(long long jobs)
{
    mqc_metric_set(&backlog, jobs);
}

void mqc_bridge_metric_expanded(long long events)
{
    mqc_metric_add(&expanded, events);
}
