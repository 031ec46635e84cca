/* Unit tests for core/envelope.h: the common payload checks of
 * mqc_envelope_parse (size, UTF-8, escaped NUL, one JSON object and nothing
 * after it but white space, explicit length), references (1-64 code points),
 * and the send / receipt / typing parsers and mqc_envelope_int. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/envelope.h"
#include "core/err.h"
#include "tests/unit/test.h"

/* Parse a string literal (its full length, embedded NULs included) with a
 * generous max. *root is set only on MQC_OK. */
#define PARSE_LIT(lit, root) mqc_envelope_parse((lit), sizeof(lit) - 1, 4096, (root), NULL)

/* Parse NUL-terminated JSON text that the test expects to be good; NULL
 * (after a failed check) if it is not. */
static cJSON *parse_ok(const char *json)
{
    cJSON *root = NULL;
    if (!CHECK_EQ_INT(mqc_envelope_parse(json, strlen(json), 65536, &root, NULL), MQC_OK)) {
        fprintf(stderr, "  refused: %s\n", json);
        return NULL;
    }
    CHECK(root != NULL);
    return root;
}

/* Expect json (NUL-terminated) to be refused with want, root left NULL. */
static void expect_refused(const char *json, int want)
{
    cJSON *root = (cJSON *)1; /* must be reset to NULL */
    if (!CHECK_EQ_INT(mqc_envelope_parse(json, strlen(json), 65536, &root, NULL), want))
        fprintf(stderr, "  accepted or wrong code: %s\n", json);
    CHECK(root == NULL);
    if (root && root != (cJSON *)1)
        cJSON_Delete(root);
}

/* ---- mqc_envelope_parse ---- */

TEST(parse_good_object)
{
    cJSON *root = parse_ok("{\"id\":\"m1\",\"body\":\"hi\"}");
    if (!root)
        return;
    CHECK(cJSON_IsObject(root));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "body")), "hi");
    cJSON_Delete(root);
    root = parse_ok("{}");
    CHECK(cJSON_IsObject(root));
    cJSON_Delete(root);
}

TEST(parse_size_limit)
{
    const char *json = "{\"a\":1}"; /* 7 bytes */
    size_t len = strlen(json);
    cJSON *root = (cJSON *)1;
    CHECK_EQ_INT(mqc_envelope_parse(json, len, len - 1, &root, NULL), MQC_ETOOLARGE);
    CHECK(root == NULL);
    root = NULL;
    CHECK_EQ_INT(mqc_envelope_parse(json, len, len, &root, NULL), MQC_OK);
    CHECK(cJSON_IsObject(root));
    cJSON_Delete(root);
    root = NULL;
    CHECK_EQ_INT(mqc_envelope_parse(json, len, len + 1, &root, NULL), MQC_OK);
    cJSON_Delete(root);
    /* Too large wins over everything else: even garbage is "too large". */
    root = (cJSON *)1;
    CHECK_EQ_INT(mqc_envelope_parse("\xff\xff\xff", 3, 2, &root, NULL), MQC_ETOOLARGE);
    CHECK(root == NULL);
}

TEST(parse_empty_refused)
{
    cJSON *root = (cJSON *)1;
    CHECK_EQ_INT(mqc_envelope_parse("", 0, 100, &root, NULL), MQC_EBADREQ);
    CHECK(root == NULL);
    expect_refused("   ", MQC_EBADREQ);
}

TEST(parse_not_json_refused)
{
    expect_refused("hello", MQC_EBADREQ);
    expect_refused("{", MQC_EBADREQ);
    expect_refused("{\"a\":}", MQC_EBADREQ);
    expect_refused("{\"a\":1,}", MQC_EBADREQ);
    expect_refused("{'a':1}", MQC_EBADREQ);
    expect_refused("{\"a\":\"unterminated}", MQC_EBADREQ);
}

TEST(parse_non_object_refused)
{
    expect_refused("[]", MQC_EBADREQ);
    expect_refused("[{\"a\":1}]", MQC_EBADREQ);
    expect_refused("\"a string\"", MQC_EBADREQ);
    expect_refused("42", MQC_EBADREQ);
    expect_refused("true", MQC_EBADREQ);
    expect_refused("null", MQC_EBADREQ);
}

TEST(parse_invalid_utf8_refused)
{
    cJSON *root = (cJSON *)1;
    CHECK_EQ_INT(PARSE_LIT("{\"body\":\"\xff\"}", &root), MQC_EBADREQ);
    CHECK(root == NULL);
    root = (cJSON *)1;
    CHECK_EQ_INT(PARSE_LIT("{\"body\":\"\xc0\x80\"}", &root), MQC_EBADREQ); /* overlong */
    CHECK(root == NULL);
    root = (cJSON *)1;
    CHECK_EQ_INT(PARSE_LIT("{\"body\":\"\xed\xa0\x80\"}", &root), MQC_EBADREQ); /* surrogate */
    CHECK(root == NULL);
    root = (cJSON *)1;
    CHECK_EQ_INT(PARSE_LIT("{\"body\":\"\xe2\x82\"}", &root), MQC_EBADREQ); /* truncated */
    CHECK(root == NULL);
    /* good multi-byte text is fine */
    root = NULL;
    CHECK_EQ_INT(PARSE_LIT("{\"body\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}", &root), MQC_OK);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "body")),
              "caf\xc3\xa9 \xf0\x9f\x98\x80");
    cJSON_Delete(root);
}

TEST(parse_escaped_nul_refused)
{
    expect_refused("{\"body\":\"\\u0000\"}", MQC_EBADREQ);
    expect_refused("{\"body\":\"abc\\u0000def\"}", MQC_EBADREQ);
    expect_refused("{\"id\\u0000x\":\"a\"}", MQC_EBADREQ); /* in a key */
    /* An odd run of backslashes: \\ then \u0000 */
    expect_refused("{\"body\":\"\\\\\\u0000\"}", MQC_EBADREQ);
}

TEST(parse_other_escapes_accepted)
{
    /* Upper- and lower-case hex digits in other \u escapes are fine. */
    cJSON *root = parse_ok("{\"body\":\"a\\u000Ab\\u000ac\\u00E9\"}");
    if (root) {
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "body")),
                  "a\nb\nc\xc3\xa9");
        cJSON_Delete(root);
    }
    /* \u0001 and \u0100 only look like \u0000 in part. */
    root = parse_ok("{\"body\":\"\\u0001\\u0100\"}");
    if (root) {
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "body")),
                  "\x01\xc4\x80");
        cJSON_Delete(root);
    }
}

TEST(parse_escaped_backslash_then_u0000_accepted)
{
    /* The JSON text "\\u0000" is a literal backslash followed by "u0000":
     * no NUL anywhere, so it is accepted and kept. */
    cJSON *root = parse_ok("{\"body\":\"\\\\u0000\"}");
    if (!root)
        return;
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "body")), "\\u0000");
    cJSON_Delete(root);
    /* Two escaped backslashes, then the text u0000. */
    root = parse_ok("{\"body\":\"\\\\\\\\u0000\"}");
    if (!root)
        return;
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "body")), "\\\\u0000");
    cJSON_Delete(root);
}

TEST(parse_raw_nul_byte)
{
    /* A raw NUL byte is valid UTF-8, but JSON forbids unescaped control
     * characters in strings, and cJSON would cut the string there (the very
     * truncation the escaped-NUL check exists to stop): "abc\0xyz" would be
     * read as the id "abc". */
    static const char json[] = "{\"id\":\"abc\0xyz\",\"body\":\"hi\"}";
    cJSON *root = NULL;
    int rc = mqc_envelope_parse(json, sizeof json - 1, 4096, &root, NULL);
    CHECK_EQ_INT(rc, MQC_EBADREQ);
    cJSON_Delete(root);
    /* A NUL after the object is trailing garbage. */
    static const char trail[] = "{\"a\":1}\0";
    root = (cJSON *)1;
    CHECK_EQ_INT(mqc_envelope_parse(trail, sizeof trail - 1, 4096, &root, NULL), MQC_EBADREQ);
    CHECK(root == NULL);
}

TEST(parse_trailing_garbage_refused)
{
    expect_refused("{\"a\":1}x", MQC_EBADREQ);
    expect_refused("{\"a\":1}{}", MQC_EBADREQ);
    expect_refused("{\"a\":1} 1", MQC_EBADREQ);
    expect_refused("{\"a\":1}\n]", MQC_EBADREQ);
}

TEST(parse_whitespace_around_ok)
{
    cJSON *root = parse_ok("{\"a\":1} \t\r\n");
    CHECK(cJSON_IsObject(root));
    cJSON_Delete(root);
    root = parse_ok(" \n{\"a\":1}");
    CHECK(cJSON_IsObject(root));
    cJSON_Delete(root);
}

TEST(parse_not_nul_terminated)
{
    /* The object is followed in memory by bytes that are not NUL and would
     * be garbage if read: only len bytes count. */
    const char buf[] = "{\"id\":\"m1\",\"body\":\"hi\"}GARBAGE";
    size_t len = strlen("{\"id\":\"m1\",\"body\":\"hi\"}");
    cJSON *root = NULL;
    CHECK_EQ_INT(mqc_envelope_parse(buf, len, 4096, &root, NULL), MQC_OK);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "body")), "hi");
    cJSON_Delete(root);

    /* The same in a heap buffer of exactly len bytes, so ASan catches any
     * read past the end. */
    char *exact = malloc(len);
    if (!CHECK(exact != NULL))
        return;
    memcpy(exact, buf, len);
    root = NULL;
    CHECK_EQ_INT(mqc_envelope_parse(exact, len, 4096, &root, NULL), MQC_OK);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "id")), "m1");
    cJSON_Delete(root);
    /* and a cut-short object in an exact buffer is refused, not over-read */
    root = (cJSON *)1;
    CHECK_EQ_INT(mqc_envelope_parse(exact, len - 1, 4096, &root, NULL), MQC_EBADREQ);
    CHECK(root == NULL);
    root = (cJSON *)1;
    CHECK_EQ_INT(mqc_envelope_parse(exact, 11, 4096, &root, NULL), MQC_EBADREQ); /* {"id":"m1", */
    CHECK(root == NULL);
    free(exact);

    /* Escaped NUL checks also stop at len: a \u0000 just past len is not
     * part of the payload. */
    const char tail[] = "{\"a\":1}\\u0000";
    root = NULL;
    CHECK_EQ_INT(mqc_envelope_parse(tail, 7, 4096, &root, NULL), MQC_OK);
    cJSON_Delete(root);
}

/* ---- mqc_envelope_ref ---- */

TEST(ref_lengths)
{
    char json[512];
    char ref[300];
    /* 64 ASCII characters: ok; 65: refused */
    memset(ref, 'r', 64);
    ref[64] = '\0';
    snprintf(json, sizeof json, "{\"id\":\"%s\"}", ref);
    cJSON *root = parse_ok(json);
    CHECK_STR(mqc_envelope_ref(root, "id"), ref);
    cJSON_Delete(root);
    memset(ref, 'r', 65);
    ref[65] = '\0';
    snprintf(json, sizeof json, "{\"id\":\"%s\"}", ref);
    root = parse_ok(json);
    CHECK(root && mqc_envelope_ref(root, "id") == NULL);
    cJSON_Delete(root);
    /* one character */
    root = parse_ok("{\"id\":\"x\"}");
    CHECK_STR(mqc_envelope_ref(root, "id"), "x");
    cJSON_Delete(root);
}

TEST(ref_counts_code_points)
{
    char json[512];
    char ref[300];
    /* 64 three-byte characters (192 bytes) are 64 characters: ok */
    for (int i = 0; i < 64; i++)
        memcpy(ref + 3 * i, "\xe2\x82\xac", 3);
    ref[192] = '\0';
    snprintf(json, sizeof json, "{\"id\":\"%s\"}", ref);
    cJSON *root = parse_ok(json);
    CHECK_STR(mqc_envelope_ref(root, "id"), ref);
    cJSON_Delete(root);
    /* 64 four-byte characters (256 bytes): ok */
    for (int i = 0; i < 64; i++)
        memcpy(ref + 4 * i, "\xf0\x9f\x98\x80", 4);
    ref[256] = '\0';
    snprintf(json, sizeof json, "{\"id\":\"%s\"}", ref);
    root = parse_ok(json);
    CHECK_STR(mqc_envelope_ref(root, "id"), ref);
    cJSON_Delete(root);
    /* 65 two-byte characters (130 bytes): refused */
    for (int i = 0; i < 65; i++)
        memcpy(ref + 2 * i, "\xc3\xa9", 2);
    ref[130] = '\0';
    snprintf(json, sizeof json, "{\"id\":\"%s\"}", ref);
    root = parse_ok(json);
    CHECK(root && mqc_envelope_ref(root, "id") == NULL);
    cJSON_Delete(root);
}

TEST(ref_empty_or_not_string_refused)
{
    cJSON *root = parse_ok("{\"id\":\"\",\"n\":5,\"b\":true,\"z\":null,\"o\":{},\"a\":[\"x\"]}");
    if (!root)
        return;
    CHECK(mqc_envelope_ref(root, "id") == NULL);
    CHECK(mqc_envelope_ref(root, "n") == NULL);
    CHECK(mqc_envelope_ref(root, "b") == NULL);
    CHECK(mqc_envelope_ref(root, "z") == NULL);
    CHECK(mqc_envelope_ref(root, "o") == NULL);
    CHECK(mqc_envelope_ref(root, "a") == NULL);
    CHECK(mqc_envelope_ref(root, "missing") == NULL);
    cJSON_Delete(root);
}

TEST(ref_key_is_case_sensitive)
{
    cJSON *root = parse_ok("{\"ID\":\"upper\"}");
    CHECK(root && mqc_envelope_ref(root, "id") == NULL);
    CHECK_STR(mqc_envelope_ref(root, "ID"), "upper");
    cJSON_Delete(root);
}

/* ---- mqc_send_parse ---- */

TEST(send_good)
{
    cJSON *root = parse_ok("{\"id\":\"m-1\",\"body\":\"hello\",\"attrs\":{\"k\":\"v\"}}");
    if (!root)
        return;
    struct mqc_send s;
    const char *why = NULL;
    CHECK_EQ_INT(mqc_send_parse(root, &s, &why), MQC_OK);
    CHECK_STR(s.id, "m-1");
    CHECK(cJSON_IsString(s.body));
    CHECK_STR(cJSON_GetStringValue(s.body), "hello");
    /* attrs is kept as the client's text */
    CHECK(cJSON_IsRaw(s.attrs));
    CHECK_STR(s.attrs->valuestring, "{\"k\":\"v\"}");
    cJSON_Delete(root);
}

/* attrs is kept as sent (white space between tokens dropped): numbers that a
 * double cannot hold, escapes, and key order unchanged; printing the tree
 * re-emits that text. */
TEST(send_attrs_text_kept)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"{\"id\":\"m\",\"body\":\"x\",\"attrs\":{\"n\":9007199254740993}}",
         "{\"n\":9007199254740993}"},
        {"{\"id\":\"m\",\"body\":\"x\",\"attrs\":{\"n\":12345678901234567890}}",
         "{\"n\":12345678901234567890}"},
        {"{\"id\":\"m\",\"body\":\"x\",\"attrs\":{\"n\":1e400,\"m\":-0.10,\"e\":1E+2}}",
         "{\"n\":1e400,\"m\":-0.10,\"e\":1E+2}"},
        {"{\"attrs\" : { \"z\" : [ 1 , 2.50 ] ,\t\"a\" : \"s p\\u00e9\\/\" } "
         ",\"id\":\"m\",\"body\":\"x\"}",
         "{\"z\":[1,2.50],\"a\":\"s p\\u00e9\\/\"}"},
        {"{\"id\":\"m\",\"body\":\"x\",\"attrs\":{}}", "{}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *root = parse_ok(cases[i].in);
        if (!root)
            continue;
        struct mqc_send s;
        const char *why = NULL;
        CHECK_EQ_INT(mqc_send_parse(root, &s, &why), MQC_OK);
        if (CHECK(cJSON_IsRaw(s.attrs)))
            CHECK_STR(s.attrs->valuestring, cases[i].want);
        char *printed = cJSON_PrintUnformatted(root);
        CHECK(printed && strstr(printed, cases[i].want) != NULL);
        free(printed);
        cJSON_Delete(root);
    }
    /* nested "attrs" members are not top-level attrs: left as a tree */
    cJSON *root = parse_ok("{\"x\":{\"attrs\":{\"n\":1}}}");
    if (root) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "x");
        CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(x, "attrs")));
        cJSON_Delete(root);
    }
}

/* Duplicate keys, at any depth and however escaped, are refused with a
 * reason; so is nesting past MQC_ENVELOPE_DEPTH_MAX. */
TEST(parse_duplicate_keys_refused)
{
    static const char *const bad[] = {
        "{\"id\":\"dup\",\"id\":\"dup2\",\"body\":\"x\"}",
        "{\"id\":\"m\",\"body\":\"x\",\"attrs\":{\"k\":1,\"k\":2}}",
        "{\"id\":\"m\",\"body\":\"x\",\"attrs\":{\"a\":[{\"k\":1,\"j\":0,\"k\":2}]}}",
        "{\"id\":\"m\",\"\\u0069d\":\"n\",\"body\":\"x\"}",
        "{\"type\":\"read\",\"seq\":1,\"seq\":2}",
        "{\"state\":\"composing\",\"state\":\"paused\"}",
        "{\"op\":\"convs\",\"req\":\"a\",\"req\":\"b\"}",
        "{\"body\":\"x\",\"attrs\":{},\"id\":\"m\",\"attrs\":{\"n\":1}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *root = NULL;
        const char *why = NULL;
        if (!CHECK_EQ_INT(mqc_envelope_parse(bad[i], strlen(bad[i]), 4096, &root, &why),
                          MQC_EBADREQ))
            fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK(root == NULL);
        CHECK(why && strstr(why, "duplicate key"));
        cJSON_Delete(root);
    }
    /* the same key in two different objects is fine */
    cJSON *root = parse_ok("{\"k\":{\"k\":{\"k\":1}},\"a\":[{\"k\":1},{\"k\":2}]}");
    CHECK(root != NULL);
    cJSON_Delete(root);

    char deep[256];
    size_t n = 0;
    for (int d = 0; d < MQC_ENVELOPE_DEPTH_MAX; d++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "%s", d ? "[" : "{\"a\":");
    /* {"a": + 63 '[' = 64 levels */
    for (int d = 1; d < MQC_ENVELOPE_DEPTH_MAX; d++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    root = parse_ok(deep);
    CHECK(root != NULL);
    cJSON_Delete(root);
    /* one level more */
    char deeper[sizeof deep + 8];
    snprintf(deeper, sizeof deeper, "{\"b\":%s}", deep);
    const char *why = NULL;
    root = NULL;
    CHECK_EQ_INT(mqc_envelope_parse(deeper, strlen(deeper), 4096, &root, &why), MQC_EBADREQ);
    CHECK(why && strstr(why, "deep"));
}

TEST(send_attrs_absent_or_null)
{
    struct mqc_send s;
    const char *why = NULL;
    cJSON *root = parse_ok("{\"id\":\"m\",\"body\":\"\"}");
    if (root) {
        CHECK_EQ_INT(mqc_send_parse(root, &s, &why), MQC_OK);
        CHECK(s.attrs == NULL);
        CHECK_STR(cJSON_GetStringValue(s.body), ""); /* an empty body is a string */
        cJSON_Delete(root);
    }
    root = parse_ok("{\"id\":\"m\",\"body\":\"x\",\"attrs\":null}");
    if (root) {
        CHECK_EQ_INT(mqc_send_parse(root, &s, &why), MQC_OK);
        CHECK(s.attrs == NULL);
        cJSON_Delete(root);
    }
}

/* Expect json's send parse to fail with a reason. */
static void send_refused(const char *json)
{
    cJSON *root = parse_ok(json);
    if (!root)
        return;
    struct mqc_send s;
    const char *why = NULL;
    if (!CHECK_EQ_INT(mqc_send_parse(root, &s, &why), MQC_EBADREQ))
        fprintf(stderr, "  accepted: %s\n", json);
    CHECK(why != NULL && why[0] != '\0');
    cJSON_Delete(root);
}

TEST(send_refused_cases)
{
    send_refused("{\"id\":\"m\",\"body\":\"x\",\"attrs\":[]}");
    send_refused("{\"id\":\"m\",\"body\":\"x\",\"attrs\":\"s\"}");
    send_refused("{\"id\":\"m\",\"body\":\"x\",\"attrs\":1}");
    send_refused("{\"id\":\"m\",\"body\":42}");
    send_refused("{\"id\":\"m\",\"body\":null}");
    send_refused("{\"id\":\"m\",\"body\":{\"text\":\"x\"}}");
    send_refused("{\"id\":\"m\"}");
    send_refused("{\"body\":\"x\"}");
    send_refused("{\"id\":\"\",\"body\":\"x\"}");
    send_refused("{\"id\":7,\"body\":\"x\"}");
    send_refused("{\"id\":\"12345678901234567890123456789012345678901234567890123456789012345\","
                 "\"body\":\"x\"}"); /* 65 characters */
}

TEST(send_id_64_chars_ok)
{
    cJSON *root =
        parse_ok("{\"id\":\"1234567890123456789012345678901234567890123456789012345678901234\","
                 "\"body\":\"x\"}");
    if (!root)
        return;
    struct mqc_send s;
    const char *why = NULL;
    CHECK_EQ_INT(mqc_send_parse(root, &s, &why), MQC_OK);
    CHECK_EQ_INT(strlen(s.id), 64);
    cJSON_Delete(root);
}

/* ---- mqc_receipt_parse ---- */

TEST(receipt_good)
{
    struct mqc_receipt r;
    const char *why = NULL;
    cJSON *root = parse_ok("{\"type\":\"delivered\",\"seq\":17}");
    if (root) {
        CHECK_EQ_INT(mqc_receipt_parse(root, &r, &why), MQC_OK);
        CHECK_EQ_INT(r.type, MQC_RECEIPT_DELIVERED);
        CHECK_EQ_INT(r.seq, 17);
        cJSON_Delete(root);
    }
    root = parse_ok("{\"type\":\"read\",\"seq\":0}");
    if (root) {
        CHECK_EQ_INT(mqc_receipt_parse(root, &r, &why), MQC_OK);
        CHECK_EQ_INT(r.type, MQC_RECEIPT_READ);
        CHECK_EQ_INT(r.seq, 0);
        cJSON_Delete(root);
    }
    root = parse_ok("{\"type\":\"read\",\"seq\":9007199254740991}"); /* 2^53 - 1 */
    if (root) {
        CHECK_EQ_INT(mqc_receipt_parse(root, &r, &why), MQC_OK);
        CHECK_EQ_INT(r.seq, MQC_SEQ_MAX);
        cJSON_Delete(root);
    }
    root = parse_ok("{\"type\":\"read\",\"seq\":5.0}"); /* a whole number written as 5.0 */
    if (root) {
        CHECK_EQ_INT(mqc_receipt_parse(root, &r, &why), MQC_OK);
        CHECK_EQ_INT(r.seq, 5);
        cJSON_Delete(root);
    }
    CHECK_STR(mqc_receipt_type_name(MQC_RECEIPT_DELIVERED), "delivered");
    CHECK_STR(mqc_receipt_type_name(MQC_RECEIPT_READ), "read");
}

static void receipt_refused(const char *json)
{
    cJSON *root = parse_ok(json);
    if (!root)
        return;
    struct mqc_receipt r;
    const char *why = NULL;
    if (!CHECK_EQ_INT(mqc_receipt_parse(root, &r, &why), MQC_EBADREQ))
        fprintf(stderr, "  accepted: %s\n", json);
    CHECK(why != NULL && why[0] != '\0');
    cJSON_Delete(root);
}

TEST(receipt_refused_cases)
{
    receipt_refused("{\"type\":\"read\",\"seq\":-1}");
    receipt_refused("{\"type\":\"read\",\"seq\":1.5}");
    receipt_refused("{\"type\":\"read\",\"seq\":\"5\"}");
    receipt_refused("{\"type\":\"read\",\"seq\":null}");
    receipt_refused("{\"type\":\"read\",\"seq\":true}");
    receipt_refused("{\"type\":\"read\"}");
    receipt_refused("{\"type\":\"read\",\"seq\":9007199254740992}"); /* 2^53 */
    receipt_refused("{\"type\":\"read\",\"seq\":1e300}");
    receipt_refused("{\"type\":\"seen\",\"seq\":1}");
    receipt_refused("{\"type\":\"READ\",\"seq\":1}");
    receipt_refused("{\"type\":1,\"seq\":1}");
    receipt_refused("{\"seq\":1}");
}

/* ---- mqc_typing_parse ---- */

TEST(typing)
{
    struct mqc_typing t;
    const char *why = NULL;
    cJSON *root = parse_ok("{\"state\":\"composing\"}");
    if (root) {
        t.composing = false;
        CHECK_EQ_INT(mqc_typing_parse(root, &t, &why), MQC_OK);
        CHECK(t.composing);
        cJSON_Delete(root);
    }
    root = parse_ok("{\"state\":\"paused\"}");
    if (root) {
        t.composing = true;
        CHECK_EQ_INT(mqc_typing_parse(root, &t, &why), MQC_OK);
        CHECK(!t.composing);
        cJSON_Delete(root);
    }
    static const char *const bad[] = {"{\"state\":\"typing\"}", "{\"state\":\"\"}",
                                      "{\"state\":true}", "{}", "{\"state\":\"Composing\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        root = parse_ok(bad[i]);
        if (!root)
            continue;
        why = NULL;
        if (!CHECK_EQ_INT(mqc_typing_parse(root, &t, &why), MQC_EBADREQ))
            fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK(why != NULL && why[0] != '\0');
        cJSON_Delete(root);
    }
}

/* ---- mqc_envelope_int ---- */

TEST(envelope_int)
{
    cJSON *root = parse_ok("{\"a\":5,\"lo\":1,\"hi\":10,\"below\":0,\"above\":11,\"neg\":-3,"
                           "\"frac\":2.5,\"s\":\"5\",\"n\":null,\"b\":false}");
    if (!root)
        return;
    int64_t v = 12345;
    CHECK_EQ_INT(mqc_envelope_int(root, "missing", 1, 10, &v), MQC_ENOTFOUND);
    CHECK_EQ_INT(v, 12345); /* untouched */
    CHECK_EQ_INT(mqc_envelope_int(root, "a", 1, 10, &v), MQC_OK);
    CHECK_EQ_INT(v, 5);
    CHECK_EQ_INT(mqc_envelope_int(root, "lo", 1, 10, &v), MQC_OK); /* min inclusive */
    CHECK_EQ_INT(v, 1);
    CHECK_EQ_INT(mqc_envelope_int(root, "hi", 1, 10, &v), MQC_OK); /* max inclusive */
    CHECK_EQ_INT(v, 10);
    v = 12345;
    CHECK_EQ_INT(mqc_envelope_int(root, "below", 1, 10, &v), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_envelope_int(root, "above", 1, 10, &v), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_envelope_int(root, "frac", 1, 10, &v), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_envelope_int(root, "s", 1, 10, &v), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_envelope_int(root, "n", 1, 10, &v), MQC_EBADREQ); /* null is present */
    CHECK_EQ_INT(mqc_envelope_int(root, "b", 1, 10, &v), MQC_EBADREQ);
    CHECK_EQ_INT(v, 12345); /* untouched by refusals */
    CHECK_EQ_INT(mqc_envelope_int(root, "neg", -10, 10, &v), MQC_OK);
    CHECK_EQ_INT(v, -3);
    CHECK_EQ_INT(mqc_envelope_int(root, "neg", 0, 10, &v), MQC_EBADREQ);
    cJSON_Delete(root);
}

TEST(envelope_int_large_bounds)
{
    cJSON *root = parse_ok("{\"max\":9007199254740991,\"over\":9007199254740992,"
                           "\"huge\":1e19,\"p63\":9223372036854775808}");
    if (!root)
        return;
    int64_t v = 0;
    CHECK_EQ_INT(mqc_envelope_int(root, "max", 0, MQC_SEQ_MAX, &v), MQC_OK);
    CHECK_EQ_INT(v, MQC_SEQ_MAX);
    CHECK_EQ_INT(mqc_envelope_int(root, "over", 0, MQC_SEQ_MAX, &v), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_envelope_int(root, "huge", 0, INT64_MAX, &v), MQC_EBADREQ);
    /* (double)INT64_MAX rounds up to 2^63: one past the range, refused. */
    CHECK_EQ_INT(mqc_envelope_int(root, "p63", 0, INT64_MAX, &v), MQC_EBADREQ);
    cJSON_Delete(root);
}

int main(void)
{
    RUN(parse_good_object);
    RUN(parse_size_limit);
    RUN(parse_empty_refused);
    RUN(parse_not_json_refused);
    RUN(parse_non_object_refused);
    RUN(parse_invalid_utf8_refused);
    RUN(parse_escaped_nul_refused);
    RUN(parse_other_escapes_accepted);
    RUN(parse_escaped_backslash_then_u0000_accepted);
    RUN(parse_raw_nul_byte);
    RUN(parse_trailing_garbage_refused);
    RUN(parse_whitespace_around_ok);
    RUN(parse_not_nul_terminated);
    RUN(ref_lengths);
    RUN(ref_counts_code_points);
    RUN(ref_empty_or_not_string_refused);
    RUN(ref_key_is_case_sensitive);
    RUN(send_good);
    RUN(send_attrs_text_kept);
    RUN(parse_duplicate_keys_refused);
    RUN(send_attrs_absent_or_null);
    RUN(send_refused_cases);
    RUN(send_id_64_chars_ok);
    RUN(receipt_good);
    RUN(receipt_refused_cases);
    RUN(typing);
    RUN(envelope_int);
    RUN(envelope_int_large_bounds);
    return test_finish();
}
