/* Push jobs, devices and the JSON bodies sent to APNs and FCM. Everything
 * read here came from Redis and, before that, from clients: ids, numbers
 * and UTF-8 are checked before anything is built from them, and a body that
 * would exceed the service's limit is shortened, never sent too large. */
#include "bridge/payload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/id.h"
#include "core/utf8.h"

/* Numbers are sent as JSON numbers: keep them exact in a double. */
#define MAX_EXACT 9007199254740991LL
/* The plugin keeps previews to 240 bytes; allow slack, refuse nonsense. */
#define MAX_PREVIEW 4096
#define MAX_TOKEN 4096
#define MAX_APP 255
#define ELLIPSIS "\xE2\x80\xA6" /* U+2026 HORIZONTAL ELLIPSIS */

/* Unsigned decimal, no sign or blanks, at most MAX_EXACT. */
static int parse_num(const char *s, int64_t *out)
{
    int64_t n = 0;
    if (!s || !*s)
        return MQC_EBADREQ;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return MQC_EBADREQ;
        if (n > (MAX_EXACT - (*p - '0')) / 10)
            return MQC_EBADREQ;
        n = n * 10 + (*p - '0');
    }
    *out = n;
    return MQC_OK;
}

static int dup_to(const char *s, char **out)
{
    *out = strdup(s);
    return *out ? MQC_OK : MQC_ENOMEM;
}

enum { F_USER, F_CONV, F_SEQ, F_KIND, F_FROM, F_BADGE, F_TS, F_PREVIEW, F_COUNT };
static const char *const field_names[F_COUNT] = {"user", "conv",  "seq", "kind",
                                                 "from", "badge", "ts",  "preview"};

int mqc_push_job_parse(const char *id, const char *const *fv, size_t nfv, struct mqc_push_job *out)
{
    const char *val[F_COUNT] = {0};
    memset(out, 0, sizeof *out);
    if (!mqc_id_valid_str(id) || (nfv % 2) != 0 || (nfv && !fv))
        return MQC_EBADREQ;
    for (size_t i = 0; i < nfv; i += 2) {
        if (!fv[i] || !fv[i + 1])
            return MQC_EBADREQ;
        for (int f = 0; f < F_COUNT; f++) {
            if (strcmp(fv[i], field_names[f]) == 0) {
                if (val[f])
                    return MQC_EBADREQ; /* given twice: which one is meant? */
                val[f] = fv[i + 1];
            }
        }
    }
    if (!mqc_id_valid_str(val[F_USER]) || !mqc_id_valid_str(val[F_CONV]) ||
        !mqc_id_valid_str(val[F_KIND]))
        return MQC_EBADREQ;
    if (val[F_FROM] && !mqc_id_valid_str(val[F_FROM]))
        return MQC_EBADREQ;
    int64_t seq, badge = -1, ts = 0;
    if (parse_num(val[F_SEQ], &seq) != MQC_OK)
        return MQC_EBADREQ;
    if (val[F_BADGE] && parse_num(val[F_BADGE], &badge) != MQC_OK)
        return MQC_EBADREQ;
    if (val[F_TS] && parse_num(val[F_TS], &ts) != MQC_OK)
        return MQC_EBADREQ;
    const char *pv = val[F_PREVIEW];
    if (pv && (strlen(pv) > MAX_PREVIEW || !mqc_utf8_valid(pv, strlen(pv))))
        return MQC_EBADREQ;

    int rc;
    if ((rc = dup_to(id, &out->id)) != MQC_OK || (rc = dup_to(val[F_USER], &out->user)) != MQC_OK ||
        (rc = dup_to(val[F_CONV], &out->conv)) != MQC_OK ||
        (rc = dup_to(val[F_KIND], &out->kind)) != MQC_OK ||
        (rc = dup_to(val[F_FROM] ? val[F_FROM] : "", &out->from)) != MQC_OK ||
        (pv && *pv && (rc = dup_to(pv, &out->preview)) != MQC_OK)) {
        mqc_push_job_cleanup(out);
        return rc;
    }
    out->seq = seq;
    out->badge = badge;
    out->ts = ts;
    return MQC_OK;
}

void mqc_push_job_cleanup(struct mqc_push_job *j)
{
    if (!j)
        return;
    free(j->id);
    free(j->user);
    free(j->conv);
    free(j->kind);
    free(j->from);
    free(j->preview);
    memset(j, 0, sizeof *j);
}

/* Push tokens as the plugin accepts them (core/id.h). */
static bool token_chars_valid(const char *t, size_t max)
{
    return mqc_push_token_valid(t, max);
}

int mqc_push_device_parse(const char *token, const char *value, struct mqc_push_device *out)
{
    memset(out, 0, sizeof *out);
    if (!token_chars_valid(token, MAX_TOKEN) || !value)
        return MQC_EBADREQ;
    const char *nl1 = strchr(value, '\n');
    const char *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
    if (!nl2)
        return MQC_EBADREQ;
    size_t plen = (size_t)(nl1 - value), alen = (size_t)(nl2 - nl1 - 1);
    const char *sb = nl2 + 1;
    bool apns = plen == 4 && memcmp(value, "apns", 4) == 0;
    bool fcm = plen == 3 && memcmp(value, "fcm", 3) == 0;
    if ((!apns && !fcm) || alen == 0 || alen > MAX_APP)
        return MQC_EBADREQ;
    if (strcmp(sb, "0") != 0 && strcmp(sb, "1") != 0)
        return MQC_EBADREQ;
    char *app = strndup(nl1 + 1, alen);
    if (!app)
        return MQC_ENOMEM;
    if (!token_chars_valid(app, MAX_APP)) {
        free(app);
        return MQC_EBADREQ;
    }
    out->app = app;
    out->sandbox = sb[0] == '1';
    if (dup_to(apns ? "apns" : "fcm", &out->platform) != MQC_OK ||
        dup_to(token, &out->token) != MQC_OK) {
        mqc_push_device_cleanup(out);
        return MQC_ENOMEM;
    }
    return MQC_OK;
}

void mqc_push_device_cleanup(struct mqc_push_device *d)
{
    if (!d)
        return;
    free(d->token);
    free(d->platform);
    free(d->app);
    memset(d, 0, sizeof *d);
}

const char *mqc_push_generic_body(const struct mqc_push_job *j)
{
    if (j->kind && strcmp(j->kind, "member") == 0)
        return "Conversation updated";
    return "New message";
}

/* A builder makes the whole body for job j, token (may be NULL) and alert
 * text body (all borrowed); returns cJSON text (cJSON_free) or NULL. */
typedef char *(*builder_fn)(const struct mqc_push_job *j, const char *token, const char *body);

static char *print_and_free(cJSON *root)
{
    char *s = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s;
}

static char *build_apns(const struct mqc_push_job *j, const char *token, const char *body)
{
    (void)token;
    cJSON *root = cJSON_CreateObject();
    cJSON *aps = cJSON_AddObjectToObject(root, "aps");
    cJSON *alert = cJSON_AddObjectToObject(aps, "alert");
    bool ok = root && aps && alert;
    if (ok && j->from && *j->from)
        ok = cJSON_AddStringToObject(alert, "title", j->from) != NULL;
    ok = ok && cJSON_AddStringToObject(alert, "body", body);
    if (ok && j->badge >= 0)
        ok = cJSON_AddNumberToObject(aps, "badge", (double)j->badge) != NULL;
    ok = ok && cJSON_AddStringToObject(aps, "sound", "default") &&
         cJSON_AddStringToObject(aps, "thread-id", j->conv) &&
         cJSON_AddStringToObject(root, "conv", j->conv) &&
         cJSON_AddNumberToObject(root, "seq", (double)j->seq);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return print_and_free(root);
}

static char *build_fcm(const struct mqc_push_job *j, const char *token, const char *body)
{
    char seq[24];
    snprintf(seq, sizeof seq, "%lld", (long long)j->seq);
    cJSON *root = cJSON_CreateObject();
    cJSON *msg = cJSON_AddObjectToObject(root, "message");
    bool ok = root && msg && cJSON_AddStringToObject(msg, "token", token);
    cJSON *notif = ok ? cJSON_AddObjectToObject(msg, "notification") : NULL;
    ok = notif != NULL;
    if (ok && j->from && *j->from)
        ok = cJSON_AddStringToObject(notif, "title", j->from) != NULL;
    ok = ok && cJSON_AddStringToObject(notif, "body", body);
    cJSON *data = ok ? cJSON_AddObjectToObject(msg, "data") : NULL;
    ok = data && cJSON_AddStringToObject(data, "conv", j->conv) &&
         cJSON_AddStringToObject(data, "seq", seq) &&
         cJSON_AddStringToObject(data, "kind", j->kind);
    cJSON *android = ok ? cJSON_AddObjectToObject(msg, "android") : NULL;
    ok = android && cJSON_AddStringToObject(android, "priority", "high") &&
         cJSON_AddStringToObject(android, "collapse_key", j->conv);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return print_and_free(root);
}

/* The body for text cut to keep bytes (on a character boundary) plus "…",
 * built into *json (cJSON text or NULL). Returns MQC_OK or MQC_ENOMEM. */
static int build_cut(builder_fn build, const struct mqc_push_job *j, const char *token,
                     const char *text, size_t keep, char **json)
{
    char *body = malloc(keep + sizeof ELLIPSIS);
    if (!body)
        return MQC_ENOMEM;
    memcpy(body, text, keep);
    memcpy(body + keep, ELLIPSIS, sizeof ELLIPSIS);
    *json = build(j, token, body);
    free(body);
    return *json ? MQC_OK : MQC_ENOMEM;
}

/* Build with the full text; if that is too long, find the longest prefix
 * of the text that fits with "…" by bisection (the JSON only grows with
 * the prefix, whatever escaping does), so about a dozen builds at most.
 * Returns malloc'd text or NULL. */
static char *build_fitting(builder_fn build, const struct mqc_push_job *j, const char *token,
                           size_t max_bytes)
{
    const char *text = j->preview ? j->preview : mqc_push_generic_body(j);
    size_t tlen = strlen(text);
    char *json = build(j, token, text);
    if (json && strlen(json) > max_bytes) {
        cJSON_free(json);
        json = NULL;
        char *best = NULL;
        /* Invariant: prefix lo fits (once best is set), prefix hi does not:
         * the whole text with "…" is longer than without. */
        size_t lo = 0, hi = tlen;
        if (build_cut(build, j, token, text, 0, &best) != MQC_OK)
            return NULL;
        if (strlen(best) > max_bytes) {
            cJSON_free(best);
            return NULL; /* even "…" alone does not fit */
        }
        while (hi - lo > 1) {
            size_t mid = mqc_utf8_prefix(text, tlen, lo + (hi - lo) / 2);
            if (mid <= lo) { /* no boundary strictly between lo and the middle */
                mid = lo + (hi - lo) / 2;
                while (mid < hi && ((unsigned char)text[mid] & 0xC0) == 0x80)
                    mid++;
                if (mid >= hi)
                    break;
            }
            char *cand = NULL;
            if (build_cut(build, j, token, text, mid, &cand) != MQC_OK) {
                cJSON_free(best);
                return NULL;
            }
            if (strlen(cand) <= max_bytes) {
                cJSON_free(best);
                best = cand;
                lo = mid;
            } else {
                cJSON_free(cand);
                hi = mid;
            }
        }
        json = best;
    }
    if (!json)
        return NULL;
    char *res = strdup(json); /* malloc'd for the caller's free() */
    cJSON_free(json);
    return res;
}

char *mqc_apns_payload(const struct mqc_push_job *j, size_t max_bytes)
{
    if (!j || !j->conv || !j->kind)
        return NULL;
    return build_fitting(build_apns, j, NULL, max_bytes);
}

char *mqc_fcm_payload(const struct mqc_push_job *j, const char *token, size_t max_bytes)
{
    if (!j || !j->conv || !j->kind || !token)
        return NULL;
    return build_fitting(build_fcm, j, token, max_bytes);
}
