/* Scenario `sync` (S6 in bench/run): how fast an offline user's missed events
 * replay with the `sync` request (docs/PROTOCOL.md). mqchat only: plain
 * mosquitto keeps nothing for a clean session, so it has no equivalent.
 *   1. The receiver {prefix}0b connects, asks {"op":"sync"} without `since`
 *      for its current token, and disconnects.
 *   2. N senders {prefix}{i}a each create their direct conversation with it
 *      and send their share of --events messages at saturation (the engine's
 *      window), each complete when the sender's own copy (stored, with a
 *      seq) is back; so every message is stored before the replay starts.
 *   3. The receiver reconnects and pages {"op":"sync","since":...,"limit":1000}
 *      from the token, following `next` while `more`. The replay time runs
 *      from the first of these requests to the arrival of the last page.
 * Checks: exactly --events msg events, each conversation's seqs replayed
 * once, in increasing order, with no gap, from the first to the last seq the
 * senders' own copies showed; no `reset`. Clients 0..N-1 are the senders
 * (stream i), client N the receiver (MQC_ROLE_OWN, driven by the hooks). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/scan.h"
#include "core/err.h"

#define SYNC_LIMIT 1000 /* events per page asked for: the protocol's maximum */

enum step { STEP_TOKEN, STEP_OFFLINE, STEP_REPLAY, STEP_DONE };

struct sync_state {
    enum step step;
    int rx;          /* client index of the receiver */
    char token[128]; /* where the replay starts, then the next page's `since` */
    char req[64];    /* id of the sync request in flight */
    uint64_t *next;  /* per stream: the seq expected next in the replay, owned */
    uint64_t pages, events, other, unknown, dup, gaps;
    int reset;
    int64_t t0, t1;             /* first request sent, last page read */
    double cpu0[MQC_WATCH_MAX]; /* watched processes' CPU at t0 */
    double cpu1[MQC_WATCH_MAX]; /* ... and at t1 */
};

static struct sync_state *state(struct mqc_bench *b)
{
    return b->scen;
}

static void watch_cpu(const struct mqc_bench *b, double *out)
{
    for (int i = 0; i < b->o.nwatch; i++)
        out[i] = mqc_bench__proc_cpu(b->o.watch[i].pid);
}

/* The replay is over (finished, or given up after the first error noted). */
static void finish(struct mqc_bench *b, int64_t now)
{
    struct sync_state *st = state(b);
    st->t1 = now;
    watch_cpu(b, st->cpu1);
    st->step = STEP_DONE;
    if (b->phase == MQC_PH_AFTER)
        b->phase = MQC_PH_DONE;
}

/* Ask for the page after st->token (or for the token when there is none). */
static int request(struct mqc_bench *b, struct mqc_client *c)
{
    struct sync_state *st = state(b);
    char topic[MQC_TOPIC_MAX + 16], body[256];
    snprintf(st->req, sizeof(st->req), "y%s-%" PRIu64, b->nonce, st->pages);
    snprintf(topic, sizeof(topic), "chat/u/%s/req", c->user);
    int n;
    if (st->step == STEP_TOKEN)
        n = snprintf(body, sizeof(body), "{\"op\":\"sync\",\"req\":\"%s\"}", st->req);
    else
        n = snprintf(body, sizeof(body),
                     "{\"op\":\"sync\",\"req\":\"%s\",\"since\":\"%s\",\"limit\":%d}", st->req,
                     st->token, SYNC_LIMIT);
    if (n < 0 || (size_t)n >= sizeof(body))
        return MQC_EBADREQ;
    return mqc_bench__publish(b, c, topic, body, (size_t)n);
}

static void on_ready(struct mqc_bench *b, struct mqc_client *c, int64_t now)
{
    struct sync_state *st = state(b);
    if (st->step == STEP_REPLAY) {
        st->t0 = now;
        watch_cpu(b, st->cpu0);
    }
    if (request(b, c) != MQC_OK) {
        mqc_bench__note_err(b, "sync for %s: cannot send the request", c->user);
        mqc_bench__fail_setup(b);
        finish(b, now);
    }
}

/* Stream whose conversation is conv (len bytes), or -1. The benchmark has a
 * handful of conversations: a linear search costs nothing next to the JSON. */
static long stream_of(const struct mqc_bench *b, const char *conv, size_t len)
{
    for (size_t i = 0; i < b->ns; i++) {
        const char *t = b->s[i].topic + 7; /* "chat/c/{conv}/send" */
        if (b->s[i].topic_len == len + 12 && memcmp(t, conv, len) == 0)
            return (long)i;
    }
    return -1;
}

/* One event of a page: ev[0..len) is a JSON object. */
static void on_event(struct mqc_bench *b, const unsigned char *ev, size_t len)
{
    struct sync_state *st = state(b);
    char type[16], conv[80];
    uint64_t seq;
    if (mqc_scan_str(ev, len, "t", type, sizeof(type), NULL) != MQC_OK || strcmp(type, "msg")) {
        st->other++;
        return;
    }
    st->events++;
    if (mqc_scan_str(ev, len, "conv", conv, sizeof(conv), NULL) != MQC_OK ||
        mqc_scan_u64(ev, len, "seq", &seq) != MQC_OK) {
        b->bad_payloads++;
        return;
    }
    long si = stream_of(b, conv, strlen(conv));
    if (si < 0) {
        if (!st->unknown++)
            mqc_bench__note_err(b, "sync replayed a message of %s, not written by this run", conv);
        return;
    }
    uint64_t *next = &st->next[si];
    if (seq < *next) {
        if (!st->dup++)
            mqc_bench__note_err(b, "sync replayed %s seq %" PRIu64 " again or out of order", conv,
                                seq);
        return;
    }
    if (seq > *next) {
        if (!st->gaps)
            mqc_bench__note_err(b, "sync skipped %s seq %" PRIu64 " to %" PRIu64, conv, *next,
                                seq - 1);
        st->gaps += seq - *next;
    }
    *next = seq + 1;
}

/* A page: {"t":"res",...,"events":[{...},...],"next":"...","more":b,"reset":b,...}.
 * "events" is the first key after t, req and op, so a scan finds it; next,
 * more and reset are read after the array, out of reach of the events. */
static int on_page(struct mqc_bench *b, const unsigned char *pl, size_t len)
{
    struct sync_state *st = state(b);
    const char *end = (const char *)pl + len, *p;
    if (mqc_scan_value(pl, len, "events", &p) != MQC_OK || p >= end || *p != '[')
        return MQC_EBADREQ;
    const char *arr_end = mqc_scan_skip(p, end);
    if (!arr_end)
        return MQC_EBADREQ;
    p++;
    for (;;) {
        while (p < arr_end && (*p == ' ' || *p == ',' || *p == '\n' || *p == '\r' || *p == '\t'))
            p++;
        if (p >= arr_end - 1) /* at the closing ']' */
            break;
        const char *e = mqc_scan_skip(p, arr_end - 1);
        if (!e || *p != '{')
            return MQC_EBADREQ;
        on_event(b, (const unsigned char *)p, (size_t)(e - p));
        p = e;
    }
    const unsigned char *tail = (const unsigned char *)arr_end;
    size_t tlen = (size_t)(end - arr_end);
    int more, reset;
    if (mqc_scan_str(tail, tlen, "next", st->token, sizeof(st->token), NULL) != MQC_OK ||
        mqc_scan_bool(tail, tlen, "more", &more) != MQC_OK ||
        mqc_scan_bool(tail, tlen, "reset", &reset) != MQC_OK)
        return MQC_EBADREQ;
    st->pages++;
    if (reset) {
        st->reset = 1;
        mqc_bench__note_err(b, "sync answered reset: the events are past retention or "
                               "plugin_opt_timeline_max (is --events larger?)");
        return MQC_ENOTFOUND;
    }
    return more ? MQC_OK : MQC_EEXIST; /* EEXIST: that was the last page */
}

static void on_publish(struct mqc_bench *b, struct mqc_client *c, const struct mqc_wire_packet *pkt,
                       int64_t now)
{
    struct sync_state *st = state(b);
    const unsigned char *pl = pkt->payload;
    size_t len = pkt->payload_len;
    char type[16], req[64], code[48] = "?", msg[128] = "";
    if (mqc_scan_str(pl, len, "t", type, sizeof(type), NULL) != MQC_OK) {
        b->bad_payloads++;
        return;
    }
    if (strcmp(type, "err") == 0) {
        b->errors++;
        (void)mqc_scan_str(pl, len, "code", code, sizeof(code), NULL);
        (void)mqc_scan_str(pl, len, "msg", msg, sizeof(msg), NULL);
        mqc_bench__note_err(b, "err event for %s (answer to sync): %s: %s", c->user, code, msg);
        mqc_bench__fail_setup(b);
        finish(b, now);
        return;
    }
    if (strcmp(type, "res") != 0 ||
        mqc_scan_str(pl, len, "req", req, sizeof(req), NULL) != MQC_OK || strcmp(req, st->req))
        return; /* a live event or an older answer: not part of the replay */
    if (st->step == STEP_TOKEN) {
        if (mqc_scan_str(pl, len, "next", st->token, sizeof(st->token), NULL) != MQC_OK ||
            !st->token[0]) {
            mqc_bench__note_err(b, "sync for %s: the answer has no next token", c->user);
            mqc_bench__fail_setup(b);
            return;
        }
        st->step = STEP_OFFLINE;
        mqc_bench__close(b, c); /* offline while the others write */
        mqc_bench__release(b);
        return;
    }
    if (st->step != STEP_REPLAY)
        return;
    int rc = on_page(b, pl, len);
    if (rc == MQC_EBADREQ) {
        b->bad_payloads++;
        mqc_bench__note_err(b, "sync page %" PRIu64 " for %s is not what the protocol says",
                            st->pages + 1, c->user);
    }
    if (rc != MQC_OK) {
        finish(b, now);
        return;
    }
    if (request(b, c) != MQC_OK) {
        mqc_bench__note_err(b, "sync for %s: cannot send the request", c->user);
        finish(b, now);
    }
}

/* Every message is stored: bring the receiver back and replay. */
static void after(struct mqc_bench *b, int64_t now)
{
    struct sync_state *st = state(b);
    for (size_t i = 0; i < b->ns; i++)
        st->next[i] = b->s[i].seq_lo;
    st->step = STEP_REPLAY;
    if (mqc_bench__open(b, &b->c[st->rx]) != MQC_OK)
        finish(b, now);
}

static int report(struct mqc_bench *b, char *out, size_t size)
{
    struct sync_state *st = state(b);
    uint64_t missing = 0;
    for (size_t i = 0; st->step == STEP_DONE && i < b->ns; i++) {
        const struct mqc_stream *s = &b->s[i];
        if (s->echoed && s->seq_hi - s->seq_lo + 1 != s->echoed && !b->first_err[0])
            mqc_bench__note_err(b,
                                "own copies of stream %zu have seqs %" PRIu64 "-%" PRIu64
                                " for %" PRIu64 " messages: someone else wrote there",
                                i, s->seq_lo, s->seq_hi, s->echoed);
        if (s->echoed && st->next[i] <= s->seq_hi)
            missing += s->seq_hi + 1 - st->next[i]; /* the end of it never came */
    }
    if (missing && !st->gaps && st->step == STEP_DONE && !b->first_err[0])
        mqc_bench__note_err(b, "sync ended %" PRIu64 " messages short", missing);
    st->gaps += missing;
    double secs = st->step == STEP_DONE && st->t1 > st->t0 ? (double)(st->t1 - st->t0) / 1e9 : 0;
    int bad = st->step != STEP_DONE || st->reset || st->events != b->sent_total || st->dup ||
              st->gaps || st->unknown || b->sent_total != b->o.events;
    if (bad && !b->first_err[0])
        mqc_bench__note_err(b, "sync replayed %" PRIu64 " msg events, %" PRIu64 " were sent",
                            st->events, b->sent_total);
    double send_s = (double)(b->t_ru_end - b->t_ru_warm) / 1e9;
    int n = snprintf(
        out, size,
        " events=%" PRIu64 " send_seconds=%.3f sync_events=%" PRIu64
        " sync_seconds=%.3f sync_rate=%.0f pages=%" PRIu64 " sync_other=%" PRIu64
        " sync_dup=%" PRIu64 " sync_gaps=%" PRIu64 " sync_unknown=%" PRIu64 " sync_reset=%d",
        b->o.events, send_s, st->events, secs, secs > 0 ? (double)st->events / secs : 0, st->pages,
        st->other, st->dup, st->gaps, st->unknown, st->reset);
    for (int i = 0; i < b->o.nwatch && n > 0 && (size_t)n < size; i++) {
        double cpu = -1;
        if (secs > 0 && st->cpu0[i] >= 0 && st->cpu1[i] >= 0)
            cpu = (st->cpu1[i] - st->cpu0[i]) / secs;
        n += snprintf(out + n, size - (size_t)n, " sync_%s_cpu=%.2f", b->o.watch[i].name, cpu);
    }
    return bad;
}

static void sync_free(void *scen)
{
    struct sync_state *st = scen;
    if (st)
        free(st->next);
    free(st);
}

static const struct mqc_hooks hooks = {
    .after_name = "the sync replay",
    .ready = on_ready,
    .publish = on_publish,
    .after = after,
    .report = report,
    .free = sync_free,
};

int mqc_sync_setup(struct mqc_bench *b)
{
    if (b->o.mode != MQC_MODE_MQCHAT || b->o.events == 0 || b->o.rate > 0) {
        fprintf(stderr, "mqc_bench: scenario sync needs --mode mqchat (plain mosquitto has no "
                        "sync), --events N and --rate 0\n");
        return MQC_EBADREQ;
    }
    if ((uint64_t)b->o.pairs > b->o.events)
        b->o.pairs = (int)b->o.events; /* every sender writes at least one message */
    struct sync_state *st = calloc(1, sizeof(*st));
    b->scen = st;
    b->hooks = &hooks;
    b->ns = (size_t)b->o.pairs;
    b->nc = b->ns + 1;
    b->c = calloc(b->nc, sizeof(*b->c));
    b->s = calloc(b->ns, sizeof(*b->s));
    if (!st || !b->c || !b->s || !(st->next = calloc(b->ns, sizeof(*st->next))))
        return MQC_ENOMEM;
    st->rx = (int)b->ns;
    b->holds = 1; /* the receiver's token */
    b->track_seq = 1;
    struct mqc_client *rx = &b->c[st->rx];
    rx->fd = -1;
    rx->idx = (uint32_t)st->rx;
    rx->stream = -1;
    rx->role = MQC_ROLE_OWN;
    int n = snprintf(rx->user, sizeof(rx->user), "%s0b", b->o.user_prefix);
    snprintf(rx->client_id, sizeof(rx->client_id), "mqcb-%s-sync", b->nonce);
    snprintf(rx->sub, sizeof(rx->sub), "chat/u/%s/inbox", rx->user);
    if (n < 0 || (size_t)n >= 65)
        return MQC_EBADREQ;
    for (size_t i = 0; i < b->ns; i++) {
        struct mqc_stream *s = &b->s[i];
        struct mqc_client *c = &b->c[i];
        s->sender = (int)i;
        s->receiver = st->rx; /* named in create, not waited for */
        s->n_recv = 0;        /* the own copy completes a message */
        snprintf(s->req, sizeof(s->req), "c%s-%zu", b->nonce, i);
        c->fd = -1;
        c->idx = (uint32_t)i;
        c->stream = (int)i;
        c->role = MQC_ROLE_SENDER;
        n = snprintf(c->user, sizeof(c->user), "%s%zua", b->o.user_prefix, i);
        snprintf(c->client_id, sizeof(c->client_id), "mqcb-%s-%zua", b->nonce, i);
        snprintf(c->sub, sizeof(c->sub), "chat/u/%s/inbox", c->user);
        if (n < 0 || (size_t)n >= 65)
            return MQC_EBADREQ;
    }
    return MQC_OK;
}
