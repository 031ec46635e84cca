/* The HTTP endpoint of core/metrics.h, shared by the broker plugin and the
 * push bridge: a thread that answers GET /metrics with the exposition text
 * of a fixed set of metrics (404 for other paths, 405 for other methods),
 * one request at a time with a 2 s deadline each. The thread only reads the
 * metrics' atomics and writes sockets: it never logs (the plugin's log sink
 * is mosquitto's, which only the broker thread may call). */
#ifndef MQC_METRICS_HTTP_H
#define MQC_METRICS_HTTP_H

#include <stddef.h>

#include "core/metrics.h"

struct mqc_metrics_http;

/* Listen on addr ("host:port", borrowed) and serve the n metrics of ms (the
 * array and the metrics borrowed until _stop). Returns the server (owned:
 * _stop) or NULL with the reason in err (errlen bytes). */
struct mqc_metrics_http *mqc_metrics_http_start(const char *addr, struct mqc_metric *const *ms,
                                                size_t n, char *err, size_t errlen);
/* Stop the thread, close the socket, free h. NULL is fine. */
void mqc_metrics_http_stop(struct mqc_metrics_http *h);

#endif
