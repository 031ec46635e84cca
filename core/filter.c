/* Topic filter logic. Works level by level on borrowed strings with no
 * allocation except in the list parser. */
#include "core/filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* Length of the level starting at p (up to '/' or NUL). */
static size_t level_len(const char *p)
{
    return strcspn(p, "/");
}

static bool level_is(const char *p, size_t len, const char *w)
{
    return len == strlen(w) && memcmp(p, w, len) == 0;
}

/* Advance p past the current level and its '/'; returns NULL after the last. */
static const char *next_level(const char *p, size_t len)
{
    return p[len] == '/' ? p + len + 1 : NULL;
}

bool mqc_filter_valid(const char *f)
{
    if (!f || !*f || strlen(f) > MQC_FILTER_MAX)
        return false;
    for (const char *p = f; p;) {
        size_t len = level_len(p);
        for (size_t i = 0; i < len; i++) {
            if ((p[i] == '+' || p[i] == '#') && len != 1)
                return false;
        }
        if (level_is(p, len, "#") && p[len] != '\0')
            return false;
        p = next_level(p, len);
    }
    return true;
}

bool mqc_filter_matches(const char *filter, const char *topic)
{
    if (!filter || !topic)
        return false;
    if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
        return false;
    const char *f = filter, *t = topic;
    while (f) {
        size_t fl = level_len(f);
        if (level_is(f, fl, "#"))
            return true;
        if (!t)
            return false;
        size_t tl = level_len(t);
        if (!level_is(f, fl, "+") && (fl != tl || memcmp(f, t, fl) != 0))
            return false;
        f = next_level(f, fl);
        t = next_level(t, tl);
    }
    return t == NULL;
}

bool mqc_filter_covers(const char *allowed, const char *sub)
{
    if (!allowed || !sub)
        return false;
    if (sub[0] == '$' && (allowed[0] == '+' || allowed[0] == '#'))
        return false;
    const char *a = allowed, *s = sub;
    while (a) {
        size_t al = level_len(a);
        if (level_is(a, al, "#"))
            return true;
        if (!s)
            return false;
        size_t sl = level_len(s);
        if (level_is(s, sl, "#"))
            return false; /* sub reaches deeper than a non-# allowed level */
        if (level_is(a, al, "+")) {
            /* '+' covers any single level, '+' included */
        } else if (level_is(s, sl, "+") || al != sl || memcmp(a, s, al) != 0) {
            return false;
        }
        a = next_level(a, al);
        s = next_level(s, sl);
    }
    return s == NULL;
}

bool mqc_filter_reaches_chat(const char *sub)
{
    if (!sub)
        return false;
    size_t len = level_len(sub);
    return level_is(sub, len, "chat") || level_is(sub, len, "+") || level_is(sub, len, "#");
}

/* Replace each "%u" in pattern with user into buf. Returns false if it does
 * not fit. */
static bool substitute(const char *pattern, const char *user, char *buf, size_t size)
{
    size_t ulen = strlen(user), o = 0;
    for (const char *p = pattern; *p; p++) {
        if (p[0] == '%' && p[1] == 'u') {
            if (o + ulen >= size)
                return false;
            memcpy(buf + o, user, ulen);
            o += ulen;
            p++;
        } else {
            if (o + 1 >= size)
                return false;
            buf[o++] = *p;
        }
    }
    buf[o] = '\0';
    return true;
}

void mqc_filter_list_cleanup(struct mqc_filter_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

int mqc_filter_list_parse(const char *text, struct mqc_filter_list *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!text)
        return MQC_OK;
    const char *p = text;
    while (*p) {
        p += strspn(p, " \t");
        size_t len = strcspn(p, " \t");
        if (len == 0)
            break;
        char tmp[MQC_FILTER_MAX + 1], probe[MQC_FILTER_MAX + 1];
        if (len > MQC_FILTER_MAX) {
            snprintf(err, errlen, "filter longer than %d characters", MQC_FILTER_MAX);
            goto fail;
        }
        memcpy(tmp, p, len);
        tmp[len] = '\0';
        /* Validate with a one-character user; at check time a filter whose
         * expansion does not fit simply matches nothing. */
        if (!substitute(tmp, "x", probe, sizeof probe) || !mqc_filter_valid(probe)) {
            snprintf(err, errlen, "'%s' is not a valid topic filter", tmp);
            goto fail;
        }
        if (probe[0] == '$' || mqc_filter_reaches_chat(probe)) {
            snprintf(err, errlen, "'%s' may not start with '$', '+', '#' or 'chat'", tmp);
            goto fail;
        }
        char **grown = realloc(out->items, (out->count + 1) * sizeof *grown);
        if (!grown)
            goto nomem;
        out->items = grown;
        if (!(out->items[out->count] = strdup(tmp)))
            goto nomem;
        out->count++;
        p += len;
    }
    return MQC_OK;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    mqc_filter_list_cleanup(out);
    return MQC_EBADREQ;
}

static bool list_check(const struct mqc_filter_list *list, const char *user, const char *what,
                       bool (*test)(const char *, const char *))
{
    if (!list || !user || !what)
        return false;
    char buf[MQC_FILTER_MAX + 128];
    for (size_t i = 0; i < list->count; i++) {
        if (substitute(list->items[i], user, buf, sizeof buf) && test(buf, what))
            return true;
    }
    return false;
}

bool mqc_filter_list_allows_topic(const struct mqc_filter_list *list, const char *user,
                                  const char *topic)
{
    return list_check(list, user, topic, mqc_filter_matches);
}

bool mqc_filter_list_allows_filter(const struct mqc_filter_list *list, const char *user,
                                   const char *sub)
{
    return list_check(list, user, sub, mqc_filter_covers);
}
