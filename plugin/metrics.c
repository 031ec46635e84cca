/* The broker's metrics (see metrics.h): the metric definitions, and the
 * HTTP thread. The thread only reads atomics and writes sockets: it never
 * calls mosquitto_* nor logs (mqchat's log sink is mosquitto's). The socket
 * is bound on the broker thread, in the first tick, so that a bad address is
 * logged there. One request at a time, each with a 2 s deadline; anything
 * but GET /metrics gets 404 or 405. */
#include "plugin/metrics.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "plugin/plugin.h"

static const char *const reasons[] = {"bad_request", "too_large", "not_member",
                                      "forbidden",   "not_found", "rate_limited",
                                      "unavailable", "internal",  NULL};
static const char *const logins_rows[] = {
    "password,ok", "password,fail", "password,busy", "token,ok", "token,fail",
    "token,busy",  "jwt,ok",        "jwt,fail",      "jwt,busy", NULL};
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

static struct mqc_metric *const all[] = {&stored,  &rejected,      &logins,
                                         &devices, &store_seconds, &redis_up};

static struct {
    bool tried, running;
    int fd, stop[2];
    pthread_t thread;
} server = {.fd = -1, .stop = {-1, -1}};

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

void mqc_plugin__metric_store_rtt(double seconds, void *ctx)
{
    (void)ctx;
    mqc_metric_observe(&store_seconds, seconds);
}

/* Write all of buf, giving up on error or timeout (SO_SNDTIMEO). */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

static void respond(int fd, const char *status, const char *type, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, type, len);
    write_all(fd, head, (size_t)n);
    write_all(fd, body, len);
}

/* Read the request head (up to 4 KB, 2 s) and answer it. */
static void serve(int fd)
{
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char req[4096];
    size_t len = 0;
    while (len < sizeof req - 1) {
        ssize_t n = recv(fd, req + len, sizeof req - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
    req[len] = '\0';
    if (strncmp(req, "GET ", 4) != 0) {
        respond(fd, "405 Method Not Allowed", "text/plain", "GET only\n", 9);
        return;
    }
    const char *path = req + 4;
    size_t plen = strcspn(path, " ?\r\n");
    if (plen != 8 || strncmp(path, "/metrics", 8) != 0) {
        respond(fd, "404 Not Found", "text/plain", "try /metrics\n", 13);
        return;
    }
    char *text = NULL;
    size_t tlen = 0;
    if (mqc_metrics_render(all, sizeof all / sizeof all[0], &text, &tlen) != MQC_OK) {
        respond(fd, "500 Internal Server Error", "text/plain", "out of memory\n", 14);
        return;
    }
    respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", text, tlen);
    free(text);
}

static void *run(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = server.fd, .events = POLLIN},
                              {.fd = server.stop[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (!p[0].revents)
            continue;
        int c = accept(server.fd, NULL, NULL);
        if (c < 0)
            continue;
        serve(c);
        close(c);
    }
    return NULL;
}

/* Bind and listen on addr (host:port). Returns the socket or -1 (logged). */
static int listen_on(const char *addr)
{
    char host[256], port[8];
    int portn;
    if (mqc_metrics_parse_listen(addr, host, sizeof host, &portn) != MQC_OK)
        return -1; /* the config refused it already */
    snprintf(port, sizeof port, "%d", portn);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        mqc_log(MQC_LOG_ERR, "metrics: cannot resolve %s: %s", addr, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 16) != 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        mqc_log(MQC_LOG_ERR, "metrics: cannot listen on %s: %s", addr, strerror(err));
    return fd;
}

static void start(const char *addr)
{
    server.fd = listen_on(addr);
    if (server.fd < 0)
        return;
    if (pipe(server.stop) != 0) {
        mqc_log(MQC_LOG_ERR, "metrics: pipe: %s", strerror(errno));
        close(server.fd);
        server.fd = -1;
        return;
    }
    if (pthread_create(&server.thread, NULL, run, NULL) != 0) {
        mqc_log(MQC_LOG_ERR, "metrics: cannot start the HTTP thread");
        mqc_plugin__metrics_stop();
        return;
    }
    server.running = true;
    mqc_log(MQC_LOG_NOTICE, "metrics: serving http://%s/metrics", addr);
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
    if (server.running) {
        ssize_t n = write(server.stop[1], "x", 1);
        (void)n;
        pthread_join(server.thread, NULL);
        server.running = false;
    }
    for (int i = 0; i < 2; i++) {
        if (server.stop[i] >= 0)
            close(server.stop[i]);
        server.stop[i] = -1;
    }
    if (server.fd >= 0)
        close(server.fd);
    server.fd = -1;
    server.tried = false;
}
