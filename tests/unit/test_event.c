/* Unit tests for core/event.h: the `err` event is JSON with t, the client's
 * reference, the wire code, msg and ts. Parsed back with cJSON. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/event.h"
#include "tests/unit/test.h"

/* The string member key of o, or NULL if absent or not a string. */
static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Build with the given arguments and parse; NULL (after a failed check) if
 * either step fails. */
static cJSON *build(const char *ref_key, const char *ref, int err, const char *msg, int64_t ts)
{
    char *s = mqc_event_err(ref_key, ref, err, msg, ts);
    if (!CHECK(s != NULL))
        return NULL;
    cJSON *o = cJSON_Parse(s);
    if (!CHECK(cJSON_IsObject(o)))
        fprintf(stderr, "  not a JSON object: %s\n", s);
    free(s);
    return o;
}

TEST(not_member_with_id)
{
    cJSON *o = build("id", "m-42", MQC_ENOTMEMBER, "you are not in c1", 1700000000123);
    if (!o)
        return;
    CHECK_STR(str_of(o, "t"), "err");
    CHECK_STR(str_of(o, "id"), "m-42");
    CHECK(cJSON_GetObjectItemCaseSensitive(o, "req") == NULL);
    CHECK_STR(str_of(o, "code"), "not_member");
    CHECK_STR(str_of(o, "msg"), "you are not in c1");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
    if (CHECK(cJSON_IsNumber(ts)))
        CHECK_EQ_INT((int64_t)cJSON_GetNumberValue(ts), 1700000000123);
    CHECK_EQ_INT(cJSON_GetArraySize(o), 5);
    cJSON_Delete(o);
}

TEST(unavailable_with_req)
{
    cJSON *o = build("req", "r1", MQC_EUNAVAIL, "redis down", 5);
    if (!o)
        return;
    CHECK_STR(str_of(o, "t"), "err");
    CHECK_STR(str_of(o, "req"), "r1");
    CHECK(cJSON_GetObjectItemCaseSensitive(o, "id") == NULL);
    CHECK_STR(str_of(o, "code"), "unavailable");
    CHECK_STR(str_of(o, "msg"), "redis down");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
    if (CHECK(cJSON_IsNumber(ts)))
        CHECK_EQ_INT((int64_t)cJSON_GetNumberValue(ts), 5);
    cJSON_Delete(o);
}

TEST(null_msg_uses_err_str)
{
    cJSON *o = build("req", "r2", MQC_ENOTMEMBER, NULL, 1);
    if (!o)
        return;
    CHECK_STR(str_of(o, "msg"), mqc_err_str(MQC_ENOTMEMBER));
    CHECK(str_of(o, "msg") && str_of(o, "msg")[0] != '\0');
    cJSON_Delete(o);
}

TEST(null_ref_key_omits_ref)
{
    cJSON *o = build(NULL, "ignored", MQC_EBADREQ, "not JSON", 7);
    if (!o)
        return;
    CHECK_STR(str_of(o, "t"), "err");
    CHECK(cJSON_GetObjectItemCaseSensitive(o, "req") == NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(o, "id") == NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(o, "ignored") == NULL);
    CHECK_STR(str_of(o, "code"), "bad_request");
    CHECK_STR(str_of(o, "msg"), "not JSON");
    CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "ts")));
    CHECK_EQ_INT(cJSON_GetArraySize(o), 4);
    cJSON_Delete(o);
}

TEST(wire_codes)
{
    static const struct {
        int err;
        const char *code;
    } cases[] = {
        {MQC_EBADREQ, "bad_request"},  {MQC_ETOOLARGE, "too_large"},
        {MQC_ENOTMEMBER, "not_member"}, {MQC_EFORBIDDEN, "forbidden"},
        {MQC_ENOTFOUND, "not_found"},  {MQC_ERATE, "rate_limited"},
        {MQC_EUNAVAIL, "unavailable"}, {MQC_EINTERNAL, "internal"},
        {MQC_ENOMEM, "internal"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o = build("req", "r", cases[i].err, NULL, 0);
        if (!o)
            continue;
        CHECK_STR(str_of(o, "code"), cases[i].code);
        cJSON_Delete(o);
    }
}

TEST(strings_are_escaped)
{
    /* Quotes, backslashes and control bytes from the client stay inside the
     * string values. */
    cJSON *o = build("req", "a\"b\\c", MQC_EBADREQ, "line1\nline2 \"q\"", 9);
    if (!o)
        return;
    CHECK_STR(str_of(o, "req"), "a\"b\\c");
    CHECK_STR(str_of(o, "msg"), "line1\nline2 \"q\"");
    CHECK_STR(str_of(o, "code"), "bad_request");
    cJSON_Delete(o);
}

int main(void)
{
    RUN(not_member_with_id);
    RUN(unavailable_with_req);
    RUN(null_msg_uses_err_str);
    RUN(null_ref_key_omits_ref);
    RUN(wire_codes);
    RUN(strings_are_escaped);
    return test_finish();
}
