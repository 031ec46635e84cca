/* Unit tests for bridge/outcome.h: APNs and FCM answers (statuses, reasons,
 * error bodies, transport errors, garbage bodies) mapped to outcomes with
 * their reasons, Retry-After in both forms, the backoff bounds and jitter,
 * and outcome names. */
#include <stdint.h>
#include <string.h>

#include "bridge/outcome.h"
#include "tests/unit/test.h"

struct row {
    long status;
    const char *body;
    enum mqc_push_outcome want;
    const char *reason;
};

static const struct row apns_rows[] = {
    {200, "", MQC_PUSH_SENT, ""},
    {200, NULL, MQC_PUSH_SENT, ""},
    {410, "{\"reason\":\"Unregistered\",\"timestamp\":1764294000000}", MQC_PUSH_DEAD_TOKEN,
     "Unregistered"},
    {410, NULL, MQC_PUSH_DEAD_TOKEN, "HTTP 410"},
    {400, "{\"reason\":\"Unregistered\"}", MQC_PUSH_DEAD_TOKEN, "Unregistered"},
    {400, "{\"reason\":\"DeviceTokenNotForTopic\"}", MQC_PUSH_DEAD_TOKEN, "DeviceTokenNotForTopic"},
    {400, "{\"reason\":\"BadDeviceToken\"}", MQC_PUSH_BAD_TOKEN, "BadDeviceToken"},
    {403, "{\"reason\":\"ExpiredProviderToken\"}", MQC_PUSH_REFRESH_AUTH, "ExpiredProviderToken"},
    {403, "{\"reason\":\"InvalidProviderToken\"}", MQC_PUSH_REFRESH_AUTH, "InvalidProviderToken"},
    {403, "{\"reason\":\"Forbidden\"}", MQC_PUSH_FAILED, "Forbidden"},
    {403, NULL, MQC_PUSH_FAILED, "HTTP 403"},
    {429, "{\"reason\":\"TooManyRequests\"}", MQC_PUSH_RETRY, "TooManyRequests"},
    {429, "{\"reason\":\"TooManyProviderTokenUpdates\"}", MQC_PUSH_RETRY,
     "TooManyProviderTokenUpdates"},
    {500, "{\"reason\":\"InternalServerError\"}", MQC_PUSH_RETRY, "InternalServerError"},
    {503, "{\"reason\":\"ServiceUnavailable\"}", MQC_PUSH_RETRY, "ServiceUnavailable"},
    {503, "{\"reason\":\"Shutdown\"}", MQC_PUSH_RETRY, "Shutdown"},
    {502, "<html>bad gateway</html>", MQC_PUSH_RETRY, "HTTP 502"},
    {0, NULL, MQC_PUSH_RETRY, "transport"},
    {413, "{\"reason\":\"PayloadTooLarge\"}", MQC_PUSH_FAILED, "PayloadTooLarge"},
    {400, "{\"reason\":\"BadCollapseId\"}", MQC_PUSH_FAILED, "BadCollapseId"},
    {400, "{\"reason\":\"MissingTopic\"}", MQC_PUSH_FAILED, "MissingTopic"},
    {405, "{\"reason\":\"MethodNotAllowed\"}", MQC_PUSH_FAILED, "MethodNotAllowed"},
    {404, "{\"reason\":\"BadPath\"}", MQC_PUSH_FAILED, "BadPath"},
    {400, "not json", MQC_PUSH_FAILED, "HTTP 400"},
    {400, "{\"reason\":42}", MQC_PUSH_FAILED, "HTTP 400"},
    {400, "{\"reason\":\"Bad\\nThing\\u00e9\"}", MQC_PUSH_FAILED, "Bad?Thing??"},
};

static const char fcm_unreg[] =
    "{\"error\":{\"code\":404,\"message\":\"Requested entity was not found.\",\"status\":"
    "\"NOT_FOUND\",\"details\":[{\"@type\":\"type.googleapis.com/google.firebase.fcm.v1."
    "FcmError\",\"errorCode\":\"UNREGISTERED\"}]}}";
static const char fcm_badtoken[] =
    "{\"error\":{\"code\":400,\"message\":\"The registration token is not a valid FCM "
    "registration token\",\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"@type\":\"type."
    "googleapis.com/google.firebase.fcm.v1.FcmError\",\"errorCode\":\"INVALID_ARGUMENT\"}]}}";
static const char fcm_badarg[] =
    "{\"error\":{\"code\":400,\"message\":\"Invalid JSON payload received. Unknown name "
    "\\\"foo\\\"\",\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"@type\":\"type.googleapis."
    "com/google.rpc.BadRequest\"}]}}";

static const struct row fcm_rows[] = {
    {200, "{\"name\":\"projects/p/messages/1\"}", MQC_PUSH_SENT, ""},
    {404, fcm_unreg, MQC_PUSH_DEAD_TOKEN, "UNREGISTERED"},
    {404, NULL, MQC_PUSH_DEAD_TOKEN, "HTTP 404"},
    {400, "{\"error\":{\"status\":\"NOT_FOUND\",\"details\":[{\"errorCode\":\"UNREGISTERED\"}]}}",
     MQC_PUSH_DEAD_TOKEN, "UNREGISTERED"},
    {400, fcm_badtoken, MQC_PUSH_DEAD_TOKEN, "INVALID_ARGUMENT"},
    {400, fcm_badarg, MQC_PUSH_FAILED, "INVALID_ARGUMENT"},
    {400, NULL, MQC_PUSH_FAILED, "HTTP 400"},
    {401, "{\"error\":{\"code\":401,\"status\":\"UNAUTHENTICATED\"}}", MQC_PUSH_REFRESH_AUTH,
     "UNAUTHENTICATED"},
    {401,
     "{\"error\":{\"status\":\"UNAUTHENTICATED\",\"details\":[{\"errorCode\":"
     "\"THIRD_PARTY_AUTH_ERROR\"}]}}",
     MQC_PUSH_FAILED, "THIRD_PARTY_AUTH_ERROR"},
    {403,
     "{\"error\":{\"status\":\"PERMISSION_DENIED\",\"details\":[{\"@type\":\"x\"},"
     "{\"errorCode\":\"SENDER_ID_MISMATCH\"}]}}",
     MQC_PUSH_FAILED, "SENDER_ID_MISMATCH"},
    {429,
     "{\"error\":{\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"errorCode\":"
     "\"QUOTA_EXCEEDED\"}]}}",
     MQC_PUSH_RETRY, "QUOTA_EXCEEDED"},
    {500, "{\"error\":{\"status\":\"INTERNAL\"}}", MQC_PUSH_RETRY, "INTERNAL"},
    {503, "{\"error\":{\"status\":\"UNAVAILABLE\",\"details\":[{\"errorCode\":\"UNAVAILABLE\"}]}}",
     MQC_PUSH_RETRY, "UNAVAILABLE"},
    {0, "", MQC_PUSH_RETRY, "transport"},
    {418, "{\"error\":[]}", MQC_PUSH_FAILED, "HTTP 418"},
};

static void run_rows(const struct row *rows, size_t n, bool fcm)
{
    for (size_t i = 0; i < n; i++) {
        char reason[64] = "junk";
        enum mqc_push_outcome o =
            fcm ? mqc_fcm_outcome(rows[i].status, rows[i].body, reason, sizeof reason)
                : mqc_apns_outcome(rows[i].status, rows[i].body, reason, sizeof reason);
        bool ok = CHECK_EQ_INT(o, rows[i].want);
        ok = CHECK_STR(reason, rows[i].reason) && ok;
        if (!ok)
            fprintf(stderr, "  %s row %zu (status %ld)\n", fcm ? "fcm" : "apns", i, rows[i].status);
    }
}

TEST(apns)
{
    run_rows(apns_rows, sizeof apns_rows / sizeof apns_rows[0], false);
}

TEST(fcm)
{
    run_rows(fcm_rows, sizeof fcm_rows / sizeof fcm_rows[0], true);
}

TEST(reason_buffer)
{
    char small[6];
    CHECK_EQ_INT(mqc_apns_outcome(400, "{\"reason\":\"BadDeviceToken\"}", small, sizeof small),
                 MQC_PUSH_BAD_TOKEN);
    CHECK_STR(small, "BadDe"); /* truncated, terminated */
    CHECK_EQ_INT(mqc_fcm_outcome(404, NULL, NULL, 0), MQC_PUSH_DEAD_TOKEN);
    CHECK_EQ_INT(mqc_apns_outcome(0, NULL, NULL, 0), MQC_PUSH_RETRY);
}

TEST(retry_after)
{
    const int64_t now = 1445412480LL * 1000; /* Wed, 21 Oct 2015 07:28:00 GMT */
    CHECK_EQ_INT(mqc_retry_after_ms("120", now), 120000);
    CHECK_EQ_INT(mqc_retry_after_ms(" 5\r\n", now), 5000);
    CHECK_EQ_INT(mqc_retry_after_ms("0", now), 0);
    CHECK_EQ_INT(mqc_retry_after_ms("99999999999999999999999999", now), 86400000);
    CHECK_EQ_INT(mqc_retry_after_ms(NULL, now), -1);
    CHECK_EQ_INT(mqc_retry_after_ms("", now), -1);
    CHECK_EQ_INT(mqc_retry_after_ms("   ", now), -1);
    CHECK_EQ_INT(mqc_retry_after_ms("-5", now), -1);
    CHECK_EQ_INT(mqc_retry_after_ms("1.5", now), -1);
    CHECK_EQ_INT(mqc_retry_after_ms("soon", now), -1);
    CHECK_EQ_INT(mqc_retry_after_ms("Wed, 21 Oct 2015 07:28:30 GMT", now), 30000);
    CHECK_EQ_INT(mqc_retry_after_ms("Wednesday, 21-Oct-15 07:29:00 GMT", now), 60000);
    CHECK_EQ_INT(mqc_retry_after_ms("Wed Oct 21 07:28:10 2015", now), 10000);
    CHECK_EQ_INT(mqc_retry_after_ms("Wed, 21 Oct 2015 07:00:00 GMT", now), 0);        /* past */
    CHECK_EQ_INT(mqc_retry_after_ms("Fri, 21 Oct 2016 07:28:00 GMT", now), 86400000); /* cap */
    CHECK_EQ_INT(mqc_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now + 500), 0);
}

TEST(backoff)
{
    CHECK_EQ_INT(mqc_backoff_ms(1, 0), 0);
    CHECK_EQ_INT(mqc_backoff_ms(1, UINT32_MAX), 1000);
    CHECK_EQ_INT(mqc_backoff_ms(1, 0x80000000u), 500);
    CHECK_EQ_INT(mqc_backoff_ms(2, UINT32_MAX), 2000);
    CHECK_EQ_INT(mqc_backoff_ms(3, UINT32_MAX), 4000);
    CHECK_EQ_INT(mqc_backoff_ms(9, UINT32_MAX), 256000);
    CHECK_EQ_INT(mqc_backoff_ms(10, UINT32_MAX), 300000);
    CHECK_EQ_INT(mqc_backoff_ms(63, UINT32_MAX), 300000);
    CHECK_EQ_INT(mqc_backoff_ms(1000000, UINT32_MAX), 300000);
    CHECK_EQ_INT(mqc_backoff_ms(0, UINT32_MAX), 1000);
    CHECK_EQ_INT(mqc_backoff_ms(-5, UINT32_MAX), 1000);
    CHECK_EQ_INT(mqc_backoff_ms(4, 12345), mqc_backoff_ms(4, 12345)); /* deterministic */
    /* within [0, ceiling] and non-decreasing in rnd, for every attempt */
    int bad = 0;
    for (int a = 1; a <= 12; a++) {
        int64_t ceiling = a >= 10 ? 300000 : 1000LL << (a - 1), prev = -1;
        for (uint64_t r = 0; r <= UINT32_MAX; r += 0x00FFFFFFu) {
            int64_t b = mqc_backoff_ms(a, (uint32_t)r);
            if (b < 0 || b > ceiling || b < prev)
                bad++;
            prev = b;
        }
    }
    CHECK_EQ_INT(bad, 0);
}

TEST(names)
{
    CHECK_STR(mqc_push_outcome_name(MQC_PUSH_SENT), "sent");
    CHECK_STR(mqc_push_outcome_name(MQC_PUSH_RETRY), "retry");
    CHECK_STR(mqc_push_outcome_name(MQC_PUSH_DEAD_TOKEN), "dead_token");
    CHECK_STR(mqc_push_outcome_name(MQC_PUSH_BAD_TOKEN), "bad_token");
    CHECK_STR(mqc_push_outcome_name(MQC_PUSH_REFRESH_AUTH), "refresh_auth");
    CHECK_STR(mqc_push_outcome_name(MQC_PUSH_FAILED), "failed");
    CHECK_STR(mqc_push_outcome_name((enum mqc_push_outcome)99), "unknown");
}

int main(void)
{
    RUN(apns);
    RUN(fcm);
    RUN(reason_buffer);
    RUN(retry_after);
    RUN(backoff);
    RUN(names);
    return test_finish();
}
