/* Unit tests for bridge/payload.h: push jobs from stream fields (required
 * fields, ids, numbers, UTF-8, duplicates, extra fields), devices from the
 * plugin's hash values, and the APNs and FCM bodies: exact text for small
 * jobs, and shortening that never exceeds the limit, cuts on a UTF-8
 * boundary, ends in an ellipsis and survives JSON escaping. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bridge/payload.h"
#include "core/err.h"
#include "core/utf8.h"
#include "tests/unit/test.h"

#define NFV(a) (sizeof(a) / sizeof((a)[0]))
#define ELLIPSIS "\xE2\x80\xA6"

TEST(job_parse_full)
{
    const char *fv[] = {"user", "bob",           "conv",    "g-3f6a",       "seq",     "42",
                        "kind", "msg",           "from",    "alice",        "badge",   "7",
                        "ts",   "1764294000123", "preview", "h\xC3\xA9llo", "attempt", "3"};
    struct mqc_push_job j;
    if (!CHECK_EQ_INT(mqc_push_job_parse("1764294000123-0", fv, NFV(fv), &j), MQC_OK))
        return;
    CHECK_STR(j.id, "1764294000123-0");
    CHECK_STR(j.user, "bob");
    CHECK_STR(j.conv, "g-3f6a");
    CHECK_STR(j.kind, "msg");
    CHECK_STR(j.from, "alice");
    CHECK_STR(j.preview, "h\xC3\xA9llo");
    CHECK_EQ_INT(j.seq, 42);
    CHECK_EQ_INT(j.badge, 7);
    CHECK_EQ_INT(j.ts, 1764294000123LL);
    mqc_push_job_cleanup(&j);
    CHECK(j.user == NULL && j.preview == NULL);
    mqc_push_job_cleanup(&j);
    mqc_push_job_cleanup(NULL);
}

TEST(job_parse_minimal)
{
    const char *fv[] = {"kind", "member", "seq", "0", "conv", "c1", "user", "u1", "preview", ""};
    struct mqc_push_job j;
    if (!CHECK_EQ_INT(mqc_push_job_parse("1-1", fv, NFV(fv), &j), MQC_OK))
        return;
    CHECK_STR(j.from, "");
    CHECK(j.preview == NULL); /* empty preview = none */
    CHECK_EQ_INT(j.badge, -1);
    CHECK_EQ_INT(j.ts, 0);
    CHECK_EQ_INT(j.seq, 0);
    CHECK_STR(mqc_push_generic_body(&j), "Conversation updated");
    mqc_push_job_cleanup(&j);
}

/* Parse the base job with field `field` replaced by value (NULL = left
 * out); returns the result. */
static int parse_with(const char *field, const char *value)
{
    const char *base[] = {"user", "bob", "conv",  "c1", "seq", "5", "kind",    "msg",
                          "from", "al",  "badge", "1",  "ts",  "2", "preview", "p"};
    const char *fv[NFV(base)];
    size_t n = 0;
    for (size_t i = 0; i < NFV(base); i += 2) {
        if (strcmp(base[i], field) == 0) {
            if (!value)
                continue;
            fv[n++] = base[i];
            fv[n++] = value;
        } else {
            fv[n++] = base[i];
            fv[n++] = base[i + 1];
        }
    }
    struct mqc_push_job j;
    int rc = mqc_push_job_parse("1-0", fv, n, &j);
    if (rc == MQC_OK)
        mqc_push_job_cleanup(&j);
    else
        CHECK(j.user == NULL && j.id == NULL); /* nothing left to clean */
    return rc;
}

TEST(job_parse_refuses)
{
    CHECK_EQ_INT(parse_with("nothing", NULL), MQC_OK); /* the baseline parses */
    CHECK_EQ_INT(parse_with("user", NULL), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("conv", NULL), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("seq", NULL), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("kind", NULL), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("from", NULL), MQC_OK);
    CHECK_EQ_INT(parse_with("badge", NULL), MQC_OK);
    CHECK_EQ_INT(parse_with("ts", NULL), MQC_OK);
    CHECK_EQ_INT(parse_with("preview", NULL), MQC_OK);

    CHECK_EQ_INT(parse_with("user", "a/b"), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("user", ""), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("conv", "c+"), MQC_EBADREQ);
    CHECK_EQ_INT(
        parse_with("conv", "c1234567890123456789012345678901234567890123456789012345678901234"),
        MQC_EBADREQ); /* 65 characters */
    CHECK_EQ_INT(parse_with("from", "al ice"), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("kind", "m#"), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("seq", "-1"), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("seq", "+1"), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("seq", "1.5"), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("seq", ""), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("seq", " 1"), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("seq", "9007199254740991"), MQC_OK);
    CHECK_EQ_INT(parse_with("seq", "9007199254740992"), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("seq", "99999999999999999999999"), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("badge", "x"), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("ts", "1e3"), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("preview", "bad \xC3("), MQC_EBADREQ);
    CHECK_EQ_INT(parse_with("preview", "\xED\xA0\x80"), MQC_EBADREQ); /* surrogate */

    struct mqc_push_job j;
    const char *dup[] = {"user", "a", "conv", "c", "seq", "1", "kind", "msg", "user", "b"};
    CHECK_EQ_INT(mqc_push_job_parse("1-0", dup, NFV(dup), &j), MQC_EBADREQ);
    const char *odd[] = {"user", "a", "conv", "c", "seq", "1", "kind", "msg", "from"};
    CHECK_EQ_INT(mqc_push_job_parse("1-0", odd, NFV(odd), &j), MQC_EBADREQ);
    const char *ok[] = {"user", "a", "conv", "c", "seq", "1", "kind", "msg"};
    CHECK_EQ_INT(mqc_push_job_parse("", ok, NFV(ok), &j), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_push_job_parse(NULL, ok, NFV(ok), &j), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_push_job_parse("1-0", NULL, 0, &j), MQC_EBADREQ);
    const char *nul[] = {"user", NULL, "conv", "c", "seq", "1", "kind", "msg"};
    CHECK_EQ_INT(mqc_push_job_parse("1-0", nul, NFV(nul), &j), MQC_EBADREQ);
}

TEST(device_parse)
{
    struct mqc_push_device d;
    if (CHECK_EQ_INT(mqc_push_device_parse("a1b2c3", "apns\ncom.example.chat\n1", &d), MQC_OK)) {
        CHECK_STR(d.token, "a1b2c3");
        CHECK_STR(d.platform, "apns");
        CHECK_STR(d.app, "com.example.chat");
        CHECK(d.sandbox);
        mqc_push_device_cleanup(&d);
        CHECK(d.token == NULL);
    }
    if (CHECK_EQ_INT(mqc_push_device_parse("fcm:tok_1-x.y", "fcm\nmy-project\n0", &d), MQC_OK)) {
        CHECK_STR(d.platform, "fcm");
        CHECK_STR(d.app, "my-project");
        CHECK(!d.sandbox);
        mqc_push_device_cleanup(&d);
    }
    mqc_push_device_cleanup(NULL);
    static const char *const bad_values[] = {
        "apns\ncom.x",
        "apns\ncom.x\n",
        "apns\ncom.x\n2",
        "apns\ncom.x\n1\n",
        "web\ncom.x\n0",
        "APNS\ncom.x\n0",
        "apns\n\n0",
        "apns\ncom x\n0",
        "",
        "\n\n",
        "apns\ncom.x\n01",
        "fcm\nproj/1\n0",
    };
    for (size_t i = 0; i < NFV(bad_values); i++) {
        if (!CHECK_EQ_INT(mqc_push_device_parse("tok", bad_values[i], &d), MQC_EBADREQ))
            fprintf(stderr, "  value #%zu\n", i);
        CHECK(d.token == NULL && d.app == NULL);
    }
    CHECK_EQ_INT(mqc_push_device_parse("", "apns\ncom.x\n0", &d), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_push_device_parse("to/ken", "apns\ncom.x\n0", &d), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_push_device_parse(NULL, "apns\ncom.x\n0", &d), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_push_device_parse("tok", NULL, &d), MQC_EBADREQ);
}

static struct mqc_push_job job(char *preview)
{
    struct mqc_push_job j = {.id = "1-0",
                             .user = "bob",
                             .conv = "g-1",
                             .kind = "msg",
                             .from = "alice",
                             .preview = preview,
                             .seq = 42,
                             .badge = 7,
                             .ts = 1};
    return j;
}

TEST(apns_small)
{
    struct mqc_push_job j = job("hello");
    char *p = mqc_apns_payload(&j, MQC_PUSH_PAYLOAD_MAX);
    CHECK_STR(p, "{\"aps\":{\"alert\":{\"title\":\"alice\",\"body\":\"hello\"},\"badge\":7,"
                 "\"sound\":\"default\",\"thread-id\":\"g-1\"},\"conv\":\"g-1\",\"seq\":42}");
    free(p);
    j.preview = NULL;
    j.badge = -1;
    j.from = "";
    p = mqc_apns_payload(&j, MQC_PUSH_PAYLOAD_MAX);
    CHECK_STR(p, "{\"aps\":{\"alert\":{\"body\":\"New message\"},\"sound\":\"default\","
                 "\"thread-id\":\"g-1\"},\"conv\":\"g-1\",\"seq\":42}");
    free(p);
    j.kind = "member";
    j.badge = 0;
    p = mqc_apns_payload(&j, MQC_PUSH_PAYLOAD_MAX);
    CHECK(test_contains(p, "\"body\":\"Conversation updated\""));
    CHECK(test_contains(p, "\"badge\":0"));
    free(p);
}

TEST(fcm_small)
{
    struct mqc_push_job j = job("hi \"you\"\n");
    char *p = mqc_fcm_payload(&j, "tok:1", MQC_PUSH_PAYLOAD_MAX);
    CHECK_STR(p,
              "{\"message\":{\"token\":\"tok:1\",\"notification\":{\"title\":\"alice\","
              "\"body\":\"hi \\\"you\\\"\\n\"},\"data\":{\"conv\":\"g-1\",\"seq\":\"42\","
              "\"kind\":\"msg\"},\"android\":{\"priority\":\"high\",\"collapse_key\":\"g-1\"}}}");
    free(p);
    j.preview = NULL;
    p = mqc_fcm_payload(&j, "tok:1", MQC_PUSH_PAYLOAD_MAX);
    CHECK(test_contains(p, "\"body\":\"New message\""));
    free(p);
}

/* The alert body of a payload (apns: aps.alert.body, fcm:
 * message.notification.body), returned owned. */
static char *body_of(const char *json, bool fcm)
{
    cJSON *root = cJSON_Parse(json);
    const cJSON *o = fcm ? cJSON_GetObjectItem(cJSON_GetObjectItem(root, "message"), "notification")
                         : cJSON_GetObjectItem(cJSON_GetObjectItem(root, "aps"), "alert");
    const char *b = cJSON_GetStringValue(cJSON_GetObjectItem(o, "body"));
    char *res = b ? strdup(b) : NULL;
    cJSON_Delete(root);
    return res;
}

/* Check a shortened payload p for preview within max: valid JSON, within
 * the limit, body = a prefix of preview on a character boundary + "…". */
static bool check_shortened(const char *p, const char *preview, size_t max, bool fcm)
{
    if (!CHECK(p != NULL))
        return false;
    bool ok = CHECK(strlen(p) <= max);
    char *b = body_of(p, fcm);
    if (!CHECK(b != NULL))
        return false;
    size_t bl = strlen(b), el = strlen(ELLIPSIS);
    ok = CHECK(bl >= el && strcmp(b + bl - el, ELLIPSIS) == 0) && ok;
    ok = CHECK(mqc_utf8_valid(b, bl)) && ok;
    ok = CHECK(bl >= el && bl - el < strlen(preview) && memcmp(b, preview, bl - el) == 0) && ok;
    free(b);
    return ok;
}

TEST(shortening)
{
    /* a mix of 1-4 byte characters and characters JSON escapes (up to 6x) */
    static const char unit[] = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"\\\x01\n";
    size_t ulen = strlen(unit);
    size_t n = 1200 * ulen;
    char *big = malloc(n + 1);
    if (!CHECK(big != NULL))
        return;
    for (size_t i = 0; i < 1200; i++)
        memcpy(big + i * ulen, unit, ulen);
    big[n] = '\0';
    struct mqc_push_job j = job(big);

    char *p = mqc_apns_payload(&j, MQC_PUSH_PAYLOAD_MAX);
    check_shortened(p, big, MQC_PUSH_PAYLOAD_MAX, false);
    CHECK(p && strlen(p) > MQC_PUSH_PAYLOAD_MAX - 8); /* as long as fits, give or take one escape */
    free(p);
    char *token = malloc(3001);
    if (CHECK(token != NULL)) {
        memset(token, 'T', 3000);
        token[3000] = '\0';
        p = mqc_fcm_payload(&j, token, MQC_PUSH_PAYLOAD_MAX);
        check_shortened(p, big, MQC_PUSH_PAYLOAD_MAX, true);
        CHECK(test_contains(p, token));
        free(p);
    }

    /* every limit in a range, so every cut position and escape is met */
    int bad = 0;
    for (size_t max = 200; max < 420; max++) {
        char *a = mqc_apns_payload(&j, max);
        char *f = mqc_fcm_payload(&j, "tok", max);
        if (!a || !f || strlen(a) > max || strlen(f) > max)
            bad++;
        else if (!check_shortened(a, big, max, false) || !check_shortened(f, big, max, true))
            bad++;
        free(a);
        free(f);
    }
    CHECK_EQ_INT(bad, 0);

    /* exactly at the limit: not shortened */
    j.preview = "hello";
    p = mqc_apns_payload(&j, 4096);
    size_t exact = p ? strlen(p) : 0;
    free(p);
    p = mqc_apns_payload(&j, exact);
    CHECK(test_contains(p, "\"body\":\"hello\""));
    free(p);
    p = mqc_apns_payload(&j, exact - 1);
    if (CHECK(p != NULL)) {
        CHECK(strlen(p) <= exact - 1);
        CHECK(test_contains(p, "\"body\":\"h" ELLIPSIS
                               "\"")); /* "hel…" would be 1 byte longer than "hello" */
    }
    free(p);

    /* no room even for "…": NULL, never an over-long body */
    CHECK(mqc_apns_payload(&j, 60) == NULL);
    CHECK(mqc_fcm_payload(&j, token ? token : "t", MQC_PUSH_PAYLOAD_MAX / 2) == NULL);
    free(token);
    free(big);
}

int main(void)
{
    RUN(job_parse_full);
    RUN(job_parse_minimal);
    RUN(job_parse_refuses);
    RUN(device_parse);
    RUN(apns_small);
    RUN(fcm_small);
    RUN(shortening);
    return test_finish();
}
