/* The load generator's engine: runs any scenario's clients and streams
 * through setup (connect, subscribe, mqchat `create`), the warmup and measured
 * window (saturating with an end-to-end window per stream, or on a fixed-rate
 * timetable; with --events, until that many messages completed), the drain,
 * and a scenario's own last phase (hooks, bench.h), in one epoll loop; counts
 * and times what arrives.
 * Latency is the CLOCK_MONOTONIC time a body carries subtracted from the time
 * the recipient's socket read returned it: the same process sends and
 * receives. Every phase has a deadline, so a broker that never answers ends
 * the run with a clear first_error instead of a hang. Every pointer passed
 * between the functions below is borrowed: b owns all state (bench.h). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/scan.h"
#include "bench/wire.h"
#include "core/err.h"

#define KEEPALIVE_S 900            /* longer than any run can last */
#define MAX_UNACKED 60000          /* PUBACKs outstanding per client (16-bit ids) */
#define MAX_RATE_OUTSTANDING 20000 /* per stream, fixed-rate mode: beyond, skip */
#define TIMER_TAG UINT32_MAX       /* epoll data of the timerfd */

int64_t mqc_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Remember the first problem (printed in the summary), printable ASCII only. */
void mqc_bench__note_err(struct mqc_bench *b, const char *fmt, ...)
{
    char msg[sizeof(b->first_err)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '"')
            *p = '?';
    if (b->o.verbose || !b->first_err[0])
        fprintf(stderr, "mqc_bench: %s\n", msg);
    if (!b->first_err[0])
        snprintf(b->first_err, sizeof(b->first_err), "%s", msg);
}

void mqc_bench__fail_setup(struct mqc_bench *b)
{
    if (b->phase == MQC_PH_SETUP) {
        b->setup_failed = 1;
        b->phase = MQC_PH_DONE;
    }
}

static void drop_client(struct mqc_bench *b, struct mqc_client *c, const char *why)
{
    if (c->state == MQC_CLIENT_CLOSED)
        return;
    if (c->state == MQC_CLIENT_TCP || c->state == MQC_CLIENT_CONNACK)
        b->connecting--;
    b->disconnects++;
    mqc_bench__note_err(b, "client %s (%s): %s", c->client_id, c->user[0] ? c->user : "anonymous",
                        why);
    mqc_client_close(&b->loop, c);
    mqc_bench__fail_setup(b);
    if (b->phase == MQC_PH_AFTER && c->role == MQC_ROLE_OWN)
        b->phase = MQC_PH_DONE; /* the last phase's client is gone: nothing more will come */
}

static void on_flush_error(void *arg, struct mqc_client *c, int err)
{
    char why[128];
    snprintf(why, sizeof(why), "write failed: %s", strerror(err));
    drop_client(arg, c, why);
}

/* Queue a packet built by an encoder; a full memory is fatal for the client. */
static int queued(struct mqc_bench *b, struct mqc_client *c, int rc)
{
    if (rc != MQC_OK) {
        drop_client(b, c, rc == MQC_ENOMEM ? "out of memory" : "packet too large");
        return rc;
    }
    mqc_client_mark(&b->loop, c);
    return MQC_OK;
}

static uint64_t stream_done(const struct mqc_bench *b, const struct mqc_stream *s)
{
    if (s->n_recv == 0) /* nobody receives: the own copy completes a message */
        return s->echoed;
    uint64_t done = s->delivered / (uint64_t)s->n_recv;
    if (b->o.mode == MQC_MODE_MQCHAT && s->echoed < done)
        done = s->echoed;
    return done;
}

static uint64_t outstanding(const struct mqc_bench *b, const struct mqc_stream *s)
{
    uint64_t done = stream_done(b, s);
    return s->sent > done ? s->sent - done : 0;
}

static int in_window(const struct mqc_bench *b, int64_t t)
{
    return b->phase != MQC_PH_SETUP && t >= b->t_warm && t < b->t_end;
}

/* ---- sending ------------------------------------------------------------ */

static int scratch_fit(struct mqc_bench *b, size_t need)
{
    if (b->scratch_cap >= need)
        return MQC_OK;
    char *p = realloc(b->scratch, need);
    if (!p)
        return MQC_ENOMEM;
    b->scratch = p;
    b->scratch_cap = need;
    return MQC_OK;
}

/* Publish message number s->sent of stream si, stamped t (CLOCK_MONOTONIC ns).
 * Body: "S<stream>:<k>:<t>:" padded with 'x' to --size bytes. */
static int send_msg(struct mqc_bench *b, size_t si, int64_t t)
{
    struct mqc_stream *s = &b->s[si];
    struct mqc_client *c = &b->c[s->sender];
    uint64_t k = s->sent;
    size_t size = (size_t)b->o.size;
    if (scratch_fit(b, size + 256) != MQC_OK)
        return MQC_ENOMEM;
    char *p = b->scratch;
    int n = 0;
    if (b->o.mode == MQC_MODE_MQCHAT)
        n = snprintf(p, 96, "{\"id\":\"%s-%zu-%" PRIu64 "\",\"body\":\"", b->nonce, si, k);
    int hdr = snprintf(p + n, 96, "S%zu:%" PRIu64 ":%" PRId64 ":", si, k, t);
    size_t len = (size_t)n + (size_t)hdr;
    if ((size_t)hdr < size) {
        memset(p + len, 'x', size - (size_t)hdr);
        len += size - (size_t)hdr;
    }
    if (b->o.mode == MQC_MODE_MQCHAT) {
        memcpy(p + len, "\"}", 2);
        len += 2;
    }
    int rc = mqc_wire_publish(&c->out, s->topic, s->topic_len, mqc_client_pid(c), 1, p, len);
    if (queued(b, c, rc) != MQC_OK)
        return rc;
    c->unacked++;
    s->sent++;
    b->sent_total++;
    if (in_window(b, t))
        b->sent_win++;
    return MQC_OK;
}

static int can_send(const struct mqc_bench *b, const struct mqc_stream *s)
{
    const struct mqc_client *c = &b->c[s->sender];
    return s->ready && c->state == MQC_CLIENT_READY && c->unacked < MAX_UNACKED &&
           (!s->quota || s->sent < s->quota);
}

/* Saturation mode: keep --window messages per stream in flight end to end. */
static void fill(struct mqc_bench *b, size_t si)
{
    struct mqc_stream *s = &b->s[si];
    if (b->phase != MQC_PH_RUN || b->o.rate > 0)
        return;
    int64_t t = mqc_bench_now_ns();
    if (t >= b->t_end)
        return;
    while (outstanding(b, s) < (uint64_t)b->o.window && can_send(b, s))
        if (send_msg(b, si, t) != MQC_OK)
            return;
}

/* Fixed-rate mode: send everything due by now. Message j of the timetable is
 * due at t0 + j/rate and goes to stream j mod N; it carries its due time, so a
 * generator that falls behind shows up in the latency (and in lag_*). */
static void send_due(struct mqc_bench *b, int64_t now)
{
    if (b->phase != MQC_PH_RUN || b->o.rate <= 0)
        return;
    for (;;) {
        int64_t due = b->t0 + (int64_t)((double)b->next_j * 1e9 / b->o.rate);
        if (due > now || due >= b->t_end)
            return;
        size_t si = (size_t)(b->next_j % b->ns);
        b->next_j++;
        struct mqc_stream *s = &b->s[si];
        if (!can_send(b, s) || outstanding(b, s) >= MAX_RATE_OUTSTANDING) {
            b->skipped++;
            continue;
        }
        if (in_window(b, due))
            mqc_hist_add(&b->lag, now - due);
        if (send_msg(b, si, due) != MQC_OK)
            return;
    }
}

/* ---- receiving ---------------------------------------------------------- */

/* Parse "S<stream>:<k>:<t>:" at p (len bytes). */
static int parse_body(const char *p, size_t len, uint64_t *si, uint64_t *k, int64_t *t)
{
    uint64_t v[3] = {0, 0, 0};
    size_t i = 0;
    if (len < 1 || p[0] != 'S')
        return MQC_EBADREQ;
    i = 1;
    for (int f = 0; f < 3; f++) {
        size_t start = i;
        while (i < len && p[i] >= '0' && p[i] <= '9' && i - start < 19)
            v[f] = v[f] * 10 + (uint64_t)(p[i++] - '0');
        if (i == start || i >= len || p[i] != ':')
            return MQC_EBADREQ;
        i++;
    }
    *si = v[0];
    *k = v[1];
    *t = (int64_t)v[2];
    return MQC_OK;
}

static void on_complete(struct mqc_bench *b, size_t si)
{
    if (b->o.rate <= 0)
        fill(b, si);
}

/* A receiver got message body (len bytes) at time now. */
static void on_delivery(struct mqc_bench *b, struct mqc_client *c, const char *body, size_t len,
                        int64_t now)
{
    uint64_t si, k;
    int64_t t;
    if (parse_body(body, len, &si, &k, &t) != MQC_OK || si != (uint64_t)c->stream) {
        b->bad_payloads++;
        return;
    }
    if (k < c->expect_k) {
        b->dup++;
        return;
    }
    if (k > c->expect_k)
        b->gaps++; /* skipped numbers: lost or reordered */
    c->expect_k = k + 1;
    b->s[si].delivered++;
    b->delivered_total++;
    if (in_window(b, now))
        b->delivered_win++;
    if (in_window(b, t))
        mqc_hist_add(&b->lat, now - t);
    on_complete(b, si);
}

/* A sender got its own copy back (mqchat: the stored message's event, seq
 * its number in the conversation when b->track_seq, else 0). */
static void on_echo(struct mqc_bench *b, struct mqc_client *c, const char *body, size_t len,
                    uint64_t seq, int64_t now)
{
    uint64_t si, k;
    int64_t t;
    if (parse_body(body, len, &si, &k, &t) != MQC_OK || si != (uint64_t)c->stream) {
        b->bad_payloads++;
        return;
    }
    struct mqc_stream *s = &b->s[si];
    if (b->track_seq) {
        if (s->echoed == 0 || seq < s->seq_lo)
            s->seq_lo = seq;
        if (s->echoed == 0 || seq > s->seq_hi)
            s->seq_hi = seq;
    }
    s->echoed++;
    b->echoed_total++;
    if (in_window(b, now))
        b->echoed_win++;
    if (in_window(b, t))
        mqc_hist_add(&b->ack, now - t);
    on_complete(b, si);
}

static void stream_check_ready(struct mqc_bench *b, struct mqc_stream *s);

/* mqchat: answer to the create request of c's stream. */
static void on_res(struct mqc_bench *b, struct mqc_client *c, const unsigned char *pl, size_t len)
{
    char req[64], conv[80];
    if (c->role != MQC_ROLE_SENDER || c->stream < 0)
        return;
    struct mqc_stream *s = &b->s[c->stream];
    if (mqc_scan_str(pl, len, "req", req, sizeof(req), NULL) != MQC_OK || strcmp(req, s->req) != 0)
        return;
    if (mqc_scan_str(pl, len, "conv", conv, sizeof(conv), NULL) != MQC_OK || !conv[0]) {
        mqc_bench__note_err(b, "create for %s: reply has no conv", c->user);
        mqc_bench__fail_setup(b);
        return;
    }
    int n = snprintf(s->topic, sizeof(s->topic), "chat/c/%s/send", conv);
    if (n < 0 || (size_t)n >= sizeof(s->topic)) {
        mqc_bench__note_err(b, "create for %s: conv id too long", c->user);
        mqc_bench__fail_setup(b);
        return;
    }
    s->topic_len = (size_t)n;
    s->ready = 1; /* conv known; stream_check_ready wants the clients too */
    stream_check_ready(b, s);
}

static void on_err_event(struct mqc_bench *b, struct mqc_client *c, const unsigned char *pl,
                         size_t len)
{
    char code[48] = "?", msg[128] = "";
    b->errors++;
    (void)mqc_scan_str(pl, len, "code", code, sizeof(code), NULL);
    (void)mqc_scan_str(pl, len, "msg", msg, sizeof(msg), NULL);
    mqc_bench__note_err(b, "err event for %s%s: %s: %s", c->user,
                        b->phase == MQC_PH_SETUP ? " (answer to create)" : "", code, msg);
    /* During setup only create requests are in flight: this one failed. */
    mqc_bench__fail_setup(b);
}

static void on_publish(struct mqc_bench *b, struct mqc_client *c, const struct mqc_wire_packet *pkt,
                       int64_t now)
{
    if (c->role == MQC_ROLE_OWN) {
        if (b->hooks && b->hooks->publish)
            b->hooks->publish(b, c, pkt, now);
        return;
    }
    if (b->o.mode == MQC_MODE_PLAIN) {
        if (c->role == MQC_ROLE_RECEIVER)
            on_delivery(b, c, (const char *)pkt->payload, pkt->payload_len, now);
        return;
    }
    char type[16];
    const unsigned char *pl = pkt->payload;
    size_t len = pkt->payload_len;
    if (mqc_scan_str(pl, len, "t", type, sizeof(type), NULL) != MQC_OK) {
        b->bad_payloads++;
        return;
    }
    if (strcmp(type, "msg") == 0) {
        char ignored[1];
        const char *body;
        if (mqc_scan_str(pl, len, "body", ignored, sizeof(ignored), &body) != MQC_OK) {
            b->bad_payloads++;
            return;
        }
        size_t blen = len - (size_t)((const unsigned char *)body - pl);
        uint64_t seq = 0;
        if (c->role == MQC_ROLE_RECEIVER)
            on_delivery(b, c, body, blen, now);
        else if (b->track_seq && mqc_scan_u64(pl, len, "seq", &seq) != MQC_OK)
            b->bad_payloads++;
        else
            on_echo(b, c, body, blen, seq, now);
    } else if (strcmp(type, "res") == 0) {
        on_res(b, c, pl, len);
    } else if (strcmp(type, "err") == 0) {
        on_err_event(b, c, pl, len);
    }
    /* receipt, member, typing, presence: not part of this scenario */
}

/* ---- setup -------------------------------------------------------------- */

static void start_run(struct mqc_bench *b)
{
    int64_t t = mqc_bench_now_ns();
    b->phase = MQC_PH_RUN;
    b->t0 = t;
    /* --events: no warmup, the whole sending is measured */
    b->t_warm = t + (b->o.events ? 0 : (int64_t)(b->o.warmup * 1e9));
    b->t_end = b->t_warm + (int64_t)(b->o.seconds * 1e9);
    fprintf(stderr,
            "mqc_bench: %s: %zu clients connected and subscribed, %zu streams ready in %.2f s\n",
            b->o.mode == MQC_MODE_PLAIN ? "plain" : "mqchat", b->nc, b->ns,
            (double)(t - b->t_begin) / 1e9);
    if (b->o.rate <= 0)
        for (size_t i = 0; i < b->ns; i++)
            fill(b, i);
}

static void stream_check_ready(struct mqc_bench *b, struct mqc_stream *s)
{
    if (!s->ready || s->ready == 2)
        return;
    if (b->c[s->sender].state != MQC_CLIENT_READY || s->recv_ready < s->n_recv)
        return;
    s->ready = 2; /* counted */
    if (++b->ready_streams == b->ns && b->holds == 0 && b->phase == MQC_PH_SETUP)
        start_run(b);
}

void mqc_bench__release(struct mqc_bench *b)
{
    if (b->holds > 0 && --b->holds == 0 && b->ready_streams == b->ns && b->phase == MQC_PH_SETUP)
        start_run(b);
}

/* c is connected and subscribed. */
static void client_ready(struct mqc_bench *b, struct mqc_client *c)
{
    c->state = MQC_CLIENT_READY;
    b->ready_clients++;
    if (c->role == MQC_ROLE_OWN) {
        if (b->hooks && b->hooks->ready)
            b->hooks->ready(b, c, mqc_bench_now_ns());
        return;
    }
    struct mqc_stream *s = &b->s[c->stream];
    if (c->role == MQC_ROLE_RECEIVER)
        s->recv_ready++;
    if (b->o.mode == MQC_MODE_MQCHAT && c->role == MQC_ROLE_SENDER && b->hooks &&
        b->hooks->create) {
        (void)b->hooks->create(b, c, s); /* an encoder error closed c: setup fails */
        return;                          /* ready once the res names the conversation */
    }
    if (b->o.mode == MQC_MODE_MQCHAT && c->role == MQC_ROLE_SENDER) {
        char topic[MQC_TOPIC_MAX + 16], body[256];
        const struct mqc_client *r = &b->c[s->receiver];
        snprintf(topic, sizeof(topic), "chat/u/%s/req", c->user);
        int n = snprintf(body, sizeof(body),
                         "{\"op\":\"create\",\"req\":\"%s\",\"kind\":\"direct\",\"with\":\"%s\"}",
                         s->req, r->user);
        if (queued(b, c,
                   mqc_wire_publish(&c->out, topic, strlen(topic), mqc_client_pid(c), 1, body,
                                    (size_t)n)) != MQC_OK)
            return;
        c->unacked++;
        return; /* ready once the res names the conversation */
    }
    stream_check_ready(b, s);
}

int mqc_bench__open(struct mqc_bench *b, struct mqc_client *c)
{
    const char *user = b->o.mode == MQC_MODE_MQCHAT ? c->user : NULL;
    const char *pw = NULL;
    if (b->o.mode == MQC_MODE_MQCHAT) {
        pw = mqc_bench__token(b, c->user);
        if (!pw)
            pw = b->o.password;
    }
    c->unacked = 0;
    c->subs_pending = 0;
    c->want = 0;
    const struct sockaddr_in *addr = &b->o.addr;
    if (b->o.nnodes > 1 && (c->role == MQC_ROLE_SENDER || c->role == MQC_ROLE_RECEIVER)) {
        int shift = c->role == MQC_ROLE_RECEIVER ? b->o.cross : 0;
        addr = &b->o.nodes[(c->stream + shift) % b->o.nnodes];
    }
    if (mqc_wire_connect(&c->out, c->client_id, user, pw, KEEPALIVE_S) != MQC_OK ||
        mqc_client_open(&b->loop, c, addr) != MQC_OK) {
        mqc_bench__note_err(b, "cannot open client %s: %s", c->client_id, strerror(errno));
        mqc_buf_cleanup(&c->out);
        return MQC_EINTERNAL;
    }
    b->connecting++;
    return MQC_OK;
}

void mqc_bench__close(struct mqc_bench *b, struct mqc_client *c)
{
    if (c->state == MQC_CLIENT_CLOSED || c->state == MQC_CLIENT_IDLE)
        return;
    if (c->state == MQC_CLIENT_TCP || c->state == MQC_CLIENT_CONNACK)
        b->connecting--;
    else if (mqc_wire_disconnect(&c->out) == MQC_OK)
        (void)mqc_client_flush(&b->loop, c); /* best effort, like at the end of a run */
    mqc_client_close(&b->loop, c);
}

int mqc_bench__publish(struct mqc_bench *b, struct mqc_client *c, const char *topic,
                       const char *payload, size_t len)
{
    int rc = queued(
        b, c, mqc_wire_publish(&c->out, topic, strlen(topic), mqc_client_pid(c), 1, payload, len));
    if (rc == MQC_OK)
        c->unacked++;
    return rc;
}

static void open_more(struct mqc_bench *b)
{
    while (b->phase == MQC_PH_SETUP && b->connecting < (size_t)b->o.connect_batch &&
           b->next_open < b->nc) {
        if (mqc_bench__open(b, &b->c[b->next_open++]) != MQC_OK) {
            mqc_bench__fail_setup(b);
            return;
        }
    }
}

static void on_packet(struct mqc_bench *b, struct mqc_client *c, const struct mqc_wire_packet *pkt,
                      int64_t now)
{
    char why[256];
    switch (pkt->type) {
    case MQC_WIRE_CONNACK:
        if (c->state != MQC_CLIENT_CONNACK)
            break;
        if (pkt->rc != 0) {
            snprintf(why, sizeof(why), "CONNACK refused, code %u%s", pkt->rc,
                     pkt->rc == 5   ? " (not authorised)"
                     : pkt->rc == 4 ? " (bad user or password)"
                                    : "");
            drop_client(b, c, why);
            return;
        }
        b->connecting--;
        c->busy_tries = 0;
        if (c->sub[0]) {
            if (queued(b, c, mqc_wire_subscribe(&c->out, mqc_client_pid(c), c->sub, 1)) != MQC_OK)
                return;
            c->state = MQC_CLIENT_SUBACK;
            c->subs_pending = 1;
        } else {
            client_ready(b, c);
        }
        open_more(b);
        break;
    case MQC_WIRE_SUBACK:
        if (pkt->rc & 0x80) {
            snprintf(why, sizeof(why), "subscription to %s refused", c->sub);
            drop_client(b, c, why);
            return;
        }
        if (c->state == MQC_CLIENT_SUBACK && --c->subs_pending == 0)
            client_ready(b, c);
        break;
    case MQC_WIRE_PUBACK:
        if (c->unacked > 0)
            c->unacked--;
        break;
    case MQC_WIRE_PUBLISH:
        if (pkt->qos == 1 && queued(b, c, mqc_wire_puback(&c->out, pkt->pid)) != MQC_OK)
            return;
        on_publish(b, c, pkt, now);
        break;
    default:
        break;
    }
}

/* A cheap generator for retry jitter (xorshift64; quality is not needed). */
static uint64_t jitter_next(void)
{
    static uint64_t x = 0;
    if (!x)
        x = (uint64_t)mqc_bench_now_ns() | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

/* The broker closed c before answering its CONNECT: the protocol's "busy,
 * retry" (docs/PROTOCOL.md, "Connecting": a login storm, login pacing).
 * Connect again after a jittered, growing wait, as a client should: a
 * uniform draw in [w/2, w] with w = MQC_RETRY_MS doubled per close in a row
 * up to MQC_RETRY_MAX_MS; not a disconnect. A client waiting to retry still
 * counts as connecting, so --connect-batch bounds the logins in progress,
 * retries included. */
static void retry_later(struct mqc_bench *b, struct mqc_client *c)
{
    b->connect_retries++;
    mqc_client_close(&b->loop, c);
    int64_t w = MQC_RETRY_MS;
    for (unsigned i = 0; i < c->busy_tries && w < MQC_RETRY_MAX_MS; i++)
        w *= 2;
    if (w > MQC_RETRY_MAX_MS)
        w = MQC_RETRY_MAX_MS;
    c->busy_tries++;
    int64_t ms = w / 2 + (int64_t)(jitter_next() % (uint64_t)(w / 2 + 1));
    c->retry_at = mqc_bench_now_ns() + ms * 1000000;
    b->retry_q[(b->retry_head + b->retry_len++) % b->nc] = c->idx;
}

/* Reconnect the clients whose wait is over; returns when the next is due
 * (INT64_MAX: none). The waits differ (jitter, backoff): one pass over the
 * ring, the ones not due yet go back to its end. */
static int64_t run_retries(struct mqc_bench *b, int64_t now)
{
    int64_t next = INT64_MAX;
    size_t n = b->retry_len;
    for (size_t i = 0; i < n; i++) {
        struct mqc_client *c = &b->c[b->retry_q[b->retry_head]];
        b->retry_head = (b->retry_head + 1) % b->nc;
        b->retry_len--;
        if (c->retry_at > now) {
            b->retry_q[(b->retry_head + b->retry_len++) % b->nc] = c->idx;
            if (c->retry_at < next)
                next = c->retry_at;
            continue;
        }
        b->connecting--; /* mqc_bench__open counts it again */
        if (b->phase == MQC_PH_DONE || b->phase == MQC_PH_HOLD || mqc_bench__open(b, c) != MQC_OK)
            continue; /* over, or noted: it stays closed */
    }
    return next;
}

static void on_readable(struct mqc_bench *b, struct mqc_client *c)
{
    long got;
    int rc = mqc_client_read(c, &got);
    if (c->state == MQC_CLIENT_CONNACK && (got == 0 || (rc != MQC_OK && errno == ECONNRESET))) {
        retry_later(b, c);
        return;
    }
    if (rc != MQC_OK) {
        char why[128];
        snprintf(why, sizeof(why), "read failed: %s", strerror(errno));
        drop_client(b, c, why);
        return;
    }
    if (got == 0) {
        drop_client(b, c, "connection closed by the broker");
        return;
    }
    int64_t now = mqc_bench_now_ns();
    while (c->state != MQC_CLIENT_CLOSED && c->in.len > c->in.off) {
        struct mqc_wire_packet pkt;
        size_t used;
        if (mqc_wire_parse(c->in.data + c->in.off, c->in.len - c->in.off, &pkt, &used) != MQC_OK) {
            drop_client(b, c, "malformed packet from the broker");
            return;
        }
        if (used == 0)
            break;
        on_packet(b, c, &pkt, now);
        if (c->state != MQC_CLIENT_CLOSED)
            mqc_buf_consume(&c->in, used);
    }
    /* A large packet (a sync page) is read in as few recv() calls as it can. */
    if (c->state != MQC_CLIENT_CLOSED)
        c->want = mqc_wire_pending(c->in.data + c->in.off, c->in.len - c->in.off);
}

/* ---- main loop ---------------------------------------------------------- */

static void arm_timer(struct mqc_bench *b, int64_t at)
{
    if (at == b->timer_at)
        return;
    struct itimerspec its = {0};
    if (at <= 0)
        at = 1; /* 0 would disarm: fire at once */
    its.it_value.tv_sec = at / 1000000000;
    its.it_value.tv_nsec = at % 1000000000;
    if (timerfd_settime(b->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        b->timer_at = at;
}

/* --events: every stream sent its share and saw it complete (or its sender
 * is gone, so nothing more will come). */
static int all_sent(const struct mqc_bench *b)
{
    for (size_t i = 0; i < b->ns; i++) {
        const struct mqc_stream *s = &b->s[i];
        if (b->c[s->sender].state == MQC_CLIENT_CLOSED)
            continue;
        if (s->sent < s->quota || outstanding(b, s) > 0)
            return 0;
    }
    return 1;
}

static int all_done(const struct mqc_bench *b)
{
    for (size_t i = 0; i < b->ns; i++) {
        const struct mqc_stream *s = &b->s[i];
        if (b->c[s->sender].state == MQC_CLIENT_CLOSED)
            continue; /* nothing more will come */
        if (outstanding(b, s) > 0)
            return 0;
    }
    return 1;
}

/* CPU seconds used so far by process pid (utime + stime in /proc), -1 when
 * unknown (gone, or not Linux). */
double mqc_bench__proc_cpu(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold anything */
    unsigned long ut, st;
    long hz = sysconf(_SC_CLK_TCK);
    if (!p || hz <= 0 ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)hz;
}

/* Snapshot this process' and the watched processes' CPU use at an edge of
 * the measured window. */
static void snapshot(struct mqc_bench *b, int end, int64_t now)
{
    for (int i = 0; i < b->o.nwatch; i++) {
        double v = mqc_bench__proc_cpu(b->o.watch[i].pid);
        if (end)
            b->o.watch[i].cpu_end = v;
        else
            b->o.watch[i].cpu_warm = v;
    }
    if (end) {
        b->t_ru_end = now;
        (void)getrusage(RUSAGE_SELF, &b->ru_end);
    } else {
        b->t_ru_warm = now;
        (void)getrusage(RUSAGE_SELF, &b->ru_warm);
    }
}

/* The scenario's clock (hooks->tick), in the run and drain phases. */
static int64_t scen_tick(struct mqc_bench *b, int64_t now, int64_t next)
{
    if (!b->hooks || !b->hooks->tick || (b->phase != MQC_PH_RUN && b->phase != MQC_PH_DRAIN))
        return next;
    if (now >= b->t_tick)
        b->t_tick = b->hooks->tick(b, now);
    return b->t_tick < next ? b->t_tick : next;
}

/* --hold-file: say "held" by creating the file, with the number of clients
 * connected and subscribed ("ready=N"); the hold ends when it is removed, or
 * after --hold seconds (a forgotten file must not keep the process alive). */
static void start_hold(struct mqc_bench *b, int64_t now)
{
    size_t ready = 0;
    for (size_t i = 0; i < b->nc; i++)
        ready += b->c[i].state == MQC_CLIENT_READY ? 1 : 0;
    FILE *f = fopen(b->o.hold_file, "w");
    if (!f || fprintf(f, "ready=%zu\n", ready) < 0 || fclose(f) != 0) {
        mqc_bench__note_err(b, "cannot write the hold file %s: %s", b->o.hold_file,
                            strerror(errno));
        b->phase = MQC_PH_DONE;
        return;
    }
    b->phase = MQC_PH_HOLD;
    b->t_hold_end = now + (int64_t)(b->o.hold * 1e9);
}

/* advance(), without the scenario's clock. */
static int64_t advance_phase(struct mqc_bench *b, int64_t now)
{
    switch (b->phase) {
    case MQC_PH_SETUP:
        if (now >= b->t_setup_deadline) {
            size_t creates = 0;
            for (size_t i = 0; i < b->ns; i++)
                creates += b->s[i].ready ? 1 : 0;
            mqc_bench__note_err(
                b,
                "setup timed out after %.0f s: %zu of %zu clients ready, %zu of %zu "
                "streams have a topic%s",
                b->o.setup_timeout, b->ready_clients, b->nc, creates, b->ns,
                b->holds                       ? " (the scenario's own setup is not done)"
                : b->o.mode == MQC_MODE_MQCHAT ? " (no reply to create?)"
                                               : "");
            mqc_bench__fail_setup(b);
            return now;
        }
        return b->t_setup_deadline;
    case MQC_PH_RUN:
        if (!b->warm_seen && now >= b->t_warm) {
            b->warm_seen = 1;
            snapshot(b, 0, now);
        }
        if (b->o.events && b->warm_seen && all_sent(b)) {
            b->t_end = now; /* the measured window is the whole sending */
            snapshot(b, 1, now);
            if (!b->hooks || !b->hooks->after) {
                b->phase = MQC_PH_DONE;
                return now;
            }
            b->phase = MQC_PH_AFTER;
            b->t_after_end = now + (int64_t)(b->o.seconds * 1e9);
            b->hooks->after(b, now);
            return now;
        }
        if (now >= b->t_end) {
            if (b->o.events)
                mqc_bench__note_err(b, "sending %" PRIu64 " messages took longer than --seconds %g",
                                    b->o.events, b->o.seconds);
            snapshot(b, 1, now);
            b->phase = MQC_PH_DRAIN;
            b->t_drain_end = now + (int64_t)(b->o.drain * 1e9);
            return now;
        }
        send_due(b, now);
        {
            int64_t next = b->warm_seen ? b->t_end : b->t_warm;
            if (b->o.rate > 0) {
                int64_t due = b->t0 + (int64_t)((double)b->next_j * 1e9 / b->o.rate);
                if (due < next)
                    next = due;
            }
            return next;
        }
    case MQC_PH_DRAIN:
        if (now >= b->t_drain_end ||
            (all_done(b) && (!b->hooks || !b->hooks->settled || b->hooks->settled(b)))) {
            if (b->hooks && b->hooks->settled && !b->hooks->settled(b))
                mqc_bench__note_err(b, "the scenario's clients were not all back after the drain");
            if (b->o.hold_file)
                start_hold(b, now);
            else
                b->phase = MQC_PH_DONE;
            return now;
        }
        return b->t_drain_end;
    case MQC_PH_HOLD:
        if (now >= b->t_hold_end || access(b->o.hold_file, F_OK) != 0) {
            if (now >= b->t_hold_end) {
                b->hold_expired = 1;
                mqc_bench__note_err(b, "the hold file %s was not removed within --hold %g s",
                                    b->o.hold_file, b->o.hold);
            }
            b->phase = MQC_PH_DONE;
            return now;
        }
        return now + 50000000; /* look again in 50 ms */
    case MQC_PH_AFTER:
        if (now >= b->t_after_end) {
            mqc_bench__note_err(b, "%s did not finish within --seconds %g",
                                b->hooks->after_name ? b->hooks->after_name : "the last phase",
                                b->o.seconds);
            b->phase = MQC_PH_DONE;
            return now;
        }
        return b->t_after_end;
    case MQC_PH_DONE:
        break;
    }
    return now;
}

/* Phase changes that depend on the clock; returns the next deadline. */
static int64_t advance(struct mqc_bench *b, int64_t now)
{
    return scen_tick(b, now, advance_phase(b, now));
}

static void on_event(struct mqc_bench *b, const struct epoll_event *ev)
{
    if (ev->data.u32 == TIMER_TAG) {
        uint64_t ticks;
        if (read(b->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
            mqc_bench__note_err(b, "timerfd read: %s", strerror(errno));
        b->timer_at = 0;
        return;
    }
    if (ev->data.u32 >= b->nc)
        return;
    struct mqc_client *c = &b->c[ev->data.u32];
    if (c->state == MQC_CLIENT_CLOSED)
        return;
    if (c->state == MQC_CLIENT_TCP) {
        if (mqc_client_finish_connect(&b->loop, c) != MQC_OK) {
            char why[128];
            snprintf(why, sizeof(why), "connect to %s:%d failed: %s", b->o.host, b->o.port,
                     strerror(errno));
            drop_client(b, c, why);
        }
        return;
    }
    if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        on_readable(b, c);
    if (c->state != MQC_CLIENT_CLOSED && (ev->events & EPOLLOUT) &&
        mqc_client_flush(&b->loop, c) != MQC_OK)
        on_flush_error(b, c, errno);
}

/* SIGUSR1: print the counts so far to stderr (bench/s1probe reads them at
 * the edges of its window). */
static volatile sig_atomic_t count_asked;

static void on_count(int sig)
{
    (void)sig;
    count_asked = 1;
}

static void print_count(struct mqc_bench *b)
{
    count_asked = 0;
    fprintf(stderr,
            "mqc_bench: count t_ns=%" PRId64 " sent=%" PRIu64 " delivered=%" PRIu64
            " echoed=%" PRIu64 "\n",
            mqc_bench_now_ns(), b->sent_total, b->delivered_total, b->echoed_total);
}

int mqc_bench_run(struct mqc_bench *b)
{
    struct epoll_event evs[512];
    struct sigaction sa = {.sa_handler = on_count};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    b->t_begin = mqc_bench_now_ns();
    b->t_setup_deadline = b->t_begin + (int64_t)(b->o.setup_timeout * 1e9);
    b->phase = MQC_PH_SETUP;
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = TIMER_TAG};
    if (epoll_ctl(b->loop.ep, EPOLL_CTL_ADD, b->tfd, &tev) != 0)
        return MQC_EINTERNAL;
    b->retry_q = calloc(b->nc ? b->nc : 1, sizeof(*b->retry_q));
    if (!b->retry_q)
        return MQC_EINTERNAL;
    open_more(b);
    while (b->phase != MQC_PH_DONE) {
        int64_t now = mqc_bench_now_ns();
        int64_t retry = run_retries(b, now);
        open_more(b);
        int64_t next = advance(b, now);
        if (retry < next)
            next = retry;
        mqc_loop_flush(&b->loop, on_flush_error, b);
        if (b->phase == MQC_PH_DONE)
            break;
        arm_timer(b, next);
        int n = epoll_wait(b->loop.ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), 1000);
        if (n < 0 && errno != EINTR)
            return MQC_EINTERNAL;
        for (int i = 0; i < n; i++)
            on_event(b, &evs[i]);
        if (count_asked)
            print_count(b);
    }
    /* Say goodbye properly so the broker logs no errors; best effort. */
    for (size_t i = 0; i < b->nc; i++) {
        struct mqc_client *c = &b->c[i];
        if (c->state >= MQC_CLIENT_CONNACK && c->state != MQC_CLIENT_CLOSED &&
            mqc_wire_disconnect(&c->out) == MQC_OK)
            (void)mqc_client_flush(&b->loop, c);
        if (c->state != MQC_CLIENT_CLOSED && c->state != MQC_CLIENT_IDLE)
            mqc_client_close(&b->loop, c);
    }
    return MQC_OK;
}
