/* Relations remembered by the terminal client (see relstate.h). A flat
 * array searched linearly: a terminal session sees a few thousand messages
 * at most, and each event costs one pass.
 *
 * Pointer parameters of the static functions here are borrowed unless their
 * comment says otherwise.
 */
#include "cli/relstate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

struct mqc_relstate {
    struct mqc_relmsg *m; /* owned array; each text and reacts owned */
    size_t n, cap;
    unsigned long long clock;
};

struct mqc_relstate *mqc_relstate_new(void)
{
    return calloc(1, sizeof(struct mqc_relstate));
}

static void clear_msg(struct mqc_relmsg *m)
{
    free(m->text);
    cJSON_Delete(m->reacts);
    m->text = NULL;
    m->reacts = NULL;
}

void mqc_relstate_free(struct mqc_relstate *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        clear_msg(&r->m[i]);
    free(r->m);
    free(r);
}

static struct mqc_relmsg *find(const struct mqc_relstate *r, const char *conv, long long seq)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->m[i].seq == seq && !strcmp(r->m[i].conv, conv))
            return &r->m[i];
    return NULL;
}

const struct mqc_relmsg *mqc_relstate_get(const struct mqc_relstate *r, const char *conv,
                                          long long seq)
{
    return r && conv ? find(r, conv, seq) : NULL;
}

/* The entry of seq in conv, made (evicting the least recently used when
 * full) when missing; NULL when out of memory. */
static struct mqc_relmsg *get_or_add(struct mqc_relstate *r, const char *conv, long long seq)
{
    struct mqc_relmsg *m = find(r, conv, seq);
    if (!m && r->n == MQC_RELSTATE_MAX) {
        size_t old = 0;
        for (size_t i = 1; i < r->n; i++)
            if (r->m[i].used < r->m[old].used)
                old = i;
        clear_msg(&r->m[old]);
        r->m[old] = r->m[--r->n];
    }
    if (!m && r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct mqc_relmsg *p = realloc(r->m, cap * sizeof *p);
        if (!p)
            return NULL;
        r->m = p;
        r->cap = cap;
    }
    if (!m) {
        m = &r->m[r->n++];
        memset(m, 0, sizeof *m);
        m->seq = seq;
        strncpy(m->conv, conv, sizeof m->conv - 1);
    }
    m->used = ++r->clock;
    return m;
}

/* The first MQC_QUOTE_CHARS characters of s (UTF-8 lead bytes counted),
 * with "..." when cut; returned owned, NULL when out of memory. */
static char *quote_text(const char *s)
{
    size_t i = 0, chars = 0;
    while (s[i] && chars <= MQC_QUOTE_CHARS) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && ++chars > MQC_QUOTE_CHARS)
            break;
        i++;
    }
    bool cut = s[i] != '\0';
    char *out = malloc(i + 4);
    if (!out)
        return NULL;
    memcpy(out, s, i);
    memcpy(out + i, cut ? "..." : "", cut ? 4 : 1);
    return out;
}

static int set_text(struct mqc_relmsg *m, const char *body)
{
    char *t = quote_text(body);
    if (!t)
        return MQC_ENOMEM;
    free(m->text);
    m->text = t;
    return MQC_OK;
}

static void erase(struct mqc_relmsg *m)
{
    m->deleted = true;
    clear_msg(m);
}

static int apply_msg(struct mqc_relmsg *m, const cJSON *ev)
{
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(ev, "from");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(ev, "body");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "deleted")))
        erase(m);
    if (cJSON_IsString(from))
        strncpy(m->from, from->valuestring, sizeof m->from - 1);
    bool first = !m->seen;
    m->seen = true;
    /* An edit seen before its target keeps its newer text. */
    if (first && !m->deleted && !m->edited && cJSON_IsString(body))
        return set_text(m, body->valuestring);
    return MQC_OK;
}

static int apply_react(struct mqc_relmsg *m, const char *user, long long seq, const cJSON *emojis)
{
    if (!m->reacts && !(m->reacts = cJSON_CreateObject()))
        return MQC_ENOMEM;
    cJSON *had = cJSON_GetObjectItemCaseSensitive(m->reacts, user);
    if (had && cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(had, "seq")) >= (double)seq)
        return MQC_OK;
    cJSON *set = cJSON_CreateObject();
    cJSON *arr = set ? cJSON_AddArrayToObject(set, "emojis") : NULL;
    bool ok = arr && cJSON_AddNumberToObject(set, "seq", (double)seq);
    const cJSON *e;
    cJSON_ArrayForEach(e, emojis)
    {
        if (ok && cJSON_IsString(e) && e->valuestring[0])
            ok = cJSON_AddItemToArray(arr, cJSON_CreateString(e->valuestring));
    }
    if (!ok) {
        cJSON_Delete(set);
        return MQC_ENOMEM;
    }
    /* An emptied set is kept (with its seq) so an older set arriving late
     * cannot come back; it shows as nothing. */
    if (had)
        return cJSON_ReplaceItemInObjectCaseSensitive(m->reacts, user, set) ? MQC_OK : MQC_ENOMEM;
    if (!cJSON_AddItemToObject(m->reacts, user, set)) {
        cJSON_Delete(set);
        return MQC_ENOMEM;
    }
    return MQC_OK;
}

int mqc_relstate_apply(struct mqc_relstate *r, const cJSON *ev)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "t");
    const cJSON *conv = cJSON_GetObjectItemCaseSensitive(ev, "conv");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(ev, "from");
    if (!r || !cJSON_IsString(t) || !cJSON_IsString(conv) || !cJSON_IsNumber(seq) ||
        seq->valuedouble < 1)
        return MQC_OK;
    const char *type = t->valuestring;
    if (!strcmp(type, "msg")) {
        struct mqc_relmsg *m = get_or_add(r, conv->valuestring, (long long)seq->valuedouble);
        return m ? apply_msg(m, ev) : MQC_ENOMEM;
    }
    bool edit = !strcmp(type, "edit"), del = !strcmp(type, "delete"),
         react = !strcmp(type, "react");
    const cJSON *target = cJSON_GetObjectItemCaseSensitive(ev, "target");
    if (!(edit || del || react) || !cJSON_IsNumber(target) || target->valuedouble < 1 ||
        target->valuedouble >= seq->valuedouble)
        return MQC_OK;
    struct mqc_relmsg *m = get_or_add(r, conv->valuestring, (long long)target->valuedouble);
    if (!m)
        return MQC_ENOMEM;
    long long s = (long long)seq->valuedouble;
    if (del) {
        erase(m);
        return MQC_OK;
    }
    if (m->deleted)
        return MQC_OK;
    if (edit) {
        const cJSON *body = cJSON_GetObjectItemCaseSensitive(ev, "body");
        if (!cJSON_IsString(body) || s <= m->edit_seq)
            return MQC_OK; /* an erased edit, or an older one */
        m->edited = true;
        m->edit_seq = s;
        return set_text(m, body->valuestring);
    }
    if (!cJSON_IsString(from))
        return MQC_OK;
    return apply_react(m, from->valuestring, s, cJSON_GetObjectItemCaseSensitive(ev, "emojis"));
}

cJSON *mqc_relstate_set_of(const struct mqc_relstate *r, const char *conv, long long seq,
                           const char *user)
{
    const struct mqc_relmsg *m = mqc_relstate_get(r, conv, seq);
    const cJSON *set = m ? cJSON_GetObjectItemCaseSensitive(m->reacts, user) : NULL;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(set, "emojis");
    return arr ? cJSON_Duplicate(arr, true) : cJSON_CreateArray();
}
