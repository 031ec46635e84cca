/* Relation payloads and events (see relation.h). */
#include "core/relation.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/envelope.h"
#include "core/err.h"
#include "core/strbuf.h"

static const char *const kind_key[] = {NULL, "edit", "delete", "react"};

const char *mqc_send_kind_name(enum mqc_send_kind k)
{
    switch (k) {
    case MQC_SEND_EDIT:
        return "edit";
    case MQC_SEND_DELETE:
        return "delete";
    case MQC_SEND_REACT:
        return "react";
    default:
        return "msg";
    }
}

static int bad(const char **why, const char *reason)
{
    *why = reason;
    return MQC_EBADREQ;
}

/* The reaction set: an array of 0..MQC_REACT_MAX strings of 1..32 bytes
 * (the payload is valid UTF-8 already); repeats are dropped. */
static int parse_emojis(const cJSON *root, struct mqc_relation *out, const char **why)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "emojis");
    if (!cJSON_IsArray(a))
        return bad(why, "react needs emojis: an array of strings");
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        if (!cJSON_IsString(e) || !e->valuestring)
            return bad(why, "emojis must be strings");
        size_t len = strlen(e->valuestring);
        if (len == 0 || len > MQC_EMOJI_BYTES_MAX)
            return bad(why, "an emoji must be 1-32 bytes");
        int seen = 0;
        for (size_t i = 0; i < out->nemojis && !seen; i++)
            seen = strcmp(out->emojis[i], e->valuestring) == 0;
        if (seen)
            continue;
        if (out->nemojis == MQC_REACT_MAX)
            return bad(why, "at most 20 emojis");
        out->emojis[out->nemojis++] = e->valuestring;
    }
    return MQC_OK;
}

int mqc_relation_parse(const cJSON *root, struct mqc_relation *out, const char **why)
{
    memset(out, 0, sizeof *out);
    int found = 0;
    for (int k = MQC_SEND_EDIT; k <= MQC_SEND_REACT; k++) {
        if (!cJSON_GetObjectItemCaseSensitive(root, kind_key[k]))
            continue;
        if (found++)
            return bad(why, "only one of edit, delete and react");
        out->kind = (enum mqc_send_kind)k;
        if (mqc_envelope_int(root, kind_key[k], 1, MQC_SEQ_MAX, &out->target) != MQC_OK)
            return bad(why, "edit, delete and react take the seq of a message (a whole number "
                            ">= 1)");
    }
    const cJSON *reply = cJSON_GetObjectItemCaseSensitive(root, "reply_to");
    if (reply && !cJSON_IsNull(reply)) {
        if (out->kind != MQC_SEND_MSG)
            return bad(why, "reply_to goes only on a message");
        if (mqc_envelope_int(root, "reply_to", 1, MQC_SEQ_MAX, &out->reply_to) != MQC_OK)
            return bad(why, "reply_to must be the seq of a message (a whole number >= 1)");
    }
    if (out->kind == MQC_SEND_DELETE || out->kind == MQC_SEND_REACT) {
        if (cJSON_GetObjectItemCaseSensitive(root, "body") ||
            cJSON_GetObjectItemCaseSensitive(root, "attrs"))
            return bad(why, "delete and react take no body or attrs");
    } else if (cJSON_GetObjectItemCaseSensitive(root, "emojis")) {
        return bad(why, "emojis go only with react");
    }
    if (out->kind == MQC_SEND_REACT)
        return parse_emojis(root, out, why);
    return MQC_OK;
}

/* Print head and tail and splice them: {head...,"seq": and ,tail...}. */
static int splice(cJSON *head, cJSON *tail, char **prefix, char **suffix)
{
    char *h = cJSON_PrintUnformatted(head), *t = cJSON_PrintUnformatted(tail);
    cJSON_Delete(head);
    cJSON_Delete(tail);
    size_t hl = h ? strlen(h) : 0;
    char *p = h ? malloc(hl + 8) : NULL;
    if (!p || !t) {
        free(h);
        free(t);
        free(p);
        return MQC_ENOMEM;
    }
    memcpy(p, h, hl - 1);
    memcpy(p + hl - 1, ",\"seq\":", 8); /* with the NUL */
    t[0] = ',';
    free(h);
    *prefix = p;
    *suffix = t;
    return MQC_OK;
}

static int add_emojis(cJSON *o, const struct mqc_relation *r)
{
    cJSON *a = cJSON_AddArrayToObject(o, "emojis");
    for (size_t i = 0; a && i < r->nemojis; i++) {
        cJSON *s = cJSON_CreateString(r->emojis[i]);
        if (!s || !cJSON_AddItemToArray(a, s)) {
            cJSON_Delete(s);
            return 0;
        }
    }
    return a != NULL;
}

/* s as a JSON string, escaped exactly as cJSON 1.7 prints it (\" \\ \b \f
 * \n \r \t, other bytes below 0x20 as \u00xx, everything else as is). */
static void put_str(struct mqc_strbuf *t, const char *s)
{
    mqc_strbuf_putn(t, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        mqc_strbuf_putn(t, run, (size_t)(s - run));
        run = s + 1;
        char esc[8];
        switch (c) {
        case '"':
            mqc_strbuf_putn(t, "\\\"", 2);
            break;
        case '\\':
            mqc_strbuf_putn(t, "\\\\", 2);
            break;
        case '\b':
            mqc_strbuf_putn(t, "\\b", 2);
            break;
        case '\f':
            mqc_strbuf_putn(t, "\\f", 2);
            break;
        case '\n':
            mqc_strbuf_putn(t, "\\n", 2);
            break;
        case '\r':
            mqc_strbuf_putn(t, "\\r", 2);
            break;
        case '\t':
            mqc_strbuf_putn(t, "\\t", 2);
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            mqc_strbuf_putn(t, esc, 6);
        }
    }
    mqc_strbuf_putn(t, run, (size_t)(s - run));
    mqc_strbuf_putn(t, "\"", 1);
}

/* A whole number below 1e15 prints the same as cJSON prints it ("%1.15g",
 * exact there); the fast path takes only those. */
#define FAST_NUM_MAX 1000000000000000LL

static void put_num(struct mqc_strbuf *t, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    mqc_strbuf_putn(t, b, (size_t)n);
}

/* The message event without building cJSON objects (one per message on the
 * broker thread: bench S1 spent 2% of the broker's CPU in the cJSON path,
 * its number formatting and re-parsing included). Byte for byte what the
 * cJSON path prints (tests/unit/test_relation.c compares both). Returns
 * MQC_OK, MQC_ENOMEM, or MQC_EINTERNAL when it does not apply (the caller
 * takes the cJSON path). */
static int msg_parts_fast(const char *conv, const char *id, const char *from, int64_t ts,
                          const struct mqc_relation *r, const cJSON *body, const cJSON *attrs,
                          char **prefix, char **suffix)
{
    if (!cJSON_IsString(body) || !body->valuestring || ts < 0 || ts >= FAST_NUM_MAX ||
        r->reply_to < 0 || r->reply_to >= FAST_NUM_MAX)
        return MQC_EINTERNAL;
    struct mqc_strbuf h = {0}, t = {0};
    mqc_strbuf_puts(&h, "{\"t\":\"msg\",\"conv\":");
    put_str(&h, conv);
    mqc_strbuf_puts(&h, ",\"seq\":");
    mqc_strbuf_puts(&t, ",\"id\":");
    put_str(&t, id);
    mqc_strbuf_puts(&t, ",\"from\":");
    put_str(&t, from);
    mqc_strbuf_puts(&t, ",\"ts\":");
    put_num(&t, ts);
    mqc_strbuf_puts(&t, ",\"body\":");
    put_str(&t, body->valuestring);
    if (attrs) {
        char *a = cJSON_PrintUnformatted(attrs);
        if (!a)
            t.oom = true;
        mqc_strbuf_puts(&t, ",\"attrs\":");
        if (a)
            mqc_strbuf_puts(&t, a);
        free(a);
    }
    if (r->reply_to > 0) {
        mqc_strbuf_puts(&t, ",\"reply_to\":");
        put_num(&t, r->reply_to);
    }
    mqc_strbuf_puts(&t, "}");
    char *hp = mqc_strbuf_take(&h), *tp = mqc_strbuf_take(&t);
    if (!hp || !tp) {
        free(hp);
        free(tp);
        return MQC_ENOMEM;
    }
    *prefix = hp;
    *suffix = tp;
    return MQC_OK;
}

int mqc_relation_event_parts(const char *conv, const char *id, const char *from, int64_t ts,
                             const struct mqc_relation *r, const cJSON *body, const cJSON *attrs,
                             char **prefix, char **suffix)
{
    *prefix = *suffix = NULL;
    if (r->kind == MQC_SEND_MSG) {
        int rc = msg_parts_fast(conv, id, from, ts, r, body, attrs, prefix, suffix);
        if (rc != MQC_EINTERNAL)
            return rc;
    }
    return mqc_relation_event_parts_json(conv, id, from, ts, r, body, attrs, prefix, suffix);
}

int mqc_relation_event_parts_json(const char *conv, const char *id, const char *from, int64_t ts,
                                  const struct mqc_relation *r, const cJSON *body,
                                  const cJSON *attrs, char **prefix, char **suffix)
{
    *prefix = *suffix = NULL;
    cJSON *head = cJSON_CreateObject(), *tail = cJSON_CreateObject();
    bool msg = r->kind == MQC_SEND_MSG;
    bool with_body = msg || r->kind == MQC_SEND_EDIT;
    int ok = head && tail && cJSON_AddStringToObject(head, "t", mqc_send_kind_name(r->kind)) &&
             cJSON_AddStringToObject(head, "conv", conv) &&
             cJSON_AddStringToObject(tail, "id", id) && cJSON_AddStringToObject(tail, "from", from);
    if (ok && msg)
        ok = cJSON_AddNumberToObject(tail, "ts", (double)ts) != NULL;
    if (ok && !msg)
        ok = cJSON_AddNumberToObject(tail, "target", (double)r->target) != NULL;
    if (ok && with_body)
        ok = body && cJSON_AddItemReferenceToObject(tail, "body", (cJSON *)body) &&
             (!attrs || cJSON_AddItemReferenceToObject(tail, "attrs", (cJSON *)attrs));
    if (ok && msg && r->reply_to > 0)
        ok = cJSON_AddNumberToObject(tail, "reply_to", (double)r->reply_to) != NULL;
    if (ok && r->kind == MQC_SEND_REACT)
        ok = add_emojis(tail, r);
    if (ok && !msg)
        ok = cJSON_AddNumberToObject(tail, "ts", (double)ts) != NULL;
    if (!ok) {
        cJSON_Delete(head);
        cJSON_Delete(tail);
        return MQC_ENOMEM;
    }
    return splice(head, tail, prefix, suffix);
}
