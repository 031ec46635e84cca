/* Topic grammar. Splits on '/', checks the fixed words and the id level, and
 * refuses anything else under chat/. Pure. */
#include "core/topic.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

#define MAX_LEVELS 5

/* Split topic into at most MAX_LEVELS level pointers/lengths; returns the level
 * count, or MAX_LEVELS + 1 when there are more. */
static int split(const char *topic, const char **lv, size_t *len)
{
    int n = 0;
    const char *p = topic;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        if (n == MAX_LEVELS)
            return MAX_LEVELS + 1;
        lv[n] = p;
        len[n] = l;
        n++;
        if (!slash)
            return n;
        p = slash + 1;
    }
}

static int is_word(const char *lv, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(lv, word, len) == 0;
}

int mqc_topic_is_chat(const char *topic)
{
    return topic && strncmp(topic, "chat", 4) == 0 && (topic[4] == '\0' || topic[4] == '/');
}

static enum mqc_topic_kind set_id(struct mqc_topic *out, enum mqc_topic_kind kind, const char *id,
                                  size_t len)
{
    if (!mqc_id_valid(id, len))
        return out->kind = MQC_TOPIC_INVALID;
    memcpy(out->id, id, len);
    out->id[len] = '\0';
    return out->kind = kind;
}

enum mqc_topic_kind mqc_topic_parse(const char *topic, struct mqc_topic *out)
{
    const char *lv[MAX_LEVELS];
    size_t len[MAX_LEVELS];

    memset(out, 0, sizeof *out);
    if (!topic)
        return out->kind = MQC_TOPIC_INVALID;
    if (!mqc_topic_is_chat(topic))
        return out->kind = MQC_TOPIC_OTHER;

    int n = split(topic, lv, len);
    out->kind = MQC_TOPIC_INVALID;
    if (n == 4 && is_word(lv[1], len[1], "u")) {
        if (is_word(lv[3], len[3], "inbox"))
            return set_id(out, MQC_TOPIC_INBOX, lv[2], len[2]);
        if (is_word(lv[3], len[3], "req"))
            return set_id(out, MQC_TOPIC_REQ, lv[2], len[2]);
    } else if (n == 4 && is_word(lv[1], len[1], "c")) {
        if (is_word(lv[3], len[3], "send"))
            out->leaf = MQC_CONV_SEND;
        else if (is_word(lv[3], len[3], "receipt"))
            out->leaf = MQC_CONV_RECEIPT;
        else if (is_word(lv[3], len[3], "typing"))
            out->leaf = MQC_CONV_TYPING;
        else
            return out->kind;
        return set_id(out, MQC_TOPIC_CONV, lv[2], len[2]);
    } else if (n == 3 && is_word(lv[1], len[1], "presence")) {
        return set_id(out, MQC_TOPIC_PRESENCE, lv[2], len[2]);
    }
    return out->kind;
}

/* Write head + id + tail into buf. */
static int build(char *buf, size_t size, const char *head, const char *id, const char *tail)
{
    if (!mqc_id_valid_str(id))
        return MQC_EBADREQ;
    int n = snprintf(buf, size, "%s%s%s", head, id, tail);
    return (n < 0 || (size_t)n >= size) ? MQC_EINTERNAL : MQC_OK;
}

int mqc_topic_inbox(const char *user, char *buf, size_t size)
{
    return build(buf, size, "chat/u/", user, "/inbox");
}

int mqc_topic_presence(const char *user, char *buf, size_t size)
{
    return build(buf, size, "chat/presence/", user, "");
}
