/* Display lines for the terminal client (see render.h). Builds each line in
 * a small growable string; every network string passes through the terminal
 * sanitizer before it is appended. Missing or mistyped fields never fail a
 * render: they show as "?" so a malformed event is still visible.
 *
 * Pointer parameters of the static functions here are borrowed unless their
 * comment says otherwise.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/render.h"
#include "core/err.h"
#include "core/strbuf.h"

/* Length of the valid UTF-8 sequence at s (1-4), its code point in *cp, or 0
 * if the bytes at s are not valid UTF-8 (overlong, surrogate, > U+10FFFF,
 * truncated). s is borrowed and NUL-terminated. */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
    size_t n;
    uint32_t c = s[0], min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2, c &= 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, c &= 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) /* also stops at the NUL */
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

/* Append src (borrowed) made safe for a terminal; see mqc_render_safe. */
static void sb_safe(struct mqc_strbuf *b, const char *src)
{
    const unsigned char *s = (const unsigned char *)src;
    while (*s) {
        uint32_t cp;
        size_t n = utf8_seq(s, &cp);
        if (n == 0) {
            mqc_strbuf_putn(b, "?", 1);
            s++;
        } else if (cp == '\n') {
            mqc_strbuf_putn(b, "\\n", 2);
            s++;
        } else if (cp == '\t') {
            mqc_strbuf_putn(b, " ", 1);
            s++;
        } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) {
            mqc_strbuf_putn(b, "?", 1);
            s += n;
        } else {
            mqc_strbuf_putn(b, (const char *)s, n);
            s += n;
        }
    }
}

/* Hand over the built string: MQC_OK with *out owned, or MQC_ENOMEM. */
static int sb_take(struct mqc_strbuf *b, char **out)
{
    *out = mqc_strbuf_take(b);
    return *out ? MQC_OK : MQC_ENOMEM;
}

/* The string member key of o, or NULL if absent or not a string. Borrowed. */
static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Append the sanitized string member key, or "?" when it is missing. */
static void put_str(struct mqc_strbuf *b, const cJSON *o, const char *key)
{
    const char *s = str_of(o, key);
    sb_safe(b, s ? s : "?");
}

/* Append the number member key as a whole number, or "?". */
static void put_num(struct mqc_strbuf *b, const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(v))
        mqc_strbuf_printf(b, "%lld", (long long)cJSON_GetNumberValue(v));
    else
        mqc_strbuf_puts(b, "?");
}

/* Append the string elements of array (borrowed) joined by ", ", skipping
 * skip (borrowed, may be NULL); "?" when it is not an array. Returns how
 * many were appended. */
static int put_list(struct mqc_strbuf *b, const cJSON *array, const char *skip)
{
    if (!cJSON_IsArray(array)) {
        mqc_strbuf_puts(b, "?");
        return 0;
    }
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, array)
    {
        if (!cJSON_IsString(it) || (skip && !strcmp(it->valuestring, skip)))
            continue;
        if (n++)
            mqc_strbuf_puts(b, ", ");
        sb_safe(b, it->valuestring);
    }
    return n;
}

/* "you" for me, else the sanitized user name. */
static void put_who(struct mqc_strbuf *b, const char *user, const char *me)
{
    if (user && me && !strcmp(user, me))
        mqc_strbuf_puts(b, "you");
    else
        sb_safe(b, user ? user : "?");
}

static void put_conv(struct mqc_strbuf *b, const cJSON *ev)
{
    mqc_strbuf_puts(b, "[");
    put_str(b, ev, "conv");
    mqc_strbuf_puts(b, "] ");
}

static void render_msg(struct mqc_strbuf *b, const cJSON *ev)
{
    put_conv(b, ev);
    put_str(b, ev, "from");
    mqc_strbuf_puts(b, ": ");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(ev, "body");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "deleted")))
        mqc_strbuf_puts(b, "(message deleted)");
    else if (cJSON_IsString(body))
        sb_safe(b, body->valuestring);
    else
        mqc_strbuf_puts(b, "(no text)");
    mqc_strbuf_puts(b, " (seq ");
    put_num(b, ev, "seq");
    mqc_strbuf_puts(b, ")");
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(ev, "attrs");
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(attrs, "attachment");
    if (cJSON_IsObject(att)) {
        /* A file (PROTOCOL.md "Attachments"): its name and size, and how to
         * save it. */
        const char *type = str_of(att, "type");
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(att, "size");
        mqc_strbuf_puts(b, type && !strncmp(type, "image/", 6) ? " [photo " : " [file ");
        const char *name = str_of(att, "name");
        sb_safe(b, name ? name : "(no name)");
        if (cJSON_IsNumber(size))
            mqc_strbuf_printf(b, ", %lld bytes", (long long)cJSON_GetNumberValue(size));
        mqc_strbuf_puts(b, "; /get ");
        put_num(b, ev, "seq");
        mqc_strbuf_puts(b, "]");
    }
    /* PROTOCOL.md v1.1 puts reply_to on the event; older apps kept it in attrs. */
    const cJSON *reply = cJSON_GetObjectItemCaseSensitive(ev, "reply_to");
    if (!cJSON_IsNumber(reply))
        reply = cJSON_GetObjectItemCaseSensitive(attrs, "reply_to");
    if (cJSON_IsNumber(reply))
        mqc_strbuf_printf(b, " (reply to %lld)", (long long)cJSON_GetNumberValue(reply));
}

/* edit, delete and react events on their own (without what the client
 * remembers): "[c] #41 edited: TEXT (seq 45)", "[c] #41 deleted by alice
 * (seq 46)", "[c] alice reacted to #41: E1 E2 (seq 47)" or "[c] alice
 * removed their reaction to #41 (seq 47)". */
static void render_relation(struct mqc_strbuf *b, const cJSON *ev, const char *t, const char *me)
{
    put_conv(b, ev);
    if (!strcmp(t, "react")) {
        const cJSON *emojis = cJSON_GetObjectItemCaseSensitive(ev, "emojis");
        put_who(b, str_of(ev, "from"), me);
        mqc_strbuf_puts(b, cJSON_GetArraySize(emojis) > 0 ? " reacted to #"
                                                          : " removed their reaction to #");
        put_num(b, ev, "target");
        const cJSON *e;
        int n = 0;
        cJSON_ArrayForEach(e, emojis)
        {
            mqc_strbuf_puts(b, n++ ? " " : ": ");
            sb_safe(b, cJSON_IsString(e) ? e->valuestring : "?");
        }
    } else {
        mqc_strbuf_puts(b, "#");
        put_num(b, ev, "target");
        if (!strcmp(t, "delete")) {
            mqc_strbuf_puts(b, " deleted by ");
            put_who(b, str_of(ev, "from"), me);
        } else {
            const char *body = str_of(ev, "body");
            mqc_strbuf_puts(b, " edited: ");
            sb_safe(b, body ? body : "(erased)");
        }
    }
    mqc_strbuf_puts(b, " (seq ");
    put_num(b, ev, "seq");
    mqc_strbuf_puts(b, ")");
}

/* Is user (borrowed, may be NULL) one of the strings of array? */
static bool in_list(const cJSON *array, const char *user)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, array)
    {
        if (user && cJSON_IsString(it) && !strcmp(it->valuestring, user))
            return true;
    }
    return false;
}

static void render_member(struct mqc_strbuf *b, const cJSON *ev, const char *me)
{
    const char *op = str_of(ev, "op");
    const char *by = str_of(ev, "by");
    const cJSON *users = cJSON_GetObjectItemCaseSensitive(ev, "users");
    put_conv(b, ev);
    if (op && !strcmp(op, "left")) {
        put_list(b, users, NULL);
        mqc_strbuf_puts(b, " left");
    } else if (op && !strcmp(op, "added") && in_list(users, by)) {
        /* Only the creation adds the adder (an admin is in already). */
        put_who(b, by, me);
        mqc_strbuf_puts(b, " created the group");
        if (cJSON_GetArraySize(users) > 1) {
            mqc_strbuf_puts(b, " with ");
            put_list(b, users, by);
        }
    } else {
        put_who(b, str_of(ev, "by"), me);
        mqc_strbuf_puts(b, " ");
        sb_safe(b, op ? op : "changed");
        mqc_strbuf_puts(b, " ");
        put_list(b, users, NULL);
    }
    mqc_strbuf_puts(b, " (seq ");
    put_num(b, ev, "seq");
    mqc_strbuf_puts(b, ")");
}

static void render_receipt(struct mqc_strbuf *b, const cJSON *ev, const char *me)
{
    const char *type = str_of(ev, "type");
    put_conv(b, ev);
    put_who(b, str_of(ev, "user"), me);
    if (type && !strcmp(type, "read"))
        mqc_strbuf_puts(b, " read up to ");
    else if (type && !strcmp(type, "delivered"))
        mqc_strbuf_puts(b, " received up to ");
    else {
        mqc_strbuf_puts(b, " ");
        sb_safe(b, type ? type : "?");
        mqc_strbuf_puts(b, " up to ");
    }
    put_num(b, ev, "seq");
}

static void render_typing(struct mqc_strbuf *b, const cJSON *ev, const char *me)
{
    const char *state = str_of(ev, "state");
    put_conv(b, ev);
    put_who(b, str_of(ev, "user"), me);
    if (state && !strcmp(state, "composing"))
        mqc_strbuf_puts(b, " is typing...");
    else if (state && !strcmp(state, "paused"))
        mqc_strbuf_puts(b, " stopped typing");
    else {
        mqc_strbuf_puts(b, " typing state ");
        sb_safe(b, state ? state : "?");
    }
}

static void render_err(struct mqc_strbuf *b, const cJSON *ev)
{
    mqc_strbuf_puts(b, "error ");
    put_str(b, ev, "code");
    mqc_strbuf_puts(b, ": ");
    put_str(b, ev, "msg");
    const char *id = str_of(ev, "id"), *req = str_of(ev, "req");
    if (id) {
        mqc_strbuf_puts(b, " (id ");
        sb_safe(b, id);
        mqc_strbuf_puts(b, ")");
    } else if (req) {
        mqc_strbuf_puts(b, " (req ");
        sb_safe(b, req);
        mqc_strbuf_puts(b, ")");
    }
}

static void render_res(struct mqc_strbuf *b, const cJSON *ev)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(ev, "items");
    mqc_strbuf_puts(b, "ok ");
    put_str(b, ev, "op");
    if (str_of(ev, "conv")) {
        mqc_strbuf_puts(b, ": conv ");
        put_str(b, ev, "conv");
    }
    if (cJSON_IsArray(items))
        mqc_strbuf_printf(b, " (%d items)", cJSON_GetArraySize(items));
}

/* An operator's broadcast. */
static void render_system(struct mqc_strbuf *b, const cJSON *ev)
{
    mqc_strbuf_puts(b, "*** system: ");
    put_str(b, ev, "text");
}

/* Anything else: its type and compact JSON, sanitized. */
static void render_other(struct mqc_strbuf *b, const cJSON *ev, const char *t)
{
    mqc_strbuf_puts(b, "event ");
    sb_safe(b, t);
    char *json = cJSON_PrintUnformatted(ev);
    if (!json) {
        b->oom = true;
        return;
    }
    mqc_strbuf_puts(b, ": ");
    sb_safe(b, json);
    cJSON_free(json);
}

int mqc_render_event(const cJSON *ev, const char *me, char **out)
{
    *out = NULL;
    const char *t = cJSON_IsObject(ev) ? str_of(ev, "t") : NULL;
    if (!t)
        return MQC_EBADREQ;
    struct mqc_strbuf b = {0};
    if (!strcmp(t, "msg"))
        render_msg(&b, ev);
    else if (!strcmp(t, "member"))
        render_member(&b, ev, me);
    else if (!strcmp(t, "receipt"))
        render_receipt(&b, ev, me);
    else if (!strcmp(t, "typing"))
        render_typing(&b, ev, me);
    else if (!strcmp(t, "err"))
        render_err(&b, ev);
    else if (!strcmp(t, "res"))
        render_res(&b, ev);
    else if (!strcmp(t, "system"))
        render_system(&b, ev);
    else if (!strcmp(t, "edit") || !strcmp(t, "delete") || !strcmp(t, "react"))
        render_relation(&b, ev, t, me);
    else
        render_other(&b, ev, t);
    return sb_take(&b, out);
}

/* One conversation of a convs reply. */
static void render_conv_item(struct mqc_strbuf *b, const cJSON *item, const char *me)
{
    const char *kind = str_of(item, "kind");
    const char *title = str_of(item, "title");
    const cJSON *members = cJSON_GetObjectItemCaseSensitive(item, "members");
    mqc_strbuf_puts(b, "  ");
    put_str(b, item, "conv");
    mqc_strbuf_puts(b, "  ");
    sb_safe(b, kind ? kind : "?");
    mqc_strbuf_puts(b, "  ");
    if (kind && !strcmp(kind, "direct")) {
        mqc_strbuf_puts(b, "with ");
        if (put_list(b, members, me) == 0 && cJSON_IsArray(members))
            mqc_strbuf_puts(b, "yourself");
    } else if (title) {
        mqc_strbuf_puts(b, "\"");
        sb_safe(b, title);
        mqc_strbuf_puts(b, "\"");
    } else {
        mqc_strbuf_puts(b, "(untitled)");
    }
    mqc_strbuf_puts(b, "  members: ");
    put_list(b, members, NULL);
    mqc_strbuf_puts(b, "  unread ");
    put_num(b, item, "unread");
}

int mqc_render_convs(const cJSON *res, const char *me, char **out)
{
    *out = NULL;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(res, "items");
    if (!cJSON_IsArray(items))
        return MQC_EBADREQ;
    struct mqc_strbuf b = {0};
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        if (n++)
            mqc_strbuf_puts(&b, "\n");
        render_conv_item(&b, it, me);
    }
    if (n == 0)
        mqc_strbuf_puts(&b, "  (no conversations)");
    return sb_take(&b, out);
}

int mqc_render_history(const cJSON *res, const char *me, char **out)
{
    *out = NULL;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(res, "items");
    if (!cJSON_IsArray(items))
        return MQC_EBADREQ;
    struct mqc_strbuf b = {0};
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        char *line = NULL;
        int rc = mqc_render_event(it, me, &line);
        if (rc == MQC_ENOMEM) {
            b.oom = true;
            break;
        }
        mqc_strbuf_puts(&b, "  ");
        mqc_strbuf_puts(&b, rc == MQC_OK ? line : "(unreadable item)");
        mqc_strbuf_puts(&b, "\n");
        free(line);
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "more")))
        mqc_strbuf_puts(&b, "  (more: /history again for older)");
    else
        mqc_strbuf_puts(&b, "  (beginning of conversation)");
    return sb_take(&b, out);
}

int mqc_render_error(const cJSON *err, const char *context, char **out)
{
    struct mqc_strbuf b = {0};
    sb_safe(&b, context);
    mqc_strbuf_puts(&b, ": ");
    const char *msg = str_of(err, "msg"), *code = str_of(err, "code");
    sb_safe(&b, msg ? msg : "refused");
    mqc_strbuf_puts(&b, " (");
    sb_safe(&b, code ? code : "?");
    mqc_strbuf_puts(&b, ")");
    return sb_take(&b, out);
}

int mqc_render_safe(const char *src, char **out)
{
    struct mqc_strbuf b = {0};
    sb_safe(&b, src ? src : "");
    return sb_take(&b, out);
}

int mqc_render_quote(long long target, const char *from, const char *text, bool deleted, char **out)
{
    struct mqc_strbuf b = {0};
    mqc_strbuf_printf(&b, "  \xe2\x86\xb3 reply to #%lld", target);
    if (deleted) {
        mqc_strbuf_puts(&b, " (message deleted)");
    } else if (!from || !from[0]) {
        mqc_strbuf_puts(&b, " (original message not loaded)");
    } else {
        mqc_strbuf_puts(&b, " ");
        sb_safe(&b, from);
        mqc_strbuf_puts(&b, ": ");
        sb_safe(&b, text ? text : "");
    }
    return sb_take(&b, out);
}

/* One member's set, for sorting by seq. */
struct rset {
    const char *user;
    double seq;
    const cJSON *emojis;
};

static int by_seq(const void *a, const void *b)
{
    double x = ((const struct rset *)a)->seq, y = ((const struct rset *)b)->seq;
    return (x > y) - (x < y);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Has emoji e (borrowed) been listed before set i of sets? */
static bool listed_before(const struct rset *sets, size_t i, const char *e)
{
    for (size_t k = 0; k < i; k++) {
        const cJSON *x;
        cJSON_ArrayForEach(x, sets[k].emojis)
        {
            if (cJSON_IsString(x) && !strcmp(x->valuestring, e))
                return true;
        }
    }
    return false;
}

/* Does set (borrowed array) hold e? Repeats inside one set count once. */
static bool set_has(const cJSON *set, const char *e)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, set)
    {
        if (cJSON_IsString(x) && !strcmp(x->valuestring, e))
            return true;
    }
    return false;
}

/* Is x (an element of set) preceded in set by the same string? */
static bool set_has_before(const cJSON *set, const cJSON *x)
{
    for (const cJSON *y = set->child; y && y != x; y = y->next)
        if (cJSON_IsString(y) && !strcmp(y->valuestring, x->valuestring))
            return true;
    return false;
}

/* "E N (u1, u2)" for emoji e over sets[0..n) (users borrowed into names). */
static void put_chip(struct mqc_strbuf *b, const struct rset *sets, size_t n, const char *e,
                     const char **names)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (set_has(sets[i].emojis, e))
            names[k++] = sets[i].user;
    qsort(names, k, sizeof *names, by_name);
    sb_safe(b, e);
    mqc_strbuf_printf(b, " %zu (", k);
    for (size_t i = 0; i < k; i++) {
        if (i)
            mqc_strbuf_puts(b, ", ");
        sb_safe(b, names[i]);
    }
    mqc_strbuf_puts(b, ")");
}

int mqc_render_reactions(const char *conv, long long target, const cJSON *reacts, char **out)
{
    struct mqc_strbuf b = {0};
    size_t n = 0, cap = (size_t)cJSON_GetArraySize(reacts);
    struct rset *sets = cap ? calloc(cap, sizeof *sets) : NULL;
    const char **names = cap ? calloc(cap, sizeof *names) : NULL;
    if (cap && (!sets || !names))
        b.oom = true;
    const cJSON *it;
    cJSON_ArrayForEach(it, reacts)
    {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(it, "emojis");
        if (!b.oom && it->string && cJSON_GetArraySize(e) > 0)
            sets[n++] = (struct rset){
                it->string, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "seq")), e};
    }
    if (n)
        qsort(sets, n, sizeof *sets, by_seq);
    mqc_strbuf_puts(&b, "[");
    sb_safe(&b, conv ? conv : "?");
    mqc_strbuf_printf(&b, "] #%lld reactions: ", target);
    int chips = 0;
    for (size_t i = 0; i < n; i++) {
        const cJSON *x;
        cJSON_ArrayForEach(x, sets[i].emojis)
        {
            if (!cJSON_IsString(x) || listed_before(sets, i, x->valuestring) ||
                set_has_before(sets[i].emojis, x))
                continue;
            if (chips++)
                mqc_strbuf_puts(&b, ", ");
            put_chip(&b, sets, n, x->valuestring, names);
        }
    }
    if (!chips)
        mqc_strbuf_puts(&b, "none");
    free(sets);
    free(names);
    return sb_take(&b, out);
}
