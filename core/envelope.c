/* Payload checks and the send / receipt / typing parsers. */
#include "core/envelope.h"

#include <math.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/utf8.h"

/* Replace a top-level "attrs" object in root with a cJSON_Raw node holding
 * its text as the client wrote it (minified): cJSON keeps numbers as
 * doubles and re-prints them (9007199254740993 -> 9007199254740992, 1e400
 * -> null), while attrs must be delivered unchanged. */
static int keep_attrs_text(cJSON *root, const char *text, size_t off, size_t len)
{
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(root, "attrs");
    if (!cJSON_IsObject(attrs))
        return MQC_OK; /* absent, null, or refused later by mqc_send_parse */
    cJSON *raw = cJSON_CreateRaw("");
    char *buf = raw ? cJSON_malloc(len + 1) : NULL;
    if (!buf) {
        cJSON_Delete(raw);
        return MQC_ENOMEM;
    }
    buf[mqc_json_minify(text + off, len, buf)] = '\0';
    cJSON_free(raw->valuestring);
    raw->valuestring = buf;
    if (!cJSON_ReplaceItemInObjectCaseSensitive(root, "attrs", raw)) {
        cJSON_Delete(raw);
        return MQC_ENOMEM;
    }
    return MQC_OK;
}

int mqc_envelope_parse(const void *payload, size_t len, size_t max, cJSON **root, const char **why)
{
    const char *unused;
    if (!why)
        why = &unused;
    *root = NULL;
    *why = NULL;
    if (len > max) {
        *why = "payload larger than max_message_bytes";
        return MQC_ETOOLARGE;
    }
    /* The strict scan first: cJSON alone would take duplicate keys (keeping
     * the first), cut strings at an escaped NUL, and take what another
     * parser refuses, so two readers could see two different messages. */
    struct mqc_json_scan sc = {.max_depth = MQC_ENVELOPE_DEPTH_MAX, .member = "attrs"};
    int rc = mqc_json_scan(payload, len, &sc);
    if (rc != MQC_OK) {
        *why = rc == MQC_EBADREQ ? sc.why : NULL;
        return rc;
    }
    if (sc.type != MQC_JSON_OBJECT) {
        *why = "payload must be a JSON object";
        return MQC_EBADREQ;
    }
    cJSON *j = cJSON_ParseWithLength(payload, len);
    if (!j || !cJSON_IsObject(j)) {
        /* Not expected after the scan; cJSON may only be out of memory. */
        cJSON_Delete(j);
        *why = "payload must be a JSON object";
        return MQC_EBADREQ;
    }
    if (sc.member_len && keep_attrs_text(j, payload, sc.member_off, sc.member_len) != MQC_OK) {
        cJSON_Delete(j);
        return MQC_ENOMEM;
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
    /* mqc_envelope_parse turned an attrs object into its text (a raw node). */
    if (out->attrs && !(cJSON_IsRaw(out->attrs) && out->attrs->valuestring[0] == '{')) {
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
