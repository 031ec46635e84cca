/* Byte transport for the load generator's MQTT clients (see client.h): epoll,
 * level-triggered; writes are batched per loop pass through a dirty list. */
#include "bench/client.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"

#define READ_CHUNK 65536
#define MQC_SOURCES 16 /* loopback source addresses the clients are spread over */

int mqc_loop_init(struct mqc_loop *l, struct mqc_client *clients, size_t n)
{
    memset(l, 0, sizeof(*l));
    l->ep = -1;
    l->clients = clients;
    l->dirty = calloc(n ? n : 1, sizeof(*l->dirty));
    if (!l->dirty)
        return MQC_ENOMEM;
    l->cap = n;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    if (l->ep < 0) {
        free(l->dirty);
        l->dirty = NULL;
        return MQC_EINTERNAL;
    }
    return MQC_OK;
}

void mqc_loop_cleanup(struct mqc_loop *l)
{
    if (l->ep >= 0)
        close(l->ep);
    free(l->dirty);
    memset(l, 0, sizeof(*l));
    l->ep = -1;
}

static int set_events(struct mqc_loop *l, struct mqc_client *c, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.u32 = c->idx};
    return epoll_ctl(l->ep, op, c->fd, &ev) == 0 ? MQC_OK : MQC_EINTERNAL;
}

/* Connect from one of MQC_SOURCES loopback addresses (127.0.0.2, ...), by
 * client index, the port left for connect() to choose. With one source
 * address, connect() has to find a free 4-tuple among ~28k ephemeral ports
 * that 20k connections (and the TIME_WAITs of reconnects) mostly hold: at
 * S5's size that search (__inet_check_established) took 3/4 of the
 * generator's CPU and delayed its timetable by hundreds of ms. */
static int spread_source(const struct mqc_client *c)
{
    int one = 1;
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0};
    src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + c->idx % MQC_SOURCES);
    if (setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) != 0 ||
        bind(c->fd, (const struct sockaddr *)&src, sizeof(src)) != 0)
        return MQC_EINTERNAL;
    return MQC_OK;
}

int mqc_client_open(struct mqc_loop *l, struct mqc_client *c, const struct sockaddr_in *addr)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return MQC_EINTERNAL;
    int one = 1;
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
        goto fail;
    if (spread_source(c) != MQC_OK)
        goto fail;
    if (connect(c->fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0 && errno != EINPROGRESS)
        goto fail;
    if (set_events(l, c, EPOLL_CTL_ADD, EPOLLOUT) != MQC_OK)
        goto fail;
    c->out_armed = 1;
    c->state = MQC_CLIENT_TCP;
    return MQC_OK;
fail:;
    int saved = errno;
    close(c->fd);
    c->fd = -1;
    errno = saved;
    return MQC_EINTERNAL;
}

int mqc_client_finish_connect(struct mqc_loop *l, struct mqc_client *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return MQC_EINTERNAL;
    if (err != 0) {
        errno = err;
        return MQC_EINTERNAL;
    }
    c->state = MQC_CLIENT_CONNACK;
    /* Listen for input from now on; the flush disarms output once CONNECT is out. */
    if (set_events(l, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT) != MQC_OK)
        return MQC_EINTERNAL;
    c->out_armed = 1;
    return mqc_client_flush(l, c);
}

void mqc_client_mark(struct mqc_loop *l, struct mqc_client *c)
{
    if (c->dirty || l->ndirty >= l->cap)
        return;
    c->dirty = 1;
    l->dirty[l->ndirty++] = c->idx;
}

int mqc_client_flush(struct mqc_loop *l, struct mqc_client *c)
{
    if (c->state == MQC_CLIENT_TCP || c->state == MQC_CLIENT_CLOSED || c->fd < 0)
        return MQC_OK; /* written once the connect completes */
    while (c->out.len > c->out.off) {
        ssize_t n = send(c->fd, c->out.data + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
        if (n > 0) {
            mqc_buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->out_armed) {
                if (set_events(l, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT) != MQC_OK)
                    return MQC_EINTERNAL;
                c->out_armed = 1;
            }
            return MQC_OK;
        }
        return MQC_EINTERNAL;
    }
    if (c->out_armed) {
        if (set_events(l, c, EPOLL_CTL_MOD, EPOLLIN) != MQC_OK)
            return MQC_EINTERNAL;
        c->out_armed = 0;
    }
    return MQC_OK;
}

int mqc_client_read(struct mqc_client *c, long *got)
{
    *got = -1;
    size_t room = READ_CHUNK, unread = c->in.len - c->in.off;
    if (c->want > unread && c->want - unread > room)
        room = c->want - unread;
    int rc = mqc_buf_reserve(&c->in, room);
    if (rc != MQC_OK)
        return rc;
    for (;;) {
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
        if (n >= 0) {
            c->in.len += (size_t)n;
            *got = (long)n;
            return MQC_OK;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return MQC_OK;
        return MQC_EINTERNAL;
    }
}

void mqc_client_close(struct mqc_loop *l, struct mqc_client *c)
{
    if (c->fd >= 0) {
        (void)epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL); /* close() would too */
        close(c->fd);
    }
    c->fd = -1;
    c->state = MQC_CLIENT_CLOSED;
    c->out_armed = 0;
    mqc_buf_cleanup(&c->in);
    mqc_buf_cleanup(&c->out);
}

void mqc_loop_flush(struct mqc_loop *l, void (*on_error)(void *, struct mqc_client *, int),
                    void *arg)
{
    for (size_t i = 0; i < l->ndirty; i++) {
        struct mqc_client *c = &l->clients[l->dirty[i]];
        c->dirty = 0;
        if (mqc_client_flush(l, c) != MQC_OK)
            on_error(arg, c, errno);
    }
    l->ndirty = 0;
}

uint16_t mqc_client_pid(struct mqc_client *c)
{
    if (++c->next_pid == 0)
        c->next_pid = 1;
    return c->next_pid;
}
