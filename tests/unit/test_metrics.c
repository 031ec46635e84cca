/* Unit tests for core/metrics.h: counters, gauges, labelled counters over
 * declared rows only, histogram buckets, the exact exposition text, and the
 * listen address parser. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/metrics.h"
#include "tests/unit/test.h"

static const char *const login_rows[] = {"password,ok", "password,fail", "jwt,ok", NULL};
static const double bounds[] = {0.001, 0.01, 0.1};

TEST(render_exact)
{
    static struct mqc_metric stored = {
        .name = "m_stored_total", .help = "stored events", .kind = MQC_METRIC_COUNTER};
    static struct mqc_metric up = {.name = "m_up", .help = "up", .kind = MQC_METRIC_GAUGE};
    static struct mqc_metric logins = {.name = "m_logins_total",
                                       .help = "logins",
                                       .kind = MQC_METRIC_COUNTER,
                                       .labels = "method,result",
                                       .values = login_rows};
    static struct mqc_metric rtt = {.name = "m_seconds",
                                    .help = "rtt",
                                    .kind = MQC_METRIC_HISTOGRAM,
                                    .bounds = bounds,
                                    .nbounds = 3};
    mqc_metric_add(&stored, 2);
    mqc_metric_add(&stored, 1);
    mqc_metric_set(&up, 1);
    mqc_metric_set(&up, 0);
    CHECK_EQ_INT(mqc_metric_add_label(&logins, "password,ok", 1), MQC_OK);
    CHECK_EQ_INT(mqc_metric_add_label(&logins, "jwt,ok", 2), MQC_OK);
    CHECK_EQ_INT(mqc_metric_add_label(&logins, "alice,ok", 1), MQC_ENOTFOUND);
    CHECK_EQ_INT(mqc_metric_add_label(&logins, NULL, 1), MQC_ENOTFOUND);
    mqc_metric_observe(&rtt, 0.0005);
    mqc_metric_observe(&rtt, 0.001); /* le is inclusive */
    mqc_metric_observe(&rtt, 0.05);
    mqc_metric_observe(&rtt, 2.5);
    CHECK_EQ_INT(mqc_metric_get(&stored, NULL), 3);
    CHECK_EQ_INT(mqc_metric_get(&logins, "jwt,ok"), 2);
    CHECK_EQ_INT(mqc_metric_get(&rtt, NULL), 4);

    struct mqc_metric *all[] = {&stored, &up, &logins, &rtt};
    char *text = NULL;
    size_t len = 0;
    if (!CHECK_EQ_INT(mqc_metrics_render(all, 4, &text, &len), MQC_OK))
        return;
    CHECK_STR(text, "# HELP m_stored_total stored events\n"
                    "# TYPE m_stored_total counter\n"
                    "m_stored_total 3\n"
                    "# HELP m_up up\n"
                    "# TYPE m_up gauge\n"
                    "m_up 0\n"
                    "# HELP m_logins_total logins\n"
                    "# TYPE m_logins_total counter\n"
                    "m_logins_total{method=\"password\",result=\"ok\"} 1\n"
                    "m_logins_total{method=\"password\",result=\"fail\"} 0\n"
                    "m_logins_total{method=\"jwt\",result=\"ok\"} 2\n"
                    "# HELP m_seconds rtt\n"
                    "# TYPE m_seconds histogram\n"
                    "m_seconds_bucket{le=\"0.001\"} 2\n"
                    "m_seconds_bucket{le=\"0.01\"} 2\n"
                    "m_seconds_bucket{le=\"0.1\"} 3\n"
                    "m_seconds_bucket{le=\"+Inf\"} 4\n"
                    "m_seconds_sum 2.551500000\n"
                    "m_seconds_count 4\n");
    CHECK_EQ_INT((long)len, (long)strlen(text));
    free(text);
}

TEST(escaped_labels_and_empty)
{
    static const char *const rows[] = {"a\"b\\c", NULL};
    static struct mqc_metric m = {
        .name = "x", .help = "h", .kind = MQC_METRIC_COUNTER, .labels = "l", .values = rows};
    struct mqc_metric *all[] = {&m};
    char *text = NULL;
    size_t len;
    if (!CHECK_EQ_INT(mqc_metrics_render(all, 1, &text, &len), MQC_OK))
        return;
    CHECK(strstr(text, "x{l=\"a\\\"b\\\\c\"} 0\n") != NULL);
    free(text);
    if (!CHECK_EQ_INT(mqc_metrics_render(all, 0, &text, &len), MQC_OK))
        return;
    CHECK_STR(text, "");
    free(text);
}

TEST(listen_addresses)
{
    char host[64];
    int port = 0;
    CHECK_EQ_INT(mqc_metrics_parse_listen("127.0.0.1:9100", host, sizeof host, &port), MQC_OK);
    CHECK_STR(host, "127.0.0.1");
    CHECK_EQ_INT(port, 9100);
    CHECK_EQ_INT(mqc_metrics_parse_listen("[::1]:9", host, sizeof host, &port), MQC_OK);
    CHECK_STR(host, "::1");
    CHECK_EQ_INT(port, 9);
    CHECK_EQ_INT(mqc_metrics_parse_listen("localhost:65535", host, sizeof host, &port), MQC_OK);
    const char *bad[] = {"",     "9100",  ":9100",  "h:",     "h:0", "h:65536",
                         "h:9x", "::1:9", "[::1]9", "[::1]:", "h:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(mqc_metrics_parse_listen(bad[i], host, sizeof host, &port), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_metrics_parse_listen("verylonghostname:1", host, 8, &port), MQC_EBADREQ);
}

int main(void)
{
    RUN(render_exact);
    RUN(escaped_labels_and_empty);
    RUN(listen_addresses);
    return test_finish();
}
