/* `mqchat chat`: message relations (PROTOCOL.md "Message relations"; see
 * chat.h). The commands /reply SEQ TEXT, /edit SEQ TEXT, /delete SEQ and
 * /react SEQ EMOJI queue a send through the outbox like a message (same id
 * on every retry). /react toggles EMOJI in my set for SEQ and sends the
 * whole set (XEP-0444): my set is the newest one still in the outbox, else
 * the one remembered from the events seen (ch->rel). What arrives is shown
 * with its context: a reply with a line quoting what it answers, a
 * reaction as the message's whole count.
 *
 * Pointer parameters of the static functions here are borrowed unless their
 * comment says otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/chat.h"
#include "cli/render.h"
#include "core/err.h"

#define REACT_MAX 20
#define EMOJI_BYTES_MAX 32

const char mqc_chat__relation_help[] =
    "message relations (SEQ is the number a message shows as \"(seq N)\"):\n"
    "  /reply SEQ TEXT        answer message SEQ, quoting it\n"
    "  /edit SEQ TEXT         replace the text of your message SEQ\n"
    "  /delete SEQ            delete message SEQ for everyone (yours; any, as a group admin)\n"
    "  /react SEQ EMOJI       add EMOJI to your reactions on SEQ, or take it back";

bool mqc_chat__is_relation(const char *t)
{
    return str_eq(t, "edit") || str_eq(t, "delete") || str_eq(t, "react");
}

/* ---- showing ---- */

static void say_owned(struct chat *ch, char *line, int rc, const char *suffix)
{
    if (rc != MQC_OK)
        mqc_chat__say(ch, "out of memory");
    else
        mqc_chat__sayf(ch, "%s%s", line, suffix ? suffix : "");
    free(line);
}

void mqc_chat__show_stored(struct chat *ch, const cJSON *ev, const char *suffix)
{
    const char *t = str_of(ev, "t"), *conv = str_of(ev, "conv");
    char *line = NULL;
    if (str_eq(t, "react") && ch->rel && conv) {
        long long target = seq_of(ev, "target");
        const struct mqc_relmsg *m = mqc_relstate_get(ch->rel, conv, target);
        say_owned(ch, line, mqc_render_reactions(conv, target, m ? m->reacts : NULL, &line),
                  suffix);
        return;
    }
    mqc_chat__show_event(ch, ev, suffix);
    long long reply = seq_of(ev, "reply_to");
    if (!str_eq(t, "msg") || reply < 1 || !conv)
        return;
    const struct mqc_relmsg *m = mqc_relstate_get(ch->rel, conv, reply);
    bool known = m && m->seen;
    say_owned(
        ch, line,
        mqc_render_quote(reply, known ? m->from : NULL, m ? m->text : NULL, m && m->deleted, &line),
        NULL);
}

/* ---- commands ---- */

/* "SEQ rest": the seq (>= 1) into *seq and the rest, without leading
 * spaces, into *rest (pointing into arg). False when arg starts otherwise. */
static bool take_seq(const char *arg, long long *seq, const char **rest)
{
    char *end;
    long long v = strtoll(arg, &end, 10);
    if (end == arg || v < 1 || (*end && *end != ' '))
        return false;
    while (*end == ' ')
        end++;
    *seq = v;
    *rest = end;
    return true;
}

/* My current set on seq in the current conversation, returned owned: the
 * newest react for it still in the outbox, else the one remembered. */
static cJSON *my_set(const struct chat *ch, long long seq)
{
    for (size_t i = ch->nout; i-- > 0;) {
        const cJSON *p = ch->out[i].payload;
        if (!strcmp(ch->out[i].conv, ch->current) && seq_of(p, "react") == seq)
            return cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(p, "emojis"), true);
    }
    return mqc_relstate_set_of(ch->rel, ch->current, seq, ch->me);
}

/* set (borrowed array) with emoji (borrowed) taken out when in it, else
 * added: returned owned, NULL when out of memory; *full when adding would
 * pass REACT_MAX. */
static cJSON *toggled(const cJSON *set, const char *emoji, bool *full)
{
    cJSON *out = cJSON_CreateArray();
    bool had = false;
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, set)
    {
        if (!out || !cJSON_IsString(e))
            continue;
        if (!strcmp(e->valuestring, emoji)) {
            had = true;
            continue;
        }
        n++;
        if (!cJSON_AddItemToArray(out, cJSON_CreateString(e->valuestring))) {
            cJSON_Delete(out);
            out = NULL;
        }
    }
    *full = !had && n >= REACT_MAX;
    if (out && !had && !*full && !cJSON_AddItemToArray(out, cJSON_CreateString(emoji))) {
        cJSON_Delete(out);
        out = NULL;
    }
    return out;
}

/* {"react":seq,"emojis":[...]} with emoji toggled in my set; NULL (said
 * why, or out of memory) when nothing is to be sent. */
static cJSON *react_payload(struct chat *ch, long long seq, const char *emoji)
{
    size_t len = strlen(emoji);
    if (len == 0 || len > EMOJI_BYTES_MAX || strchr(emoji, ' ')) {
        mqc_chat__say(ch, "usage: /react SEQ EMOJI (one emoji, at most 32 bytes)");
        return NULL;
    }
    cJSON *mine = my_set(ch, seq);
    bool full = false;
    cJSON *set = mine ? toggled(mine, emoji, &full) : NULL;
    cJSON_Delete(mine);
    if (full) {
        mqc_chat__sayf(ch, "/react %lld: at most %d reactions per message", seq, REACT_MAX);
        cJSON_Delete(set);
        return NULL;
    }
    cJSON *p = set ? cJSON_CreateObject() : NULL;
    if (!p || !cJSON_AddNumberToObject(p, "react", (double)seq) ||
        !cJSON_AddItemToObject(p, "emojis", set)) {
        if (!cJSON_GetObjectItemCaseSensitive(p, "emojis"))
            cJSON_Delete(set);
        cJSON_Delete(p);
        mqc_chat__say(ch, "out of memory");
        return NULL;
    }
    return p;
}

bool mqc_chat__relation_cmd(struct chat *ch, const char *cmd, const char *arg)
{
    static const char *const names[] = {"reply", "edit", "delete", "react"};
    static const char *const usage[] = {"/reply SEQ TEXT", "/edit SEQ TEXT", "/delete SEQ",
                                        "/react SEQ EMOJI"};
    int k = 0;
    while (k < 4 && strcmp(cmd, names[k]))
        k++;
    if (k == 4)
        return false;
    if (!ch->current[0]) {
        mqc_chat__say(ch, "no conversation open: /open USER, /group TITLE USERS or /join CONV");
        return true;
    }
    long long seq;
    const char *rest;
    bool has_text = k != 2;
    if (!take_seq(arg, &seq, &rest) || (has_text && !*rest) || (!has_text && *rest)) {
        mqc_chat__sayf(ch, "usage: %s (SEQ: the number of a message, \"(seq N)\")", usage[k]);
        return true;
    }
    cJSON *p = k == 3 ? react_payload(ch, seq, rest) : cJSON_CreateObject();
    if (k == 3) {
        if (p)
            mqc_chat__send_payload(ch, p);
        return true;
    }
    bool ok = p != NULL;
    if (ok && k == 0)
        ok = cJSON_AddStringToObject(p, "body", rest) &&
             cJSON_AddNumberToObject(p, "reply_to", (double)seq);
    else if (ok)
        ok = cJSON_AddNumberToObject(p, names[k], (double)seq) &&
             (k != 1 || cJSON_AddStringToObject(p, "body", rest));
    if (!ok) {
        cJSON_Delete(p);
        mqc_chat__say(ch, "out of memory");
        return true;
    }
    mqc_chat__send_payload(ch, p);
    return true;
}
