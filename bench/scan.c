/* Key lookup and value skipping over JSON text for the load generator (see
 * scan.h). No tree is built: the generator reads hundreds of thousands of
 * events a second and only ever needs a few fields of each. */
#include "bench/scan.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

#define MAX_DEPTH 64 /* deeper than any event the server writes */

static const char *blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

const char *mqc_scan_find(const unsigned char *hay, size_t len, const char *pat, size_t plen)
{
    if (plen == 0 || len < plen)
        return NULL;
    for (size_t i = 0; i + plen <= len; i++) {
        const unsigned char *p = memchr(hay + i, pat[0], len - plen + 1 - i);
        if (!p)
            return NULL;
        i = (size_t)(p - hay);
        if (memcmp(p, pat, plen) == 0)
            return (const char *)p;
    }
    return NULL;
}

int mqc_scan_value(const unsigned char *json, size_t len, const char *key, const char **val)
{
    char pat[40];
    int pl = snprintf(pat, sizeof(pat), "\"%s\"", key);
    if (pl < 0 || (size_t)pl >= sizeof(pat))
        return MQC_EBADREQ;
    const char *end = (const char *)json + len;
    const char *p = (const char *)json;
    for (;;) {
        p = mqc_scan_find((const unsigned char *)p, (size_t)(end - p), pat, (size_t)pl);
        if (!p)
            return MQC_ENOTFOUND;
        p = blanks(p + pl, end);
        if (p < end && *p == ':')
            break;
        /* the key's text was a value, not a key: look further */
    }
    *val = blanks(p + 1, end);
    return MQC_OK;
}

int mqc_scan_str(const unsigned char *json, size_t len, const char *key, char *out, size_t outsz,
                 const char **where)
{
    const char *end = (const char *)json + len;
    const char *p;
    int rc = mqc_scan_value(json, len, key, &p);
    if (rc != MQC_OK)
        return rc;
    if (p >= end || *p != '"')
        return MQC_EBADREQ; /* not a string */
    p++;
    size_t n = 0;
    if (where)
        *where = p;
    while (p < end && *p != '"') {
        if (*p == '\\' && p + 1 < end) {
            if (n + 2 < outsz) {
                out[n++] = p[0];
                out[n++] = p[1];
            }
            p += 2;
            continue;
        }
        if (n + 1 < outsz)
            out[n++] = *p;
        p++;
    }
    if (outsz)
        out[n] = '\0';
    return p < end ? MQC_OK : MQC_EBADREQ;
}

int mqc_scan_u64(const unsigned char *json, size_t len, const char *key, uint64_t *out)
{
    const char *end = (const char *)json + len;
    const char *p;
    int rc = mqc_scan_value(json, len, key, &p);
    if (rc != MQC_OK)
        return rc;
    uint64_t v = 0;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9' && p - start < 19)
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (p == start || (p < end && *p >= '0' && *p <= '9'))
        return MQC_EBADREQ; /* no digits, or too many */
    *out = v;
    return MQC_OK;
}

int mqc_scan_bool(const unsigned char *json, size_t len, const char *key, int *out)
{
    const char *end = (const char *)json + len;
    const char *p;
    int rc = mqc_scan_value(json, len, key, &p);
    if (rc != MQC_OK)
        return rc;
    if (end - p >= 4 && memcmp(p, "true", 4) == 0)
        *out = 1;
    else if (end - p >= 5 && memcmp(p, "false", 5) == 0)
        *out = 0;
    else
        return MQC_EBADREQ;
    return MQC_OK;
}

/* p is just past the opening quote; returns just past the closing one. */
static const char *skip_string(const char *p, const char *end)
{
    while (p < end) {
        if (*p == '\\') {
            if (end - p < 2)
                return NULL;
            p += 2;
            continue;
        }
        if (*p == '"')
            return p + 1;
        p++;
    }
    return NULL;
}

const char *mqc_scan_skip(const char *p, const char *end)
{
    p = blanks(p, end);
    if (p >= end)
        return NULL;
    if (*p == '"')
        return skip_string(p + 1, end);
    if (*p != '{' && *p != '[') { /* number, true, false, null */
        const char *start = p;
        while (p < end && *p != ',' && *p != ']' && *p != '}' && *p != ' ' && *p != '\t' &&
               *p != '\n' && *p != '\r')
            p++;
        return p > start ? p : NULL;
    }
    char stack[MAX_DEPTH];
    int depth = 0;
    while (p < end) {
        char ch = *p++;
        if (ch == '"') {
            p = skip_string(p, end);
            if (!p)
                return NULL;
        } else if (ch == '{' || ch == '[') {
            if (depth == MAX_DEPTH)
                return NULL;
            stack[depth++] = ch == '{' ? '}' : ']';
        } else if (ch == '}' || ch == ']') {
            if (depth == 0 || stack[depth - 1] != ch)
                return NULL;
            if (--depth == 0)
                return p;
        }
    }
    return NULL;
}
