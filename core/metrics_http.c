/* GET /metrics over a plain socket and one thread (see metrics_http.h). */
#include "core/metrics_http.h"

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

struct mqc_metrics_http {
    int fd, stop[2];
    pthread_t thread;
    struct mqc_metric *const *ms;
    size_t n;
};

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
static void serve(struct mqc_metrics_http *h, int fd)
{
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char req[4096];
    size_t len = 0;
    req[0] = '\0';
    while (len < sizeof req - 1) {
        ssize_t n = recv(fd, req + len, sizeof req - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
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
    if (mqc_metrics_render(h->ms, h->n, &text, &tlen) != MQC_OK) {
        respond(fd, "500 Internal Server Error", "text/plain", "out of memory\n", 14);
        return;
    }
    respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", text, tlen);
    free(text);
}

static void *run(void *arg)
{
    struct mqc_metrics_http *h = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = h->fd, .events = POLLIN},
                              {.fd = h->stop[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (!p[0].revents)
            continue;
        int c = accept(h->fd, NULL, NULL);
        if (c < 0)
            continue;
        serve(h, c);
        close(c);
    }
    return NULL;
}

/* Bind and listen on addr. The socket, or -1 with the reason in err. */
static int listen_on(const char *addr, char *err, size_t errlen)
{
    char host[256], port[8];
    int portn;
    if (mqc_metrics_parse_listen(addr, host, sizeof host, &portn) != MQC_OK) {
        snprintf(err, errlen, "'%s' is not host:port", addr);
        return -1;
    }
    snprintf(port, sizeof port, "%d", portn);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", addr, gai_strerror(rc));
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 16) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(e));
    return fd;
}

struct mqc_metrics_http *mqc_metrics_http_start(const char *addr, struct mqc_metric *const *ms,
                                                size_t n, char *err, size_t errlen)
{
    struct mqc_metrics_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->ms = ms;
    h->n = n;
    h->stop[0] = h->stop[1] = -1;
    h->fd = listen_on(addr, err, errlen);
    if (h->fd < 0) {
        free(h);
        return NULL;
    }
    if (pipe(h->stop) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
    } else if (pthread_create(&h->thread, NULL, run, h) != 0) {
        snprintf(err, errlen, "cannot start the HTTP thread");
    } else {
        return h;
    }
    for (int i = 0; i < 2; i++) {
        if (h->stop[i] >= 0)
            close(h->stop[i]);
    }
    close(h->fd);
    free(h);
    return NULL;
}

void mqc_metrics_http_stop(struct mqc_metrics_http *h)
{
    if (!h)
        return;
    ssize_t n = write(h->stop[1], "x", 1);
    (void)n;
    pthread_join(h->thread, NULL);
    close(h->stop[0]);
    close(h->stop[1]);
    close(h->fd);
    free(h);
}
