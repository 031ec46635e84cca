/* Payload checks and the send / receipt / typing parsers. */
#include "core/envelope.h"

#include <math.h>
#include <string.h>

#include "core/err.h"
#include "core/utf8.h"

/* Does the raw JSON text contain the escape \u0000 (any hex case)? cJSON
 * would silently cut strings there, changing ids and bodies. */
static bool has_escaped_nul(const char *s, size_t len)
{
    for (size_t i = 0; i + 6 <= len; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' &&
            s[i + 5] == '0')
            return true;
        i++; /* skip the escaped character, so "\\u0000" is not matched */
    }
    return false;
}

int mqc_envelope_parse(const void *payload, size_t len, size_t max, cJSON **root)
{
    *root = NULL;
    if (len > max)
        return MQC_ETOOLARGE;
    /* A NUL byte is never valid JSON, and cJSON would cut strings at it, as it
     * would at an escaped one: either could silently change an id or a body. */
    if (!payload || len == 0 || memchr(payload, 0, len) || !mqc_utf8_valid(payload, len) ||
        has_escaped_nul(payload, len))
        return MQC_EBADREQ;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(payload, len, &end, false);
    if (!j)
        return MQC_EBADREQ;
    /* Only white space may follow the object. */
    for (const char *p = end; p && p < (const char *)payload + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            cJSON_Delete(j);
            return MQC_EBADREQ;
        }
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return MQC_EBADREQ;
    }
    *root = j;
    return MQC_OK;
}

const char *mqc_envelope_ref(const cJSON *root, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsString(v) || !v->valuestring)
        return NULL;
    size_t len = strlen(v->valuestring);
    size_t chars = mqc_utf8_count(v->valuestring, len);
    return (chars >= 1 && chars <= MQC_REF_MAX) ? v->valuestring : NULL;
}

int mqc_envelope_int(const cJSON *root, const char *key, int64_t min, int64_t max, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v)
        return MQC_ENOTFOUND;
    if (!cJSON_IsNumber(v))
        return MQC_EBADREQ;
    double d = v->valuedouble;
    /* 2^63 and beyond do not fit an int64_t ((double)INT64_MAX rounds up to
     * 2^63), so compare in range before converting. */
    if (!isfinite(d) || d != floor(d) || d < -0x1p63 || d >= 0x1p63)
        return MQC_EBADREQ;
    int64_t n = (int64_t)d;
    if (n < min || n > max)
        return MQC_EBADREQ;
    *out = n;
    return MQC_OK;
}

int mqc_send_parse(const cJSON *root, struct mqc_send *out, const char **why)
{
    memset(out, 0, sizeof *out);
    out->id = mqc_envelope_ref(root, "id");
    if (!out->id) {
        *why = "id must be a string of 1-64 characters";
        return MQC_EBADREQ;
    }
    out->body = cJSON_GetObjectItemCaseSensitive(root, "body");
    if (!cJSON_IsString(out->body)) {
        *why = "body must be a string";
        return MQC_EBADREQ;
    }
    out->attrs = cJSON_GetObjectItemCaseSensitive(root, "attrs");
    if (out->attrs && cJSON_IsNull(out->attrs))
        out->attrs = NULL;
    if (out->attrs && !cJSON_IsObject(out->attrs)) {
        *why = "attrs must be an object";
        return MQC_EBADREQ;
    }
    return MQC_OK;
}

int mqc_receipt_parse(const cJSON *root, struct mqc_receipt *out, const char **why)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (cJSON_IsString(t) && strcmp(t->valuestring, "delivered") == 0)
        out->type = MQC_RECEIPT_DELIVERED;
    else if (cJSON_IsString(t) && strcmp(t->valuestring, "read") == 0)
        out->type = MQC_RECEIPT_READ;
    else {
        *why = "type must be \"delivered\" or \"read\"";
        return MQC_EBADREQ;
    }
    if (mqc_envelope_int(root, "seq", 0, MQC_SEQ_MAX, &out->seq) != MQC_OK) {
        *why = "seq must be a whole number >= 0";
        return MQC_EBADREQ;
    }
    return MQC_OK;
}

const char *mqc_receipt_type_name(enum mqc_receipt_type t)
{
    return t == MQC_RECEIPT_READ ? "read" : "delivered";
}

int mqc_typing_parse(const cJSON *root, struct mqc_typing *out, const char **why)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "state");
    if (cJSON_IsString(s) && strcmp(s->valuestring, "composing") == 0)
        out->composing = true;
    else if (cJSON_IsString(s) && strcmp(s->valuestring, "paused") == 0)
        out->composing = false;
    else {
        *why = "state must be \"composing\" or \"paused\"";
        return MQC_EBADREQ;
    }
    return MQC_OK;
}
