/* `mqchat chat`: the interactive line-based client. One loop on one thread
 * serves the MQTT connection and the terminal (mqtt_client + lineedit).
 * Typed commands become requests on chat/u/{me}/req; other lines become
 * messages on chat/c/{current}/send. Every request waits for its reply (at
 * most MQC_SESSION_TIMEOUT_S) before the next input line is taken, so a
 * script piped to stdin ("/open bob", "hi", "/quit") runs in order. A sent
 * message stays in the outbox until its own echo (a msg with from = me and
 * the same id) comes back; the outbox is resent with the same ids after
 * every reconnect, after an `unavailable` error and every 10 s, which the
 * server's per-id de-duplication makes harmless. /quit (or end of input)
 * waits for the outbox to empty and for a last sync, then disconnects.
 * What arrived while the client was away is shown on start (chat_sync.c).
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
#define TYPING_EVERY_MS 3000
#define HISTORY_DEFAULT 20

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

static void set_current(struct chat *ch, const char *conv)
{
    snprintf(ch->current, sizeof ch->current, "%s", conv ? conv : "");
    ch->hist_before = 0;
    update_prompt(ch);
}

/* ---- seen seqs ---- */

static void note_seq(struct chat *ch, const char *conv, long long seq)
{
    if (!conv)
        return;
    for (size_t i = 0; i < ch->nseen; i++) {
        if (!strcmp(ch->seen[i].conv, conv)) {
            if (seq > ch->seen[i].seq)
                ch->seen[i].seq = seq;
            return;
        }
    }
    if (ch->nseen == ch->capseen) {
        size_t cap = ch->capseen ? ch->capseen * 2 : 16;
        struct seen *s = realloc(ch->seen, cap * sizeof *s);
        if (!s)
            return; /* only /read loses this conversation's position */
        ch->seen = s;
        ch->capseen = cap;
    }
    snprintf(ch->seen[ch->nseen].conv, sizeof ch->seen[ch->nseen].conv, "%s", conv);
    ch->seen[ch->nseen++].seq = seq;
}

static long long seen_seq(const struct chat *ch, const char *conv)
{
    for (size_t i = 0; i < ch->nseen; i++)
        if (!strcmp(ch->seen[i].conv, conv))
            return ch->seen[i].seq;
    return 0;
}

/* ---- requests ---- */

/* Send request (taken: always freed) with a fresh req id, remember what its
 * reply means and hold input back until it comes. False (said why) when it
 * was not sent. */
bool mqc_chat__request(struct chat *ch, cJSON *req, enum req_kind kind, const char *conv)
{
    struct pending_req pr = {.kind = kind};
    snprintf(pr.conv, sizeof pr.conv, "%s", conv ? conv : "");
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

static void send_text(struct chat *ch, const char *text)
{
    if (!ch->current[0]) {
        mqc_chat__say(ch, "no conversation open: /open USER, /group TITLE USERS or /join CONV "
                          "(/help lists the commands)");
        return;
    }
    if (ch->nout == ch->capout) {
        size_t cap = ch->capout ? ch->capout * 2 : 8;
        struct outgoing *o = realloc(ch->out, cap * sizeof *o);
        if (!o) {
            mqc_chat__say(ch, "out of memory: message not sent");
            return;
        }
        ch->out = o;
        ch->capout = cap;
    }
    struct outgoing *o = &ch->out[ch->nout];
    memset(o, 0, sizeof *o);
    snprintf(o->conv, sizeof o->conv, "%s", ch->current);
    o->payload = cJSON_CreateObject();
    if (!o->payload || mqc_client_make_id("m", o->id, sizeof o->id) != MQC_OK ||
        !cJSON_AddStringToObject(o->payload, "id", o->id) ||
        !cJSON_AddStringToObject(o->payload, "body", text)) {
        cJSON_Delete(o->payload);
        mqc_chat__say(ch, "out of memory: message not sent");
        return;
    }
    ch->nout++;
    ch->typing_at = 0; /* a new message may announce typing again at once */
    publish_outgoing(ch, o);
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

/* A msg or member event (borrowed), live or from a sync: note its seq,
 * settle the outbox, print it unless this run printed it already. */
void mqc_chat__deliver(struct chat *ch, const cJSON *ev)
{
    const char *conv = str_of(ev, "conv");
    bool fresh = mqc_chat__mark_shown(ch, ev);
    note_seq(ch, conv, seq_of(ev, "seq"));
    if (str_eq(str_of(ev, "t"), "msg")) {
        long i =
            str_eq(str_of(ev, "from"), ch->me) ? find_outgoing(ch, str_of(ev, "id"), conv) : -1;
        if (i >= 0)
            drop_outgoing(ch, (size_t)i);
        if (fresh)
            mqc_chat__show_event(ch, ev, i >= 0 ? " - sent" : NULL);
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
        set_current(ch, NULL);
        mqc_chat__say(ch, "you are no longer in that conversation");
    }
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
        cJSON_ArrayForEach(it, items)
        {
            note_seq(ch, str_of(it, "conv"), seq_of(it, "last_seq"));
        }
        if (mqc_render_convs(ev, ch->me, &text) == MQC_OK)
            mqc_chat__sayf(ch, "conversations:\n%s", text);
        else
            mqc_chat__show_event(ch, ev, NULL);
        break;
    case RQ_CREATE:
        if (conv && mqc_id_valid_str(conv)) {
            set_current(ch, conv);
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
            set_current(ch, NULL);
        mqc_chat__sayf(ch, "left %s", pr.conv);
        break;
    case RQ_SYNC:
        mqc_chat__sync_reply(ch, ev);
        break;
    case RQ_OTHER:
        mqc_chat__show_event(ch, ev, NULL);
        break;
    }
    free(text);
}

static void on_err(struct chat *ch, const cJSON *ev)
{
    const char *code = str_of(ev, "code");
    long i = find_outgoing(ch, str_of(ev, "id"), NULL);
    if (i >= 0 && str_eq(code, "unavailable")) {
        /* Nothing was stored: retry with the same id. */
        ch->out[i].resend_at = mqc_clock_mono_ms() + UNAVAILABLE_RETRY_MS;
        mqc_chat__show_event(ch, ev, " - will retry");
        return;
    }
    if (i >= 0) {
        mqc_chat__show_event(ch, ev, " - message not sent");
        drop_outgoing(ch, (size_t)i);
        return;
    }
    struct pending_req pr;
    const char *req = str_of(ev, "req");
    bool mine = false;
    if (req)
        mine = take_req(ch, req, &pr);
    else if (!str_of(ev, "id") && ch->blocking[0])
        mine = take_req(ch, ch->blocking, &pr); /* our req itself was unusable */
    if (mine && pr.kind == RQ_SYNC)
        mqc_chat__sync_error(ch, ev);
    else
        mqc_chat__show_event(ch, ev, NULL);
}

static void on_event(void *ctx, struct mqc_client *c, const char *payload, size_t len)
{
    (void)c;
    struct chat *ch = ctx;
    cJSON *ev = cJSON_ParseWithLength(payload, len);
    const char *t = str_of(ev, "t");
    if (!t) {
        mqc_chat__say(ch, "(an inbox message that is not an event)");
    } else if (!strcmp(t, "msg") || !strcmp(t, "member")) {
        mqc_chat__deliver(ch, ev);
    } else if (!strcmp(t, "res")) {
        on_res(ch, ev);
    } else if (!strcmp(t, "err")) {
        on_err(ch, ev);
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
        mqc_chat__sayf(ch, "signed in as %s; /help lists the commands", ch->me);
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

/* ---- commands ---- */

/* A request {"op":op} (+ "conv": conv when conv is not NULL). NULL on OOM. */
cJSON *mqc_chat__new_req(const char *op, const char *conv)
{
    cJSON *r = cJSON_CreateObject();
    if (!r || !cJSON_AddStringToObject(r, "op", op) ||
        (conv && !cJSON_AddStringToObject(r, "conv", conv))) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

/* Add the users in list (borrowed: names split by ',' and spaces) to a new
 * "members" array of r (borrowed). Prints and returns false on a bad name. */
static bool add_members(struct chat *ch, cJSON *r, const char *list)
{
    cJSON *arr = cJSON_AddArrayToObject(r, "members");
    char *copy = strdup(list);
    bool ok = arr && copy;
    char *save = NULL;
    int n = 0;
    for (char *tok = ok ? strtok_r(copy, ", ", &save) : NULL; ok && tok;
         tok = strtok_r(NULL, ", ", &save)) {
        if (!mqc_id_valid_str(tok)) {
            mqc_chat__sayf(ch, "invalid user name '%.64s'", tok);
            ok = false;
        } else if (!cJSON_AddItemToArray(arr, cJSON_CreateString(tok))) {
            ok = false;
        } else {
            n++;
        }
    }
    free(copy);
    if (ok && n == 0) {
        mqc_chat__say(ch, "name at least one user");
        ok = false;
    }
    return ok;
}

static bool need_current(struct chat *ch)
{
    if (ch->current[0])
        return true;
    mqc_chat__say(ch, "no conversation open: /open USER, /group TITLE USERS or /join CONV");
    return false;
}

static void cmd_help(struct chat *ch)
{
    mqc_chat__say(ch, "commands:\n"
                      "  /convs                 list your conversations\n"
                      "  /open USER             open (create) a direct chat with USER\n"
                      "  /group TITLE U1,U2...  create a group and open it\n"
                      "  /join CONV             open an existing conversation\n"
                      "  /history [N]           N earlier events (again: further back)\n"
                      "  /add USER[,USER...]    add members (group admins)\n"
                      "  /remove USER[,USER...] remove members (group admins)\n"
                      "  /leave                 leave the current group\n"
                      "  /read                  mark everything seen here as read\n"
                      "  /quit                  leave (after unsent messages are confirmed)\n"
                      "  anything else is sent to the current conversation (//text sends /text)");
}

static void cmd_history(struct chat *ch, const char *arg)
{
    if (!need_current(ch))
        return;
    long n = HISTORY_DEFAULT;
    if (*arg) {
        char *end;
        n = strtol(arg, &end, 10);
        if (end == arg || *end != '\0' || n < 1 || n > 200) {
            mqc_chat__say(ch, "usage: /history [N], N from 1 to 200");
            return;
        }
    }
    if (ch->hist_before < 0) {
        mqc_chat__say(ch, "(no older messages)");
        return;
    }
    cJSON *r = mqc_chat__new_req("history", ch->current);
    if (r &&
        (!cJSON_AddNumberToObject(r, "limit", (double)n) ||
         (ch->hist_before > 0 && !cJSON_AddNumberToObject(r, "before", (double)ch->hist_before)))) {
        cJSON_Delete(r);
        r = NULL;
    }
    mqc_chat__request(ch, r, RQ_HISTORY, ch->current);
}

static void cmd_read(struct chat *ch)
{
    if (!need_current(ch))
        return;
    long long seq = seen_seq(ch, ch->current);
    if (seq <= 0) {
        mqc_chat__say(ch, "nothing to mark read here yet");
        return;
    }
    cJSON *r = cJSON_CreateObject();
    int rc = MQC_ENOMEM;
    if (r && cJSON_AddStringToObject(r, "type", "read") &&
        cJSON_AddNumberToObject(r, "seq", (double)seq))
        rc = mqc_client_publish_conv(ch->c, ch->current, "receipt", r, 1);
    cJSON_Delete(r);
    if (rc != MQC_OK)
        mqc_chat__sayf(ch, "cannot send the receipt: %s", mqc_err_str(rc));
    else /* the server need not echo a receipt to the device that sent it */
        mqc_chat__sayf(ch, "marked read up to %lld", seq);
}

static void cmd_group(struct chat *ch, char *arg)
{
    /* The last word is the member list; everything before it the title. */
    size_t len = strlen(arg);
    while (len > 0 && arg[len - 1] == ' ')
        arg[--len] = '\0';
    char *sp = strrchr(arg, ' ');
    if (!sp) {
        mqc_chat__say(ch, "usage: /group TITLE USER[,USER...]");
        return;
    }
    *sp = '\0';
    cJSON *r = mqc_chat__new_req("create", NULL);
    if (!r || !cJSON_AddStringToObject(r, "kind", "group") ||
        !cJSON_AddStringToObject(r, "title", arg)) {
        cJSON_Delete(r);
        mqc_chat__say(ch, "out of memory");
        return;
    }
    if (!add_members(ch, r, sp + 1)) {
        cJSON_Delete(r);
        return;
    }
    mqc_chat__request(ch, r, RQ_CREATE, NULL);
}

/* One input line (borrowed, may be modified). */
static void handle_line(struct chat *ch, char *line)
{
    if (line[0] != '/' || line[1] == '/') {
        if (line[0])
            send_text(ch, line[0] == '/' ? line + 1 : line);
        return;
    }
    char *cmd = line + 1, *arg = cmd + strcspn(cmd, " ");
    if (*arg)
        *arg++ = '\0';
    while (*arg == ' ')
        arg++;
    size_t alen = strlen(arg);
    while (alen > 0 && arg[alen - 1] == ' ')
        arg[--alen] = '\0';

    if (!strcmp(cmd, "quit") || !strcmp(cmd, "exit")) {
        ch->quitting = true;
    } else if (!strcmp(cmd, "help")) {
        cmd_help(ch);
    } else if (!strcmp(cmd, "convs")) {
        mqc_chat__request(ch, mqc_chat__new_req("convs", NULL), RQ_CONVS, NULL);
    } else if (!strcmp(cmd, "open")) {
        if (!mqc_id_valid_str(arg)) {
            mqc_chat__say(ch, "usage: /open USER");
            return;
        }
        cJSON *r = mqc_chat__new_req("create", NULL);
        if (r && (!cJSON_AddStringToObject(r, "kind", "direct") ||
                  !cJSON_AddStringToObject(r, "with", arg))) {
            cJSON_Delete(r);
            r = NULL;
        }
        mqc_chat__request(ch, r, RQ_CREATE, arg);
    } else if (!strcmp(cmd, "group")) {
        cmd_group(ch, arg);
    } else if (!strcmp(cmd, "join")) {
        if (!mqc_id_valid_str(arg)) {
            mqc_chat__say(ch, "usage: /join CONV");
            return;
        }
        set_current(ch, arg);
        mqc_chat__sayf(ch, "now in %s", arg);
    } else if (!strcmp(cmd, "history")) {
        cmd_history(ch, arg);
    } else if (!strcmp(cmd, "add") || !strcmp(cmd, "remove")) {
        if (!need_current(ch))
            return;
        cJSON *r = mqc_chat__new_req(cmd, ch->current);
        if (!r || !add_members(ch, r, arg)) {
            cJSON_Delete(r);
            return;
        }
        mqc_chat__request(ch, r, RQ_OTHER, ch->current);
    } else if (!strcmp(cmd, "leave")) {
        if (need_current(ch))
            mqc_chat__request(ch, mqc_chat__new_req("leave", ch->current), RQ_LEAVE, ch->current);
    } else if (!strcmp(cmd, "read")) {
        cmd_read(ch);
    } else {
        mqc_chat__sayf(ch, "unknown command /%.32s (/help lists them; //text sends /text)", cmd);
    }
}

/* Tell the others "composing", at most every TYPING_EVERY_MS per conv. */
static void maybe_typing(struct chat *ch)
{
    const char *typed = mqc_lineedit_current(&ch->ed);
    if (!ch->current[0] || typed[0] == '/' || !mqc_client_is_ready(ch->c))
        return;
    int64_t now = mqc_clock_mono_ms();
    if (!strcmp(ch->typing_conv, ch->current) && now - ch->typing_at < TYPING_EVERY_MS)
        return;
    cJSON *t = cJSON_CreateObject();
    if (t && cJSON_AddStringToObject(t, "state", "composing") &&
        mqc_client_publish_conv(ch->c, ch->current, "typing", t, 0) == MQC_OK) {
        ch->typing_at = now;
        snprintf(ch->typing_conv, sizeof ch->typing_conv, "%s", ch->current);
    }
    cJSON_Delete(t);
}

/* Timers: resend due messages, give up waiting for a silent reply. */
static void tick(struct chat *ch)
{
    int64_t now = mqc_clock_mono_ms();
    if (ch->blocking[0] && now >= ch->block_until) {
        struct pending_req pr;
        bool known = take_req(ch, ch->blocking, &pr);
        mqc_chat__say(ch, "no reply from the server; going on");
        ch->blocking[0] = '\0';
        if (known && pr.kind == RQ_SYNC)
            mqc_chat__sync_finish(ch, false);
    }
    if (!mqc_client_is_ready(ch->c))
        return;
    for (size_t i = 0; i < ch->nout; i++)
        if (now >= ch->out[i].resend_at)
            publish_outgoing(ch, &ch->out[i]);
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
            handle_line(ch, line);
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
                maybe_typing(ch);
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
    int rc = mqc_login_finish(&login);
    if (rc != MQC_OK) {
        code = rc == MQC_ENOMEM ? 1 : 2;
        goto out;
    }
    code = 1;
    if (mqc_session_catch_signals() != MQC_OK)
        goto out;
    ch.me = login.user;
    if (!no_sync)
        mqc_chat__state_setup(&ch, &login);
    update_prompt(&ch);
    struct mqc_client_cb cb = {.ready = on_ready, .event = on_event, .lost = on_lost, .ctx = &ch};
    /* session_open sets ch.c before connecting: on_ready publishes through it. */
    if (mqc_session_open(&login, &cb, MQC_SESSION_TIMEOUT_S * 1000, &ch.c) != MQC_OK)
        goto out;
    if (mqc_lineedit_start(&ch.ed) != MQC_OK) {
        fprintf(stderr, "mqchat: cannot set up the terminal\n");
        goto out;
    }
    code = loop(&ch);
    /* Only the outbox decides the exit code; loop() has waited for it. */
    (void)mqc_client_close(ch.c, 2000);
out:
    mqc_lineedit_cleanup(&ch.ed);
    mqc_client_free(ch.c);
    for (size_t i = 0; i < ch.nout; i++)
        cJSON_Delete(ch.out[i].payload);
    free(ch.out);
    free(ch.seen);
    cJSON_Delete(ch.away);
    mqc_map_free(ch.shown);
    mqc_login_cleanup(&login);
    return code;
}
