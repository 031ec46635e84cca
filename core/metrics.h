/* Prometheus metrics, pure: counters, gauges and labelled counters over a
 * fixed set of label values (declared with the metric, so no id or token can
 * ever become a label), histograms with fixed bucket bounds, and the text
 * exposition format (version 0.0.4). Values are C11 atomics: any thread may
 * bump them (relaxed; a scrape sees each value whole, not a snapshot across
 * values), and rendering only reads them. The HTTP server that serves the
 * text lives with each program (plugin/metrics.c). */
#ifndef MQC_METRICS_H
#define MQC_METRICS_H

#include <stdatomic.h>
#include <stddef.h>

#define MQC_METRIC_MAX_SERIES 24
#define MQC_METRIC_MAX_BUCKETS 16

enum mqc_metric_kind { MQC_METRIC_COUNTER, MQC_METRIC_GAUGE, MQC_METRIC_HISTOGRAM };

/* A metric, declared statically:
 *   static const char *const reasons[] = {"forbidden", "rate_limited", NULL};
 *   static struct mqc_metric rejected = {
 *       .name = "x_total", .help = "...", .kind = MQC_METRIC_COUNTER,
 *       .labels = "reason", .values = reasons};
 * labels: comma-separated label names, NULL for none; values: one row per
 * series, comma-separated values in the order of labels, NULL-terminated
 * (at most MQC_METRIC_MAX_SERIES rows). Histograms: bounds (ascending
 * seconds, at most MQC_METRIC_MAX_BUCKETS, nbounds of them); no labels.
 * Strings are borrowed for the metric's lifetime. */
struct mqc_metric {
    const char *name, *help;
    enum mqc_metric_kind kind;
    const char *labels;
    const char *const *values;
    const double *bounds;
    size_t nbounds;
    _Atomic long long v[MQC_METRIC_MAX_SERIES]; /* series values; histogram: count */
    _Atomic unsigned long long buckets[MQC_METRIC_MAX_BUCKETS + 1]; /* per bucket, +Inf last */
    _Atomic unsigned long long sum_ns;                              /* histogram sum */
};

/* Add delta to the unlabelled value (counters: delta >= 0). */
void mqc_metric_add(struct mqc_metric *m, long long delta);
/* Set a gauge. */
void mqc_metric_set(struct mqc_metric *m, long long value);
/* Add delta to the series whose values row is values (borrowed, e.g.
 * "password,ok"). A row not declared changes nothing: MQC_ENOTFOUND. */
int mqc_metric_add_label(struct mqc_metric *m, const char *values, long long delta);
/* Count one observation of seconds in a histogram. */
void mqc_metric_observe(struct mqc_metric *m, double seconds);
/* The value of the unlabelled series, or of the row values (tests). */
long long mqc_metric_get(const struct mqc_metric *m, const char *values);

/* The exposition text of n metrics (ms borrowed), in the order given:
 * *out (borrowed) gets it, returned owned (free()), *len its length.
 * MQC_OK or MQC_ENOMEM. */
int mqc_metrics_render(struct mqc_metric *const *ms, size_t n, char **out, size_t *len);

/* Parse a listen address "host:port" or "[v6]:port" (s borrowed) into host
 * (size bytes) and *port (1-65535). MQC_OK or MQC_EBADREQ. */
int mqc_metrics_parse_listen(const char *s, char *host, size_t size, int *port);

/* Option-table check (core/opt.h) for a metrics_listen value v (borrowed):
 * NULL when it parses, else the static reason. Shared by the plugin's and
 * the bridge's tables. */
const char *mqc_metrics_check_listen(const char *v);

#endif
