/* Reading APNs and FCM answers into outcomes, and retry timing. The
 * services' documented errors decide; anything unknown is a 5xx (retry) or a
 * final failure, never a dead token: a token is removed only when the
 * service says so. Bodies come from the network: parsed with a size limit,
 * reasons copied as printable ASCII only (they end up in logs and Redis). */
#include "bridge/outcome.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

/* Error bodies are small; do not parse anything big. */
#define MAX_BODY 65536
#define MAX_WAIT_MS (86400LL * 1000)

/* Copy src (borrowed, may be NULL) to reason as printable ASCII. */
static void set_reason(char *reason, size_t reason_len, const char *src)
{
    if (!reason || reason_len == 0)
        return;
    size_t o = 0;
    for (const char *p = src ? src : ""; *p && o + 1 < reason_len; p++)
        reason[o++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
    reason[o] = '\0';
}

static void set_reason_status(char *reason, size_t reason_len, long status)
{
    char buf[32];
    if (status == 0)
        snprintf(buf, sizeof buf, "transport");
    else
        snprintf(buf, sizeof buf, "HTTP %ld", status);
    set_reason(reason, reason_len, buf);
}

static cJSON *parse_body(const char *body)
{
    if (!body)
        return NULL;
    size_t n = strnlen(body, MAX_BODY + 1);
    if (n == 0 || n > MAX_BODY)
        return NULL;
    return cJSON_ParseWithLength(body, n);
}

/* A string member of obj (borrowed), or NULL. */
static const char *get_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool retryable_status(long status)
{
    return status == 0 || status == 429 || (status >= 500 && status <= 599);
}

enum mqc_push_outcome mqc_apns_outcome(long status, const char *body, char *reason,
                                       size_t reason_len)
{
    cJSON *root = parse_body(body);
    const char *why = get_str(root, "reason");
    enum mqc_push_outcome o;

    if (status == 200)
        o = MQC_PUSH_SENT;
    else if (status == 410 || eq(why, "Unregistered") || eq(why, "DeviceTokenNotForTopic"))
        o = MQC_PUSH_DEAD_TOKEN;
    else if (eq(why, "BadDeviceToken"))
        o = MQC_PUSH_BAD_TOKEN;
    else if (status == 403 && (eq(why, "ExpiredProviderToken") || eq(why, "InvalidProviderToken") ||
                               eq(why, "MissingProviderToken")))
        o = MQC_PUSH_REFRESH_AUTH;
    else if (retryable_status(status))
        o = MQC_PUSH_RETRY;
    else
        o = MQC_PUSH_FAILED; /* 400 others, 403 others, 404, 405, 413, ... */

    if (status == 200)
        set_reason(reason, reason_len, "");
    else if (why && *why)
        set_reason(reason, reason_len, why);
    else
        set_reason_status(reason, reason_len, status);
    cJSON_Delete(root);
    return o;
}

/* ASCII case-insensitive: does hay contain needle? */
static bool contains_nocase(const char *hay, const char *needle)
{
    if (!hay)
        return false;
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < n && p[i]) {
            char a = p[i], b = needle[i];
            if (a >= 'A' && a <= 'Z')
                a = (char)(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z')
                b = (char)(b - 'A' + 'a');
            if (a != b)
                break;
            i++;
        }
        if (i == n)
            return true;
    }
    return false;
}

enum mqc_push_outcome mqc_fcm_outcome(long status, const char *body, char *reason,
                                      size_t reason_len)
{
    cJSON *root = parse_body(body);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    const char *st = get_str(err, "status");
    const char *msg = get_str(err, "message");
    const char *code = NULL;
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(err, "details"))
    {
        if ((code = get_str(d, "errorCode")) != NULL)
            break;
    }
    enum mqc_push_outcome o;

    if (status == 200)
        o = MQC_PUSH_SENT;
    else if (status == 404 || eq(code, "UNREGISTERED"))
        o = MQC_PUSH_DEAD_TOKEN;
    else if (status == 400 && (eq(code, "INVALID_ARGUMENT") || eq(st, "INVALID_ARGUMENT")) &&
             contains_nocase(msg, "registration token"))
        o = MQC_PUSH_DEAD_TOKEN;
    else if (status == 401 && !eq(code, "THIRD_PARTY_AUTH_ERROR"))
        o = MQC_PUSH_REFRESH_AUTH; /* the access token; an APNs credential
                                      problem behind FCM is not fixed by that */
    else if (retryable_status(status))
        o = MQC_PUSH_RETRY;
    else
        o = MQC_PUSH_FAILED; /* other 400, 401 third-party, 403 SENDER_ID_MISMATCH, ... */

    if (status == 200)
        set_reason(reason, reason_len, "");
    else if (code && *code)
        set_reason(reason, reason_len, code);
    else if (st && *st)
        set_reason(reason, reason_len, st);
    else
        set_reason_status(reason, reason_len, status);
    cJSON_Delete(root);
    return o;
}

int64_t mqc_retry_after_ms(const char *value, int64_t now_ms)
{
    if (!value)
        return -1;
    char buf[128];
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(value);
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t' || value[n - 1] == '\r' ||
                     value[n - 1] == '\n'))
        n--;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, value, n);
    buf[n] = '\0';

    bool digits = true, letter = false;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            digits = false;
        if ((buf[i] >= 'A' && buf[i] <= 'Z') || (buf[i] >= 'a' && buf[i] <= 'z'))
            letter = true;
    }
    if (digits) {
        int64_t secs = 0;
        for (size_t i = 0; i < n && secs <= MAX_WAIT_MS / 1000; i++)
            secs = secs * 10 + (buf[i] - '0');
        int64_t ms = secs * 1000;
        return ms > MAX_WAIT_MS ? MAX_WAIT_MS : ms;
    }
    /* Every HTTP-date form names a day and a month; a bare number with a
     * dot or a sign is not a date, whatever curl_getdate() makes of it. */
    if (!letter)
        return -1;
    time_t t = curl_getdate(buf, NULL);
    if (t == (time_t)-1)
        return -1;
    int64_t wait = (int64_t)t * 1000 - now_ms;
    if (wait < 0)
        return 0;
    return wait > MAX_WAIT_MS ? MAX_WAIT_MS : wait;
}

int64_t mqc_backoff_ms(int attempt, uint32_t rnd)
{
    int64_t ceiling = MQC_BACKOFF_MAX_MS;
    if (attempt < 1)
        attempt = 1;
    if (attempt <= 20) {
        ceiling = (int64_t)MQC_BACKOFF_BASE_MS << (attempt - 1);
        if (ceiling > MQC_BACKOFF_MAX_MS)
            ceiling = MQC_BACKOFF_MAX_MS;
    }
    /* rnd scaled onto [0, ceiling] without modulo bias. */
    return (int64_t)(((uint64_t)rnd * (uint64_t)(ceiling + 1)) >> 32);
}

const char *mqc_push_outcome_name(enum mqc_push_outcome o)
{
    switch (o) {
    case MQC_PUSH_SENT:
        return "sent";
    case MQC_PUSH_RETRY:
        return "retry";
    case MQC_PUSH_DEAD_TOKEN:
        return "dead_token";
    case MQC_PUSH_BAD_TOKEN:
        return "bad_token";
    case MQC_PUSH_REFRESH_AUTH:
        return "refresh_auth";
    case MQC_PUSH_FAILED:
        return "failed";
    }
    return "unknown";
}
