/* mosquitto.conf directives as mosquitto 2.0 splits them (see mosqconf.h). */
#include "core/mosqconf.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

static int add(struct mqc_mosqconf *c, const char *key, size_t klen, const char *val, size_t vlen,
               const char *file, int line)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        struct mqc_mosqconf_line *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return MQC_ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    struct mqc_mosqconf_line *l = &c->v[c->n];
    l->key = strndup(key, klen);
    l->value = strndup(val, vlen);
    l->file = strdup(file ? file : "");
    l->line = line;
    if (!l->key || !l->value || !l->file) {
        free(l->key);
        free(l->value);
        free(l->file);
        return MQC_ENOMEM;
    }
    c->n++;
    return MQC_OK;
}

int mqc_mosqconf_add(struct mqc_mosqconf *c, const char *key, const char *value, const char *file,
                     int line)
{
    return add(c, key, strlen(key), value, strlen(value), file, line);
}

int mqc_mosqconf_parse(struct mqc_mosqconf *c, const char *text, const char *file)
{
    int lineno = 0;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        const char *end = eol ? eol : p + strlen(p);
        lineno++;
        const char *k = p;
        while (k < end && is_blank(*k))
            k++;
        if (k < end && *k != '#') {
            const char *ke = k;
            while (ke < end && !is_blank(*ke))
                ke++;
            const char *v = ke;
            while (v < end && is_blank(*v))
                v++;
            const char *ve = end;
            while (ve > v && is_blank(ve[-1]))
                ve--;
            int rc = add(c, k, (size_t)(ke - k), v, (size_t)(ve - v), file, lineno);
            if (rc != MQC_OK)
                return rc;
        }
        p = eol ? eol + 1 : end;
    }
    return MQC_OK;
}

const char *mqc_mosqconf_get(const struct mqc_mosqconf *c, const char *key, size_t from, size_t to)
{
    const char *v = NULL;
    for (size_t i = from; i < to && i < c->n; i++) {
        if (!strcmp(c->v[i].key, key))
            v = c->v[i].value;
    }
    return v;
}

void mqc_mosqconf_cleanup(struct mqc_mosqconf *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].key);
        free(c->v[i].value);
        free(c->v[i].file);
    }
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}
