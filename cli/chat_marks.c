/* `mqchat chat`: receipts (PROTOCOL.md "receipt"; chat.h). This device
 * says `delivered` for the messages of others it has shown (cumulative, per
 * conversation, at most 16 receipts a second so a long sync does not trip
 * the server's request limit), and tells the user when the receipts of
 * others move the marks of their own messages: "[d-8d9c] your messages up
 * to seq 4: read by bob". Its own receipts, echoed back by the server, are
 * not printed (the command said it already); another device's read is.
 *
 * Pointer parameters of the static functions here are borrowed unless their
 * comment says otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/chat.h"
#include "core/clock.h"
#include "core/err.h"

/* Delivered receipts sent at most RECEIPTS_PER_TURN every RECEIPTS_EVERY_MS
 * (16 a second, well under the default request limit of 100). */
#define RECEIPTS_PER_TURN 4
#define RECEIPTS_EVERY_MS 250

void mqc_chat__note_msg(struct chat *ch, const cJSON *msg)
{
    struct seen *s = mqc_chat__seen(ch, str_of(msg, "conv"), true);
    long long seq = seq_of(msg, "seq");
    if (!s || seq < 1)
        return;
    if (str_eq(str_of(msg, "from"), ch->me)) {
        if (seq > s->own_top)
            s->own_top = seq;
    } else if (seq > s->others_top) {
        s->others_top = seq;
    }
}

int mqc_chat__post_receipt(struct chat *ch, const char *conv, const char *type, long long seq)
{
    cJSON *r = cJSON_CreateObject();
    int rc = MQC_ENOMEM;
    if (r && cJSON_AddStringToObject(r, "type", type) &&
        cJSON_AddNumberToObject(r, "seq", (double)seq))
        rc = mqc_client_publish_conv(ch->c, conv, "receipt", r, 1);
    cJSON_Delete(r);
    if (rc == MQC_OK)
        snprintf(ch->post_ctx, sizeof ch->post_ctx, "%s receipt in %s", type, conv);
    return rc;
}

void mqc_chat__send_receipts(struct chat *ch)
{
    int64_t now = mqc_clock_mono_ms();
    if (now < ch->receipts_at)
        return;
    int sent = 0;
    for (size_t i = 0; i < ch->nseen && sent < RECEIPTS_PER_TURN; i++) {
        struct seen *s = &ch->seen[i];
        if (s->others_top <= s->delivered_sent || s->others_top <= s->read_sent)
            continue;
        if (mqc_chat__post_receipt(ch, s->conv, "delivered", s->others_top) != MQC_OK)
            return; /* not connected: the next turn tries again */
        s->delivered_sent = s->others_top;
        sent++;
    }
    if (sent)
        ch->receipts_at = now + RECEIPTS_EVERY_MS;
}

/* The mark record of user in conv, created if missing; NULL on OOM. */
static struct mark *mark_of(struct chat *ch, const char *conv, const char *user)
{
    for (size_t i = 0; i < ch->nmarks; i++)
        if (!strcmp(ch->marks[i].conv, conv) && !strcmp(ch->marks[i].user, user))
            return &ch->marks[i];
    if (ch->nmarks == ch->capmarks) {
        size_t cap = ch->capmarks ? ch->capmarks * 2 : 16;
        struct mark *m = realloc(ch->marks, cap * sizeof *m);
        if (!m)
            return NULL;
        ch->marks = m;
        ch->capmarks = cap;
    }
    struct mark *m = &ch->marks[ch->nmarks++];
    memset(m, 0, sizeof *m);
    memcpy(m->conv, conv, strlen(conv) + 1);
    memcpy(m->user, user, strlen(user) + 1);
    return m;
}

/* A receipt of mine, from this device or another. */
static void my_receipt(struct chat *ch, const cJSON *ev, const char *conv, long long seq)
{
    struct seen *s = mqc_chat__seen(ch, conv, false);
    if (!str_eq(str_of(ev, "type"), "read"))
        return; /* delivered: what this or another device of mine received */
    if (s && seq <= s->read_sent)
        return; /* the echo of /read here, said already */
    if (s)
        s->read_sent = seq; /* read there: no delivered receipt needed here */
    mqc_chat__show_event(ch, ev, " (on another device)");
}

void mqc_chat__receipt(struct chat *ch, const cJSON *ev)
{
    const char *conv = str_of(ev, "conv"), *user = str_of(ev, "user");
    const char *type = str_of(ev, "type");
    long long seq = seq_of(ev, "seq");
    if (!mqc_id_valid_str(conv) || !mqc_id_valid_str(user)) {
        mqc_chat__show_event(ch, ev, NULL);
        return;
    }
    if (seq < 1)
        return; /* covers nothing */
    if (!strcmp(user, ch->me)) {
        my_receipt(ch, ev, conv, seq);
        return;
    }
    bool read = str_eq(type, "read");
    if (!read && !str_eq(type, "delivered"))
        return; /* a receipt type this client does not know */
    struct seen *s = mqc_chat__seen(ch, conv, false);
    long long upto = s && seq > s->own_top ? s->own_top : seq;
    if (!s || upto < 1)
        return; /* none of my messages seen here in this run */
    struct mark *m = mark_of(ch, conv, user);
    if (!m)
        return; /* out of memory: the mark is not told */
    /* read implies delivered: a delivered mark never follows a read one. */
    long long before = read ? m->read : (m->read > m->delivered ? m->read : m->delivered);
    if (upto <= before)
        return;
    if (read)
        m->read = upto;
    if (upto > m->delivered)
        m->delivered = upto;
    /* conv and user are ids (checked above): safe to print as they are. */
    mqc_chat__sayf(ch, "[%s] your messages up to seq %lld: %s %s", conv, upto,
                   read ? "read by" : "delivered to", user);
}
