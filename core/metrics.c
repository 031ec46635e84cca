/* Metric values and their Prometheus text (see metrics.h). */
#include "core/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void mqc_metric_add(struct mqc_metric *m, long long delta)
{
    atomic_fetch_add_explicit(&m->v[0], delta, memory_order_relaxed);
}

void mqc_metric_set(struct mqc_metric *m, long long value)
{
    atomic_store_explicit(&m->v[0], value, memory_order_relaxed);
}

static long row(const struct mqc_metric *m, const char *values)
{
    for (size_t i = 0; m->values && m->values[i] && i < MQC_METRIC_MAX_SERIES; i++) {
        if (!strcmp(m->values[i], values))
            return (long)i;
    }
    return -1;
}

int mqc_metric_add_label(struct mqc_metric *m, const char *values, long long delta)
{
    long i = values ? row(m, values) : -1;
    if (i < 0)
        return MQC_ENOTFOUND;
    atomic_fetch_add_explicit(&m->v[i], delta, memory_order_relaxed);
    return MQC_OK;
}

void mqc_metric_observe(struct mqc_metric *m, double seconds)
{
    size_t b = 0;
    while (b < m->nbounds && b < MQC_METRIC_MAX_BUCKETS && seconds > m->bounds[b])
        b++;
    atomic_fetch_add_explicit(&m->buckets[b], 1, memory_order_relaxed);
    if (seconds > 0)
        atomic_fetch_add_explicit(&m->sum_ns, (unsigned long long)(seconds * 1e9),
                                  memory_order_relaxed);
    atomic_fetch_add_explicit(&m->v[0], 1, memory_order_relaxed);
}

long long mqc_metric_get(const struct mqc_metric *m, const char *values)
{
    long i = values ? row(m, values) : 0;
    return i < 0 ? 0 : atomic_load_explicit(&m->v[i], memory_order_relaxed);
}

/* A growing text buffer; failed sticks once an allocation failed. */
struct buf {
    char *p;
    size_t len, cap;
    int failed;
};

__attribute__((format(printf, 2, 3))) static void put(struct buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 1024;
        while (cap <= b->len + (size_t)n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* name="value",... from the label names and one values row, escaped. */
static void put_labels(struct buf *b, const char *names, const char *values)
{
    const char *n = names, *v = values;
    int first = 1;
    while (n && *n) {
        size_t nl = strcspn(n, ","), vl = strcspn(v, ",");
        put(b, "%s%.*s=\"", first ? "" : ",", (int)nl, n);
        for (size_t i = 0; i < vl; i++) {
            char c = v[i];
            if (c == '\\' || c == '"')
                put(b, "\\%c", c);
            else if (c == '\n')
                put(b, "\\n");
            else
                put(b, "%c", c);
        }
        put(b, "\"");
        first = 0;
        n += nl + (n[nl] == ',');
        v += vl + (v[vl] == ',');
    }
}

static void put_histogram(struct buf *b, struct mqc_metric *m)
{
    unsigned long long cum = 0;
    size_t nb = m->nbounds < MQC_METRIC_MAX_BUCKETS ? m->nbounds : MQC_METRIC_MAX_BUCKETS;
    for (size_t i = 0; i <= nb; i++) {
        cum += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
        if (i < nb)
            put(b, "%s_bucket{le=\"%g\"} %llu\n", m->name, m->bounds[i], cum);
        else
            put(b, "%s_bucket{le=\"+Inf\"} %llu\n", m->name, cum);
    }
    unsigned long long ns = atomic_load_explicit(&m->sum_ns, memory_order_relaxed);
    put(b, "%s_sum %llu.%09llu\n", m->name, ns / 1000000000ULL, ns % 1000000000ULL);
    put(b, "%s_count %llu\n", m->name, cum);
}

int mqc_metrics_render(struct mqc_metric *const *ms, size_t n, char **out, size_t *len)
{
    static const char *const kinds[] = {"counter", "gauge", "histogram"};
    struct buf b = {0};
    for (size_t i = 0; i < n; i++) {
        struct mqc_metric *m = ms[i];
        put(&b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, kinds[m->kind]);
        if (m->kind == MQC_METRIC_HISTOGRAM) {
            put_histogram(&b, m);
            continue;
        }
        if (!m->labels) {
            put(&b, "%s %lld\n", m->name, atomic_load_explicit(&m->v[0], memory_order_relaxed));
            continue;
        }
        for (size_t r = 0; m->values && m->values[r] && r < MQC_METRIC_MAX_SERIES; r++) {
            put(&b, "%s{", m->name);
            put_labels(&b, m->labels, m->values[r]);
            put(&b, "} %lld\n", atomic_load_explicit(&m->v[r], memory_order_relaxed));
        }
    }
    if (!b.p)
        put(&b, "%s", "");
    if (b.failed) {
        free(b.p);
        return MQC_ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return MQC_OK;
}

int mqc_metrics_parse_listen(const char *s, char *host, size_t size, int *port)
{
    const char *colon, *h = s;
    size_t hl;
    if (!s || !*s)
        return MQC_EBADREQ;
    if (*s == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return MQC_EBADREQ;
        h = s + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon)
            return MQC_EBADREQ;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= size)
        return MQC_EBADREQ;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || p < 1 || p > 65535)
        return MQC_EBADREQ;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return MQC_OK;
}

const char *mqc_metrics_check_listen(const char *v)
{
    char host[256];
    int port;
    return mqc_metrics_parse_listen(v, host, sizeof host, &port) == MQC_OK
               ? NULL
               : "must be host:port or [v6 address]:port";
}
