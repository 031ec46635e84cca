/* Unit tests for core/event.h: the `err` event is JSON with t, the client's
 * reference, the wire code, msg and ts; the msg event's prefix + seq +
 * suffix join into one JSON object; `res` takes its fields; receipt and
 * typing carry their values. Everything is parsed back with cJSON. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/envelope.h"
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
        {MQC_EBADREQ, "bad_request"},  {MQC_ETOOLARGE, "too_large"}, {MQC_ENOTMEMBER, "not_member"},
        {MQC_EFORBIDDEN, "forbidden"}, {MQC_ENOTFOUND, "not_found"}, {MQC_ERATE, "rate_limited"},
        {MQC_EUNAVAIL, "unavailable"}, {MQC_EINTERNAL, "internal"},  {MQC_ENOMEM, "internal"},
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

/* ---- mqc_event_msg_parts ---- */

/* Join prefix + seq + suffix and parse it; NULL (after a failed check) if
 * the result is not a JSON object. */
static cJSON *join_parse(const char *prefix, const char *seq, const char *suffix)
{
    size_t len = strlen(prefix) + strlen(seq) + strlen(suffix);
    char *s = malloc(len + 1);
    if (!CHECK(s != NULL))
        return NULL;
    snprintf(s, len + 1, "%s%s%s", prefix, seq, suffix);
    cJSON *o = cJSON_Parse(s);
    if (!CHECK(cJSON_IsObject(o)))
        fprintf(stderr, "  not a JSON object: %s\n", s);
    free(s);
    return o;
}

/* The number member key of o as an integer, or -12345 if absent. */
static int64_t int_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (int64_t)cJSON_GetNumberValue(v) : -12345;
}

TEST(msg_parts_with_attrs)
{
    cJSON *body = cJSON_CreateString("hello");
    cJSON *attrs = cJSON_Parse("{\"k\":\"v\",\"n\":[1,2]}");
    char *prefix = NULL, *suffix = NULL;
    if (!CHECK(body && attrs) ||
        !CHECK_EQ_INT(mqc_event_msg_parts("g-1", "m-7", "alice", 1700000000123, body, attrs,
                                          &prefix, &suffix),
                      0))
        goto out;
    /* the split is exactly where the header says */
    CHECK_STR(prefix, "{\"t\":\"msg\",\"conv\":\"g-1\",\"seq\":");
    CHECK(suffix && suffix[0] == ',' && suffix[strlen(suffix) - 1] == '}');
    CHECK(strncmp(suffix, ",\"id\":", 6) == 0);
    cJSON *o = join_parse(prefix, "42", suffix);
    if (o) {
        CHECK_STR(str_of(o, "t"), "msg");
        CHECK_STR(str_of(o, "conv"), "g-1");
        CHECK_EQ_INT(int_of(o, "seq"), 42);
        CHECK_STR(str_of(o, "id"), "m-7");
        CHECK_STR(str_of(o, "from"), "alice");
        CHECK_EQ_INT(int_of(o, "ts"), 1700000000123);
        CHECK_STR(str_of(o, "body"), "hello");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "attrs");
        CHECK(cJSON_IsObject(a));
        CHECK_STR(str_of(a, "k"), "v");
        CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a, "n")), 2);
        CHECK_EQ_INT(cJSON_GetArraySize(o), 8);
        cJSON_Delete(o);
    }
    /* body and attrs are borrowed: still whole, and freed below by us */
    CHECK_STR(cJSON_GetStringValue(body), "hello");
    CHECK_STR(str_of(attrs, "k"), "v");
out:
    free(prefix);
    free(suffix);
    cJSON_Delete(body);
    cJSON_Delete(attrs);
}

/* attrs as mqc_envelope_parse leaves it (the client's text in a raw node):
 * the event carries that text byte for byte, big numbers included. */
TEST(msg_parts_attrs_text_verbatim)
{
    const char *payload = "{\"id\":\"m\",\"body\":\"b\",\"attrs\": {\"n\":9007199254740993,"
                          "\"b\":12345678901234567890,\"i\":1e400,\"s\":\"\\u00e9\"}}";
    const char *want = ",\"body\":\"b\",\"attrs\":{\"n\":9007199254740993,"
                       "\"b\":12345678901234567890,\"i\":1e400,\"s\":\"\\u00e9\"}}";
    cJSON *root = NULL;
    struct mqc_send m;
    const char *why = NULL;
    char *prefix = NULL, *suffix = NULL;
    if (!CHECK_EQ_INT(mqc_envelope_parse(payload, strlen(payload), 4096, &root, NULL), 0) ||
        !CHECK_EQ_INT(mqc_send_parse(root, &m, &why), 0) ||
        !CHECK_EQ_INT(
            mqc_event_msg_parts("g-1", m.id, "alice", 5, m.body, m.attrs, &prefix, &suffix), 0))
        goto out;
    size_t sl = strlen(suffix), wl = strlen(want);
    if (!CHECK(sl >= wl && strcmp(suffix + sl - wl, want) == 0))
        fprintf(stderr, "  suffix: %s\n", suffix);
out:
    free(prefix);
    free(suffix);
    cJSON_Delete(root);
}

TEST(msg_parts_without_attrs)
{
    cJSON *body = cJSON_CreateString("");
    char *prefix = NULL, *suffix = NULL;
    if (!CHECK(body) ||
        !CHECK_EQ_INT(mqc_event_msg_parts("d-ab", "x", "bob", 0, body, NULL, &prefix, &suffix), 0))
        goto out;
    cJSON *o = join_parse(prefix, "1", suffix);
    if (o) {
        CHECK_STR(str_of(o, "t"), "msg");
        CHECK_STR(str_of(o, "conv"), "d-ab");
        CHECK_EQ_INT(int_of(o, "seq"), 1);
        CHECK_STR(str_of(o, "id"), "x");
        CHECK_STR(str_of(o, "from"), "bob");
        CHECK_EQ_INT(int_of(o, "ts"), 0);
        CHECK_STR(str_of(o, "body"), "");
        CHECK(cJSON_GetObjectItemCaseSensitive(o, "attrs") == NULL);
        CHECK_EQ_INT(cJSON_GetArraySize(o), 7);
        cJSON_Delete(o);
    }
    /* the largest seq a client may see survives exactly */
    o = join_parse(prefix, "9007199254740991", suffix);
    if (o) {
        CHECK_EQ_INT(int_of(o, "seq"), 9007199254740991LL);
        cJSON_Delete(o);
    }
out:
    free(prefix);
    free(suffix);
    cJSON_Delete(body);
}

TEST(msg_parts_escaping)
{
    /* Quotes, backslashes, control bytes and non-ASCII text in the body (and
     * a quote in an id) stay inside their strings. */
    const char *text = "say \"hi\" \\o/ {\"seq\":1}\nline2\t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
                       "\x01";
    cJSON *body = cJSON_CreateString(text);
    char *prefix = NULL, *suffix = NULL;
    if (!CHECK(body) ||
        !CHECK_EQ_INT(
            mqc_event_msg_parts("c\"1", "i\\d", "f\"rom", 5, body, NULL, &prefix, &suffix), 0))
        goto out;
    cJSON *o = join_parse(prefix, "3", suffix);
    if (o) {
        CHECK_STR(str_of(o, "body"), text);
        CHECK_STR(str_of(o, "conv"), "c\"1");
        CHECK_STR(str_of(o, "id"), "i\\d");
        CHECK_STR(str_of(o, "from"), "f\"rom");
        CHECK_EQ_INT(int_of(o, "seq"), 3);
        CHECK_EQ_INT(cJSON_GetArraySize(o), 7);
        cJSON_Delete(o);
    }
out:
    free(prefix);
    free(suffix);
    cJSON_Delete(body);
}

/* ---- mqc_event_res ---- */

/* Parse a builder's output; NULL (after a failed check) on failure. The
 * string is freed. */
static cJSON *parse_free(char *s)
{
    if (!CHECK(s != NULL))
        return NULL;
    cJSON *o = cJSON_Parse(s);
    if (!CHECK(cJSON_IsObject(o)))
        fprintf(stderr, "  not a JSON object: %s\n", s);
    free(s);
    return o;
}

TEST(res_moves_fields)
{
    cJSON *fields = cJSON_Parse("{\"conv\":\"g-9\",\"convs\":[{\"id\":\"a\"},{\"id\":\"b\"}],"
                                "\"n\":3,\"ok\":true}");
    if (!CHECK(cJSON_IsObject(fields)))
        return;
    /* fields is taken: not freed here (ASan would see a leak or a double
     * free if ownership were wrong). */
    cJSON *o = parse_free(mqc_event_res("r-1", "create", fields, 1234567));
    if (!o)
        return;
    CHECK_STR(str_of(o, "t"), "res");
    CHECK_STR(str_of(o, "req"), "r-1");
    CHECK_STR(str_of(o, "op"), "create");
    CHECK_EQ_INT(int_of(o, "ts"), 1234567);
    CHECK_STR(str_of(o, "conv"), "g-9");
    const cJSON *convs = cJSON_GetObjectItemCaseSensitive(o, "convs");
    if (CHECK(cJSON_IsArray(convs)) && CHECK_EQ_INT(cJSON_GetArraySize(convs), 2))
        CHECK_STR(str_of(cJSON_GetArrayItem(convs, 1), "id"), "b");
    CHECK_EQ_INT(int_of(o, "n"), 3);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok")));
    CHECK_EQ_INT(cJSON_GetArraySize(o), 8);
    /* order: t, req, op, the fields, ts last */
    const cJSON *first = o->child;
    CHECK(first && first->string && strcmp(first->string, "t") == 0);
    const cJSON *last = cJSON_GetArrayItem(o, cJSON_GetArraySize(o) - 1);
    CHECK(last && last->string && strcmp(last->string, "ts") == 0);
    cJSON_Delete(o);
}

TEST(res_null_or_empty_fields)
{
    cJSON *o = parse_free(mqc_event_res("r-2", "leave", NULL, 99));
    if (o) {
        CHECK_STR(str_of(o, "t"), "res");
        CHECK_STR(str_of(o, "req"), "r-2");
        CHECK_STR(str_of(o, "op"), "leave");
        CHECK_EQ_INT(int_of(o, "ts"), 99);
        CHECK_EQ_INT(cJSON_GetArraySize(o), 4);
        cJSON_Delete(o);
    }
    cJSON *empty = cJSON_CreateObject();
    if (!CHECK(empty != NULL))
        return;
    o = parse_free(mqc_event_res("r-3", "convs", empty, 100));
    if (o) {
        CHECK_STR(str_of(o, "op"), "convs");
        CHECK_STR(str_of(o, "req"), "r-3");
        CHECK_EQ_INT(cJSON_GetArraySize(o), 4);
        cJSON_Delete(o);
    }
}

TEST(res_escapes_req)
{
    cJSON *o = parse_free(mqc_event_res("a\"b\\c\xc3\xa9", "history", NULL, 1));
    if (!o)
        return;
    CHECK_STR(str_of(o, "req"), "a\"b\\c\xc3\xa9");
    CHECK_STR(str_of(o, "op"), "history");
    cJSON_Delete(o);
}

/* ---- mqc_event_receipt / mqc_event_typing ---- */

TEST(receipt_event)
{
    cJSON *o = parse_free(mqc_event_receipt("g-1", "bob", "read", 17, 1700000000001));
    if (!o)
        return;
    CHECK_STR(str_of(o, "t"), "receipt");
    CHECK_STR(str_of(o, "conv"), "g-1");
    CHECK_STR(str_of(o, "user"), "bob");
    CHECK_STR(str_of(o, "type"), "read");
    CHECK_EQ_INT(int_of(o, "seq"), 17);
    CHECK_EQ_INT(int_of(o, "ts"), 1700000000001);
    CHECK_EQ_INT(cJSON_GetArraySize(o), 6);
    cJSON_Delete(o);
    /* seq 0 is a real seq and is kept */
    o = parse_free(mqc_event_receipt("d-x", "carol", "delivered", 0, 2));
    if (!o)
        return;
    CHECK_STR(str_of(o, "type"), "delivered");
    CHECK_EQ_INT(int_of(o, "seq"), 0);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "seq")));
    CHECK_EQ_INT(cJSON_GetArraySize(o), 6);
    cJSON_Delete(o);
}

TEST(typing_event)
{
    cJSON *o = parse_free(mqc_event_typing("g-1", "bob", "composing", 77));
    if (!o)
        return;
    CHECK_STR(str_of(o, "t"), "typing");
    CHECK_STR(str_of(o, "conv"), "g-1");
    CHECK_STR(str_of(o, "user"), "bob");
    CHECK_STR(str_of(o, "state"), "composing");
    CHECK_EQ_INT(int_of(o, "ts"), 77);
    CHECK(cJSON_GetObjectItemCaseSensitive(o, "seq") == NULL);
    CHECK_EQ_INT(cJSON_GetArraySize(o), 5);
    cJSON_Delete(o);
    o = parse_free(mqc_event_typing("c", "u", "paused", 78));
    if (!o)
        return;
    CHECK_STR(str_of(o, "state"), "paused");
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
    RUN(msg_parts_with_attrs);
    RUN(msg_parts_attrs_text_verbatim);
    RUN(msg_parts_without_attrs);
    RUN(msg_parts_escaping);
    RUN(res_moves_fields);
    RUN(res_null_or_empty_fields);
    RUN(res_escapes_req);
    RUN(receipt_event);
    RUN(typing_event);
    return test_finish();
}
