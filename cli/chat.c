/* `mqchat chat`: the interactive line-based client. One loop on one thread
 * serves the MQTT connection and the terminal (mqtt_client + lineedit).
 * Typed commands (chat_cmd.c) become requests on chat/u/{me}/req; other
 * lines become messages on chat/c/{current}/send. Every request waits for its reply (at
 * most MQC_SESSION_TIMEOUT_S) before the next input line is taken, so a
 * script piped to stdin ("/open bob", "hi", "/quit") runs in order. A sent
 * message stays in the outbox until its own echo (a msg with from = me and
 * the same id) comes back; the outbox is resent with the same ids after
 * every reconnect, after an `unavailable` error and every 10 s, which the
 * server's per-id de-duplication makes harmless. /quit (or end of input)
 * waits for the outbox to empty and for a last sync, then disconnects.
 * What arrived while the client was away is shown on start (chat_sync.c).
 * Every err is told with what it answers: the message (by id), the request
 * (by req: "/history in g-3f6a: ..."), or, carrying neither, the last
 * typing notice or receipt posted (those have no reference); such an err is
 * never taken for the reply to the request input waits for, since every
 * request sent here has a usable req.
 *
 * Pointer parameters of the static functions here are borrowed unless their
 * comment says otherwise.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/chat.h"
#include "cli/cli.h"
#include "cli/render.h"
#include "cli/session.h"
#include "core/clock.h"
#include "core/err.h"

#define RESEND_MS 10000
#define UNAVAILABLE_RETRY_MS 2000

/* Print a line above the input (text borrowed). */
void mqc_chat__say(struct chat *ch, const char *text)
{
    mqc_lineedit_print(&ch->ed, text);
}

void mqc_chat__sayf(struct chat *ch, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n >= 0)
        mqc_chat__say(ch, line);
}

static void update_prompt(struct chat *ch)
{
    char p[sizeof ch->ed.prompt];
    if (ch->current[0])
        snprintf(p, sizeof p, "[%s]> ", ch->current);
    else
        snprintf(p, sizeof p, "> ");
    mqc_lineedit_set_prompt(&ch->ed, p);
}

void mqc_chat__set_current(struct chat *ch, const char *conv, char kind)
{
    snprintf(ch->current, sizeof ch->current, "%s", conv ? conv : "");
    ch->current_kind = conv ? kind : 0;
    ch->hist_before = 0;
    update_prompt(ch);
}

/* ---- what is known per conversation ---- */

struct seen *mqc_chat__seen(struct chat *ch, const char *conv, bool create)
{
    if (!conv)
        return NULL;
    for (size_t i = 0; i < ch->nseen; i++)
        if (!strcmp(ch->seen[i].conv, conv))
            return &ch->seen[i];
    if (!create || !mqc_id_valid_str(conv))
        return NULL;
    if (ch->nseen == ch->capseen) {
        size_t cap = ch->capseen ? ch->capseen * 2 : 16;
        struct seen *s = realloc(ch->seen, cap * sizeof *s);
        if (!s)
            return NULL; /* only /read and the marks lose this conversation */
        ch->seen = s;
        ch->capseen = cap;
    }
    struct seen *s = &ch->seen[ch->nseen++];
    memset(s, 0, sizeof *s);
    memcpy(s->conv, conv, strlen(conv) + 1);
    return s;
}

static void note_seq(struct chat *ch, const char *conv, long long seq)
{
    struct seen *s = mqc_chat__seen(ch, conv, true);
    if (s && seq > s->seq)
        s->seq = seq;
}

/* ---- errors ---- */

void mqc_chat__say_error(struct chat *ch, const char *context, const cJSON *err, const char *suffix)
{
    char *line = NULL;
    if (mqc_render_error(err, context, &line) != MQC_OK) {
        mqc_chat__say(ch, "out of memory");
        return;
    }
    mqc_chat__sayf(ch, "%s%s", line, suffix ? suffix : "");
    free(line);
}

/* What req (borrowed) of kind is, in the user's words, into ctx. */
static void req_context(const cJSON *req, enum req_kind kind, char *ctx, size_t size)
{
    const char *op = str_of(req, "op"), *conv = str_of(req, "conv");
    if (kind == RQ_SYNC)
        snprintf(ctx, size, "fetching what arrived while you were away");
    else if (kind == RQ_CREATE && str_eq(str_of(req, "kind"), "direct"))
        snprintf(ctx, size, "/open %s", str_of(req, "with") ? str_of(req, "with") : "?");
    else if (kind == RQ_CREATE)
        snprintf(ctx, size, "/group");
    else if (conv)
        snprintf(ctx, size, "/%s in %s", op ? op : "?", conv);
    else
        snprintf(ctx, size, "/%s", op ? op : "?");
}

/* ---- requests ---- */

/* Send request (taken: always freed) with a fresh req id, remember what its
 * reply means and hold input back until it comes. False (said why) when it
 * was not sent. */
bool mqc_chat__request(struct chat *ch, cJSON *req, enum req_kind kind, const char *conv)
{
    struct pending_req pr = {.kind = kind};
    snprintf(pr.conv, sizeof pr.conv, "%s", conv ? conv : "");
    if (req)
        req_context(req, kind, pr.ctx, sizeof pr.ctx);
    if (kind == RQ_JOIN)
        snprintf(pr.ctx, sizeof pr.ctx, "/join %s", pr.conv);
    if (!req || mqc_client_make_id("r", pr.req, sizeof pr.req) != MQC_OK ||
        !cJSON_AddStringToObject(req, "req", pr.req)) {
        mqc_chat__say(ch, "out of memory");
        cJSON_Delete(req);
        return false;
    }
    int rc = mqc_client_publish_req(ch->c, req);
    cJSON_Delete(req);
    if (rc == MQC_EUNAVAIL) {
        mqc_chat__say(ch, "not connected: try again when the connection is back");
        return false;
    } else if (rc != MQC_OK) {
        mqc_chat__sayf(ch, "cannot send the request: %s", mqc_err_str(rc));
        return false;
    }
    if (ch->nreqs == MAX_REQS) { /* forget the oldest: its reply shows generically */
        memmove(ch->reqs, ch->reqs + 1, (MAX_REQS - 1) * sizeof *ch->reqs);
        ch->nreqs--;
    }
    ch->reqs[ch->nreqs++] = pr;
    snprintf(ch->blocking, sizeof ch->blocking, "%s", pr.req);
    ch->block_until = mqc_clock_mono_ms() + MQC_SESSION_TIMEOUT_S * 1000;
    return true;
}

/* Take the pending request req out of the table into *out; false if unknown. */
static bool take_req(struct chat *ch, const char *req, struct pending_req *out)
{
    if (!req)
        return false;
    for (size_t i = 0; i < ch->nreqs; i++) {
        if (!strcmp(ch->reqs[i].req, req)) {
            *out = ch->reqs[i];
            memmove(ch->reqs + i, ch->reqs + i + 1, (ch->nreqs - i - 1) * sizeof *ch->reqs);
            ch->nreqs--;
            if (!strcmp(ch->blocking, req))
                ch->blocking[0] = '\0';
            return true;
        }
    }
    return false;
}

/* ---- outbox ---- */

static void publish_outgoing(struct chat *ch, struct outgoing *o)
{
    o->resend_at = mqc_clock_mono_ms() + RESEND_MS;
    int rc = mqc_client_publish_conv(ch->c, o->conv, "send", o->payload, 1);
    if (rc != MQC_OK && rc != MQC_EUNAVAIL) /* not connected: the next ready resends */
        mqc_chat__sayf(ch, "cannot send message %s: %s (will retry)", o->id, mqc_err_str(rc));
}

/* Queue payload (taken; NULL: out of memory) into conv through the outbox:
 * it gets its "id" here and is resent until the server's copy comes back. */
static void send_payload_to(struct chat *ch, const char *conv, cJSON *payload)
{
    if (ch->nout == ch->capout) {
        size_t cap = ch->capout ? ch->capout * 2 : 8;
        struct outgoing *o = realloc(ch->out, cap * sizeof *o);
        if (!o) {
            cJSON_Delete(payload);
            mqc_chat__say(ch, "out of memory: message not sent");
            return;
        }
        ch->out = o;
        ch->capout = cap;
    }
    struct outgoing *o = &ch->out[ch->nout];
    memset(o, 0, sizeof *o);
    snprintf(o->conv, sizeof o->conv, "%s", conv);
    o->payload = payload;
    if (!o->payload || mqc_client_make_id("m", o->id, sizeof o->id) != MQC_OK ||
        !cJSON_AddStringToObject(o->payload, "id", o->id)) {
        cJSON_Delete(o->payload);
        mqc_chat__say(ch, "out of memory: message not sent");
        return;
    }
    ch->nout++;
    ch->typing_at = 0; /* a new message may announce typing again at once */
    publish_outgoing(ch, o);
}

void mqc_chat__send_text(struct chat *ch, const char *text)
{
    if (!ch->current[0]) {
        mqc_chat__say(ch, "no conversation open: /open USER, /group TITLE USERS or /join CONV "
                          "(/help lists the commands)");
        return;
    }
    mqc_chat__send_msg(ch, ch->current, text, NULL);
}

void mqc_chat__send_msg(struct chat *ch, const char *conv, const char *text, cJSON *attrs)
{
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddStringToObject(p, "body", text) ||
        (attrs && !cJSON_AddItemToObject(p, "attrs", attrs))) {
        if (attrs && !cJSON_GetObjectItemCaseSensitive(p, "attrs"))
            cJSON_Delete(attrs);
        cJSON_Delete(p);
        p = NULL;
    }
    send_payload_to(ch, conv, p);
}

void mqc_chat__send_payload(struct chat *ch, cJSON *payload)
{
    if (!ch->current[0]) {
        cJSON_Delete(payload);
        mqc_chat__say(ch, "no conversation open: /open USER, /group TITLE USERS or /join CONV "
                          "(/help lists the commands)");
        return;
    }
    send_payload_to(ch, ch->current, payload);
}

/* Index of the outgoing message with id in conv, or -1. */
static long find_outgoing(const struct chat *ch, const char *id, const char *conv)
{
    if (!id)
        return -1;
    for (size_t i = 0; i < ch->nout; i++)
        if (!strcmp(ch->out[i].id, id) && (!conv || !strcmp(ch->out[i].conv, conv)))
            return (long)i;
    return -1;
}

static void drop_outgoing(struct chat *ch, size_t i)
{
    cJSON_Delete(ch->out[i].payload);
    memmove(ch->out + i, ch->out + i + 1, (ch->nout - i - 1) * sizeof *ch->out);
    ch->nout--;
}

/* ---- incoming events ---- */

/* Print ev (borrowed) rendered, with suffix (borrowed) appended. */
void mqc_chat__show_event(struct chat *ch, const cJSON *ev, const char *suffix)
{
    char *line = NULL;
    int rc = mqc_render_event(ev, ch->me, &line);
    if (rc == MQC_OK) {
        if (suffix && suffix[0])
            mqc_chat__sayf(ch, "%s%s", line, suffix);
        else
            mqc_chat__say(ch, line);
    } else if (rc == MQC_EBADREQ) {
        mqc_chat__say(ch, "(an inbox message that is not an event)");
    }
    free(line);
}

/* A msg, member, edit, delete or react event (borrowed), live or from a
 * sync: note its seq and relations, settle the outbox, print it unless this
 * run printed it already. */
void mqc_chat__deliver(struct chat *ch, const cJSON *ev)
{
    const char *conv = str_of(ev, "conv"), *t = str_of(ev, "t");
    bool fresh = mqc_chat__mark_shown(ch, ev);
    note_seq(ch, conv, seq_of(ev, "seq"));
    if (mqc_relstate_apply(ch->rel, ev) != MQC_OK)
        mqc_chat__say(ch, "out of memory: a reply or reaction may show without context");
    if (str_eq(t, "msg") || mqc_chat__is_relation(t)) {
        if (str_eq(t, "msg"))
            mqc_chat__note_msg(ch, ev);
        long i =
            str_eq(str_of(ev, "from"), ch->me) ? find_outgoing(ch, str_of(ev, "id"), conv) : -1;
        if (i >= 0)
            drop_outgoing(ch, (size_t)i);
        if (fresh)
            mqc_chat__show_stored(ch, ev, i >= 0 ? " - sent" : NULL);
        return;
    }
    if (fresh)
        mqc_chat__show_event(ch, ev, NULL);
    const char *op = str_of(ev, "op");
    const cJSON *u;
    bool me_out = false;
    cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(ev, "users"))
    {
        if (cJSON_IsString(u) && !strcmp(u->valuestring, ch->me))
            me_out = str_eq(op, "removed") || str_eq(op, "left");
    }
    if (me_out && str_eq(conv, ch->current)) {
        mqc_chat__set_current(ch, NULL, 0);
        mqc_chat__say(ch, "you are no longer in that conversation");
    }
}

/* The item of conv (borrowed) in a convs reply (borrowed), or NULL. */
static const cJSON *find_conv(const cJSON *res, const char *conv)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(res, "items"))
    {
        if (str_eq(str_of(it, "conv"), conv))
            return it;
    }
    return NULL;
}

/* A convs reply (borrowed) to /join conv: open it if it is one of mine. */
static void joined(struct chat *ch, const cJSON *res, const char *conv)
{
    const cJSON *item = find_conv(res, conv);
    if (!item) {
        mqc_chat__sayf(ch, "/join %s: no such conversation among yours (/convs lists them)", conv);
        return;
    }
    const char *kind = str_of(item, "kind");
    mqc_chat__set_current(ch, conv, str_eq(kind, "direct") ? 'd' : str_eq(kind, "group") ? 'g' : 0);
    /* The one-line summary of the item, as /convs shows it. */
    cJSON *one = cJSON_CreateObject();
    cJSON *items = one ? cJSON_AddArrayToObject(one, "items") : NULL;
    cJSON *copy = items ? cJSON_Duplicate(item, true) : NULL;
    bool ok = copy && cJSON_AddItemToArray(items, copy);
    if (!ok)
        cJSON_Delete(copy);
    char *text = NULL;
    if (ok && mqc_render_convs(one, ch->me, &text) == MQC_OK)
        mqc_chat__sayf(ch, "now in %s:\n%s", conv, text);
    else
        mqc_chat__sayf(ch, "now in %s", conv);
    free(text);
    cJSON_Delete(one);
}

static void on_res(struct chat *ch, const cJSON *ev)
{
    struct pending_req pr;
    if (!take_req(ch, str_of(ev, "req"), &pr)) {
        mqc_chat__show_event(ch, ev, NULL);
        return;
    }
    char *text = NULL;
    const char *conv = str_of(ev, "conv");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(ev, "items");
    const cJSON *it;
    switch (pr.kind) {
    case RQ_CONVS:
    case RQ_JOIN:
        cJSON_ArrayForEach(it, items)
        {
            note_seq(ch, str_of(it, "conv"), seq_of(it, "last_seq"));
        }
        if (pr.kind == RQ_JOIN)
            joined(ch, ev, pr.conv);
        else if (mqc_render_convs(ev, ch->me, &text) == MQC_OK)
            mqc_chat__sayf(ch, "conversations:\n%s", text);
        else
            mqc_chat__show_event(ch, ev, NULL);
        break;
    case RQ_CREATE:
        if (conv && mqc_id_valid_str(conv)) {
            mqc_chat__set_current(ch, conv, pr.conv[0] ? 'd' : 'g');
            mqc_chat__sayf(ch, "now in %s%s%s (type to send, /history for earlier messages)", conv,
                           pr.conv[0] ? ", with " : "", pr.conv);
        } else {
            mqc_chat__show_event(ch, ev, NULL);
        }
        break;
    case RQ_HISTORY: {
        long long oldest = 0;
        cJSON_ArrayForEach(it, items)
        {
            (void)mqc_relstate_apply(ch->rel, it); /* for quotes and /react */
            long long s = seq_of(it, "seq");
            if (s > 0 && (oldest == 0 || s < oldest))
                oldest = s;
            note_seq(ch, str_of(it, "conv") ? str_of(it, "conv") : pr.conv, s);
        }
        if (str_eq(pr.conv, ch->current)) {
            bool more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "more"));
            ch->hist_before = (!more || oldest <= 1) ? -1 : oldest;
        }
        if (mqc_render_history(ev, ch->me, &text) == MQC_OK)
            mqc_chat__sayf(ch, "history of %s:\n%s", pr.conv, text);
        else
            mqc_chat__show_event(ch, ev, NULL);
        break;
    }
    case RQ_LEAVE:
        if (str_eq(pr.conv, ch->current))
            mqc_chat__set_current(ch, NULL, 0);
        mqc_chat__sayf(ch, "left %s", pr.conv);
        break;
    case RQ_SYNC:
        mqc_chat__sync_reply(ch, ev);
        break;
    case RQ_SESSION:
    case RQ_LOGOUT:
        mqc_chat__device_reply(ch, ev, pr.kind);
        break;
    case RQ_OTHER:
        mqc_chat__show_event(ch, ev, NULL);
        break;
    case RQ_UPLOAD:
    case RQ_FIND:
    case RQ_DOWNLOAD:
        mqc_chat__file_reply(ch, pr.kind, ev);
        break;
    }
    free(text);
}

/* An err about one of my messages (outbox index i). */
static void message_error(struct chat *ch, const cJSON *ev, size_t i)
{
    char ctx[CTX_SIZE];
    if (str_eq(str_of(ev, "code"), "unavailable")) {
        /* Nothing was stored: retry with the same id. */
        ch->out[i].resend_at = mqc_clock_mono_ms() + UNAVAILABLE_RETRY_MS;
        snprintf(ctx, sizeof ctx, "[%s] message not stored yet", ch->out[i].conv);
        mqc_chat__say_error(ch, ctx, ev, "; will retry");
        return;
    }
    snprintf(ctx, sizeof ctx, "[%s] message not sent", ch->out[i].conv);
    mqc_chat__say_error(ch, ctx, ev, NULL);
    drop_outgoing(ch, i);
}

/* An err answering my request pr (borrowed). */
static void request_error(struct chat *ch, const cJSON *ev, const struct pending_req *pr)
{
    if (pr->kind == RQ_SYNC) {
        mqc_chat__sync_error(ch, ev);
    } else if (pr->kind == RQ_LEAVE && str_eq(str_of(ev, "code"), "forbidden")) {
        /* The server's words ("only group admins may do that") would read
         * as if leaving needed admin rights: only a direct chat says no. */
        mqc_chat__sayf(ch, "%s: direct conversations cannot be left (only groups can)", pr->ctx);
    } else {
        mqc_chat__say_error(ch, pr->ctx, ev, NULL);
        if (pr->kind == RQ_LOGOUT) { /* forgotten here whatever the server said */
            mqc_chat__device_forget(ch);
            ch->quitting = true;
        }
    }
    if (pr->kind == RQ_UPLOAD || pr->kind == RQ_FIND || pr->kind == RQ_DOWNLOAD)
        mqc_chat__file_failed(ch);
}

/* An err with a req or id this run does not know, or with neither: the
 * latter answers a typing notice or receipt (those carry no reference). */
static void stray_error(struct chat *ch, const cJSON *ev)
{
    if (!str_of(ev, "req") && !str_of(ev, "id") && ch->post_ctx[0])
        mqc_chat__say_error(ch, ch->post_ctx, ev, NULL);
    else
        mqc_chat__show_event(ch, ev, NULL);
}

static void on_err(struct chat *ch, const cJSON *ev)
{
    long i = find_outgoing(ch, str_of(ev, "id"), NULL);
    struct pending_req pr;
    if (i >= 0)
        message_error(ch, ev, (size_t)i);
    else if (take_req(ch, str_of(ev, "req"), &pr))
        request_error(ch, ev, &pr);
    else /* never taken for the blocking request: every req sent here is usable */
        stray_error(ch, ev);
}

static void on_event(void *ctx, struct mqc_client *c, const char *payload, size_t len)
{
    (void)c;
    struct chat *ch = ctx;
    cJSON *ev = cJSON_ParseWithLength(payload, len);
    const char *t = str_of(ev, "t");
    if (!t) {
        mqc_chat__say(ch, "(an inbox message that is not an event)");
    } else if (!strcmp(t, "msg") || !strcmp(t, "member") || mqc_chat__is_relation(t)) {
        mqc_chat__deliver(ch, ev);
    } else if (!strcmp(t, "res")) {
        on_res(ch, ev);
    } else if (!strcmp(t, "err")) {
        on_err(ch, ev);
    } else if (!strcmp(t, "receipt")) {
        mqc_chat__receipt(ch, ev);
    } else {
        mqc_chat__show_event(ch, ev, NULL);
    }
    cJSON_Delete(ev);
}

static void on_ready(void *ctx, struct mqc_client *c, bool first)
{
    (void)c;
    struct chat *ch = ctx;
    if (first) {
        mqc_chat__sayf(ch, "signed in as %s%s; /help lists the commands", ch->me,
                       ch->token_login ? " (this device's session)" : "");
        mqc_chat__device_ask(ch);
        if (ch->sync_on)
            mqc_chat__sync_start(ch, SY_START); /* it asks for convs when done */
        else
            (void)mqc_chat__request(ch, mqc_chat__new_req("convs", NULL), RQ_CONVS, NULL);
        return;
    }
    mqc_chat__say(ch, "(reconnected)");
    for (size_t i = 0; i < ch->nout; i++)
        publish_outgoing(ch, &ch->out[i]);
    /* A sync cut by the drop starts over; otherwise fetch the gap. */
    if (ch->phase != SY_NONE)
        mqc_chat__sync_start(ch, ch->phase);
    else if (ch->sync_on && !ch->quit_synced)
        mqc_chat__sync_start(ch, SY_RECONNECT);
}

static void on_lost(void *ctx, const char *why)
{
    struct chat *ch = ctx;
    mqc_chat__sayf(ch, "(%s; reconnecting...)", why);
    ch->blocking[0] = '\0'; /* a reply to a request sent before may never come */
}

/* Timers: resend due messages, give up waiting for a silent reply, send
 * the delivered receipts due, keep the state file up to date. */
static void tick(struct chat *ch)
{
    int64_t now = mqc_clock_mono_ms();
    if (ch->blocking[0] && now >= ch->block_until) {
        struct pending_req pr;
        bool known = take_req(ch, ch->blocking, &pr);
        ch->blocking[0] = '\0';
        if (!known || pr.kind != RQ_SYNC || ch->phase != SY_QUIT) /* quitting: quietly */
            mqc_chat__sayf(ch, "%s: no reply from the server; going on",
                           known ? pr.ctx : "the last request");
        if (known && pr.kind == RQ_SYNC)
            mqc_chat__sync_finish(ch, false);
    }
    mqc_chat__save_shown(ch, false);
    if (!mqc_client_is_ready(ch->c))
        return;
    for (size_t i = 0; i < ch->nout; i++)
        if (now >= ch->out[i].resend_at)
            publish_outgoing(ch, &ch->out[i]);
    mqc_chat__send_receipts(ch);
}

/* The main loop. Returns the exit code. */
static int loop(struct chat *ch)
{
    for (;;) {
        int stops = mqc_session_stop_count();
        if (stops >= 2)
            return ch->nout ? 1 : 0;
        if (stops == 1 && !ch->quitting)
            ch->quitting = true;
        /* Take input lines while no reply is awaited. */
        while (!ch->quitting && !ch->blocking[0] && mqc_lineedit_pending(&ch->ed)) {
            char *line = mqc_lineedit_next(&ch->ed);
            mqc_chat__handle_line(ch, line);
            free(line);
        }
        if (!ch->quitting && ch->ed.eof && !ch->blocking[0] && !mqc_lineedit_pending(&ch->ed))
            ch->quitting = true;
        if (ch->quitting) {
            if (ch->quit_until == 0) {
                ch->quit_until = mqc_clock_mono_ms() + MQC_SESSION_TIMEOUT_S * 1000;
                if (ch->nout)
                    mqc_chat__sayf(ch, "waiting for %zu message(s) to be confirmed...", ch->nout);
            }
            bool late = mqc_clock_mono_ms() >= ch->quit_until;
            bool up = mqc_client_is_ready(ch->c);
            if (ch->nout == 0) {
                /* One last sync moves the saved position past what was
                 * shown live; without a connection the old one stays. */
                if (ch->phase == SY_NONE && ch->sync_on && !ch->quit_synced && up && !late)
                    mqc_chat__sync_start(ch, SY_QUIT);
                if (ch->phase == SY_NONE || !up || late)
                    return 0;
            } else if (late) {
                mqc_chat__sayf(ch, "%zu message(s) not confirmed by the server", ch->nout);
                return 1;
            }
        }
        tick(ch);
        /* A pipe is not read further while lines wait: they may be many. */
        bool want_input =
            !ch->quitting && !ch->ed.eof && (ch->ed.raw || mqc_lineedit_pending(&ch->ed) == 0);
        bool readable = false;
        int rc = mqc_client_run(ch->c, want_input ? ch->ed.fd : -1, 200, &readable);
        if (rc == MQC_EAUTH) {
            if (ch->st.session[0]) {
                mqc_chat__device_forget(ch);
                mqc_chat__say(ch, "this device's session has ended (signed out elsewhere, or the "
                                  "password changed): run mqchat chat again to sign in");
                return 1;
            }
            mqc_chat__say(
                ch, "the broker refused the user on reconnect (deleted, or password changed)");
            return 1;
        } else if (rc != MQC_OK) {
            mqc_chat__sayf(ch, "connection failed: %s", mqc_client_last_error(ch->c));
            return 1;
        }
        if (readable) {
            bool typed = false;
            if (mqc_lineedit_read(&ch->ed, &typed) != MQC_OK)
                mqc_chat__say(ch, "out of memory reading input");
            if (typed)
                mqc_chat__maybe_typing(ch);
        }
    }
}

int mqc_cli_chat(const struct mqc_cli *cli, int argc, char **argv)
{
    static const char use[] = "usage: mqchat chat --user NAME [--mqtt HOST:PORT] [--no-sync]\n";
    bool no_sync = false;
    struct mqc_login login;
    struct chat ch;
    int code = 2;
    memset(&ch, 0, sizeof ch);
    mqc_login_init(&login);
    mqc_lineedit_init(&ch.ed, STDIN_FILENO);
    mqc_login_default_mqtt(&login, cli->mqtt);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-sync")) {
            no_sync = true;
            continue;
        }
        int r = mqc_login_option(&login, argc, argv, &i);
        if (r < 0)
            goto out;
        if (r == 0) {
            fprintf(stderr, "mqchat: unknown or incomplete option '%s'\n%s", argv[i], use);
            goto out;
        }
    }
    /* The state file first: it may hold this device's session token, which
     * signs in instead of the password (asked only if the token is refused). */
    ch.me = login.user;
    if (!no_sync && login.user[0])
        mqc_chat__state_setup(&ch, &login);
    ch.token_login = ch.st.session[0] != '\0';
    int rc = mqc_login_finish_with(&login, ch.token_login ? ch.st.session : NULL);
    if (rc != MQC_OK) {
        code = rc == MQC_ENOMEM ? 1 : 2;
        goto out;
    }
    code = 1;
    if (mqc_session_catch_signals() != MQC_OK)
        goto out;
    ch.rel = mqc_relstate_new(); /* NULL: relations show without context */
    update_prompt(&ch);
    struct mqc_client_cb cb = {.ready = on_ready, .event = on_event, .lost = on_lost, .ctx = &ch};
    /* session_open sets ch.c before connecting: on_ready publishes through it. */
    rc = mqc_session_open(&login, &cb, MQC_SESSION_TIMEOUT_S * 1000, &ch.c);
    if (rc == MQC_EAUTH && ch.token_login) {
        /* The kept session has ended: forget it, ask for the password. */
        fprintf(stderr, "mqchat: this device's session has ended: sign in with the password\n");
        mqc_chat__device_forget(&ch);
        ch.token_login = false;
        mqc_login_cleanup(&login);
        if ((rc = mqc_login_finish(&login)) != MQC_OK) {
            code = rc == MQC_ENOMEM ? 1 : 2;
            goto out;
        }
        rc = mqc_session_open(&login, &cb, MQC_SESSION_TIMEOUT_S * 1000, &ch.c);
    }
    if (rc != MQC_OK)
        goto out;
    if (mqc_lineedit_start(&ch.ed) != MQC_OK) {
        fprintf(stderr, "mqchat: cannot set up the terminal\n");
        goto out;
    }
    code = loop(&ch);
    /* Whatever became of the last sync: what was shown is not shown again. */
    mqc_chat__save_shown(&ch, true);
    /* Only the outbox decides the exit code; loop() has waited for it. */
    (void)mqc_client_close(ch.c, 2000);
out:
    mqc_lineedit_cleanup(&ch.ed);
    mqc_client_free(ch.c);
    for (size_t i = 0; i < ch.nout; i++)
        cJSON_Delete(ch.out[i].payload);
    free(ch.out);
    free(ch.seen);
    free(ch.marks);
    mqc_relstate_free(ch.rel);
    cJSON_Delete(ch.away);
    mqc_login_cleanup(&login);
    return code;
}
