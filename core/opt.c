/* Option tables (see opt.h): the shared setters, checks, lookup, defaults
 * and cleanup behind the plugin's and the push bridge's configs. */
#include "core/opt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"

/* Values echoed in errors are cut here: enough to recognise them. */
#define SHOWN_MAX 400

static void *field(const struct mqc_opt *o, void *conf)
{
    return (char *)conf + o->offset;
}

int mqc_opt_set_str(const struct mqc_opt *o, void *conf, const char *value, char *why,
                    size_t whylen)
{
    const char *bad = NULL;
    size_t len = strlen(value);
    if ((long)len < o->min || (long)len > o->max)
        bad = "has the wrong length";
    else if (o->check)
        bad = o->check(value);
    if (bad) {
        snprintf(why, whylen, "%s", bad);
        return MQC_EBADREQ;
    }
    char *copy = strdup(value);
    if (!copy)
        return MQC_ENOMEM;
    char **f = field(o, conf);
    free(*f);
    *f = copy;
    return MQC_OK;
}

int mqc_opt_set_long(const struct mqc_opt *o, void *conf, const char *value, char *why,
                     size_t whylen)
{
    char *end;
    errno = 0;
    long n = strtol(value, &end, 10);
    if (errno || end == value || *end != '\0' || n < o->min || n > o->max) {
        snprintf(why, whylen, "is not a whole number from %ld to %ld", o->min, o->max);
        return MQC_EBADREQ;
    }
    *(long *)field(o, conf) = n;
    return MQC_OK;
}

int mqc_opt_set_bool(const struct mqc_opt *o, void *conf, const char *value, char *why,
                     size_t whylen)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!strcmp(value, yes[i]) || !strcmp(value, no[i])) {
            *(bool *)field(o, conf) = !strcmp(value, yes[i]);
            return MQC_OK;
        }
    }
    snprintf(why, whylen, "is not true or false");
    return MQC_EBADREQ;
}

bool mqc_opt_is_str(const struct mqc_opt *o)
{
    return o->set == mqc_opt_set_str;
}

const char *mqc_opt_check_prefix(const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == ' ' || *p == '{' || *p == '}' || *p < 0x21 || *p > 0x7e)
            return "must be printable ASCII without spaces or braces";
    }
    return NULL;
}

const char *mqc_opt_check_id(const char *v)
{
    return mqc_id_valid_str(v) ? NULL : "must be 1-64 characters of [A-Za-z0-9_.-]";
}

const char *mqc_opt_check_path(const char *v)
{
    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return "must be a file path without control characters";
    }
    return NULL;
}

const char *mqc_opt_check_seeds(const char *v)
{
    const char *bad = "must be host:port seeds separated by spaces or commas (port 1-65535)";
    size_t seeds = 0;
    const char *p = v;
    while (*p) {
        p += strspn(p, " ,");
        if (!*p)
            break;
        size_t len = strcspn(p, " ,");
        const char *colon = NULL;
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)p[i] < 0x21 || p[i] == 0x7f)
                return bad;
            if (p[i] == ':')
                colon = p + i;
        }
        if (!colon || colon == p || colon + 1 >= p + len || p + len - colon - 1 > 5)
            return bad;
        long port = 0;
        for (const char *d = colon + 1; d < p + len; d++) {
            if (*d < '0' || *d > '9')
                return bad;
            port = port * 10 + (*d - '0');
        }
        if (port < 1 || port > 65535)
            return bad;
        seeds++;
        p += len;
    }
    return seeds ? NULL : bad;
}

const struct mqc_opt *mqc_opt_find(const struct mqc_opt *rows, size_t n, const char *key,
                                   size_t len)
{
    for (size_t i = 0; key && i < n; i++) {
        if (strlen(rows[i].name) == len && memcmp(rows[i].name, key, len) == 0)
            return &rows[i];
    }
    return NULL;
}

int mqc_opt_apply(const struct mqc_opt *o, void *conf, const char *value, const char *where,
                  char *err, size_t errlen)
{
    char why[160] = "";
    int rc = o->set(o, conf, value, why, sizeof why);
    if (rc == MQC_ENOMEM)
        snprintf(err, errlen, "%s%s: out of memory", where, o->name);
    else if (rc != MQC_OK)
        snprintf(err, errlen, "%s%s: '%.*s' %s", where, o->name, SHOWN_MAX,
                 (o->flags & MQC_OPT_SECRET) ? "(hidden)" : value, why);
    return rc;
}

int mqc_opt_defaults(const struct mqc_opt *rows, size_t n, void *conf)
{
    for (size_t i = 0; i < n; i++) {
        if (!rows[i].def)
            continue;
        char why[160];
        int rc = rows[i].set(&rows[i], conf, rows[i].def, why, sizeof why);
        if (rc != MQC_OK) {
            mqc_opt_cleanup(rows, n, conf);
            return rc == MQC_ENOMEM ? MQC_ENOMEM : MQC_EINTERNAL;
        }
    }
    return MQC_OK;
}

void mqc_opt_cleanup(const struct mqc_opt *rows, size_t n, void *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < n; i++) {
        if (mqc_opt_is_str(&rows[i])) {
            char **f = field(&rows[i], conf);
            free(*f);
            *f = NULL;
        }
    }
}
