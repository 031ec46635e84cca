/* Unit tests for core/json.h: the strict scanner (RFC 8259 grammar, UTF-8,
 * duplicate keys at any depth compared after unescaping, escaped NUL, lone
 * surrogates, number length, depth), the span of a top-level member, and
 * minify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "tests/unit/test.h"

/* Scan NUL-terminated text with a depth limit; returns the rc, sc filled. */
static int scan(const char *text, int depth, const char *member, struct mqc_json_scan *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->max_depth = depth;
    sc->member = member;
    return mqc_json_scan(text, strlen(text), sc);
}

static void expect_ok(const char *text)
{
    struct mqc_json_scan sc;
    if (!CHECK_EQ_INT(scan(text, 64, NULL, &sc), MQC_OK))
        fprintf(stderr, "  refused (%s): %s\n", sc.why ? sc.why : "?", text);
}

/* Refused with a reason containing want (NULL: any reason). */
static void expect_bad(const char *text, const char *want)
{
    struct mqc_json_scan sc;
    if (!CHECK_EQ_INT(scan(text, 64, NULL, &sc), MQC_EBADREQ))
        fprintf(stderr, "  accepted: %s\n", text);
    if (!CHECK(sc.why != NULL && (!want || strstr(sc.why, want))))
        fprintf(stderr, "  reason %s for: %s\n", sc.why ? sc.why : "(none)", text);
}

TEST(grammar_accepted)
{
    static const char *const good[] = {
        "{}",
        "[]",
        "\"s\"",
        "0",
        "-0",
        "1.5",
        "-1.5e-3",
        "1E+2",
        "2e10",
        "true",
        "false",
        "null",
        " \t\r\n{ \"a\" : [ 1 , { } , [ ] , \"x\" ] } \n",
        "{\"a\":{\"b\":{\"c\":[null,true]}}}",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"",
        "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
        "123456789012345678901234567890",
        "1e400",
        "{\"\":1}",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        expect_ok(good[i]);
}

TEST(grammar_refused)
{
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "no JSON value"},
        {"   ", "no JSON value"},
        {"{", "end"},
        {"{\"a\"}", "':'"},
        {"{\"a\":}", "unexpected"},
        {"{\"a\":1,}", "key"},
        {"[1,]", "unexpected"},
        {"[1 2]", "','"},
        {"{a:1}", "key"},
        {"{'a':1}", "key"},
        {"01", "leading zero"},
        {"-01", "leading zero"},
        {"+1", "unexpected"},
        {"1.", "number"},
        {".5", "unexpected"},
        {"1e", "number"},
        {"1e+", "number"},
        {"-", "number"},
        {"NaN", "unexpected"},
        {"Infinity", "unexpected"},
        {"tru", "literal"},
        {"nul", "literal"},
        {"True", "unexpected"},
        {"\"abc", "unterminated"},
        {"\"a\tb\"", "control"},
        {"\"a\nb\"", "control"},
        {"\"\\x\"", "escape"},
        {"\"\\u12\"", "escape"},
        {"\"\\u12g4\"", "escape"},
        {"\"\\u0000\"", "NUL"},
        {"\"\\ud800\"", "surrogate"},
        {"\"\\udc00\"", "surrogate"},
        {"\"\\ud800\\u0041\"", "surrogate"},
        {"\"\\ud800x\"", "surrogate"},
        {"{} {}", "after"},
        {"{}x", "after"},
        {"\xff", "UTF-8"},
        {"\"\xc0\xaf\"", "UTF-8"},
        {"\"\xed\xa0\x80\"", "UTF-8"},
        {"1234567890123456789012345678901234567890123456789012345678901234", "longer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad(bad[i].text, bad[i].why);
    /* A NUL byte anywhere (the length says it is part of the text). */
    struct mqc_json_scan sc = {.max_depth = 8};
    CHECK_EQ_INT(mqc_json_scan("{\"a\":\"x\0y\"}", 11, &sc), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_json_scan("{}\0", 3, &sc), MQC_EBADREQ);
    /* The length, not a NUL, ends the text. */
    CHECK_EQ_INT(mqc_json_scan("{\"a\":1}garbage", 7, &sc), MQC_OK);
    CHECK_EQ_INT(mqc_json_scan("{\"a\":1}", 6, &sc), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_json_scan(NULL, 0, &sc), MQC_EBADREQ);
}

TEST(number_length_limit)
{
    char num[MQC_JSON_NUMBER_MAX + 2];
    memset(num, '7', sizeof num - 1);
    num[MQC_JSON_NUMBER_MAX] = '\0';
    expect_ok(num); /* exactly the limit */
    num[MQC_JSON_NUMBER_MAX] = '7';
    num[MQC_JSON_NUMBER_MAX + 1] = '\0';
    expect_bad(num, "longer");
}

TEST(duplicate_keys)
{
    static const char *const dup[] = {
        "{\"id\":\"dup\",\"id\":\"dup2\",\"body\":\"x\"}",
        "{\"a\":1,\"b\":2,\"a\":3}",
        "{\"a\":{\"k\":1,\"k\":1}}",
        "[[[{\"x\":[],\"x\":[]}]]]",
        "{\"a\":1,\"\\u0061\":2}",                       /* the same key, escaped */
        "{\"\\u00e9\":1,\"\xc3\xa9\":2}",                /* é as escape and as UTF-8 */
        "{\"\\uD83D\\uDE00\":1,\"\xf0\x9f\x98\x80\":2}", /* a pair and its UTF-8 */
        "{\"a/b\":1,\"a\\/b\":2}",
        "{\"\\n\":1,\"\\u000a\":2}",
        "{\"\":1,\"\":2}",
        "{\"p\":{\"a\":1},\"q\":2,\"p\":3}", /* the parent's key after a child object */
    };
    for (size_t i = 0; i < sizeof dup / sizeof dup[0]; i++)
        expect_bad(dup[i], "duplicate key");
    /* Not duplicates: case, other objects, prefixes, other escapes. */
    expect_ok("{\"a\":1,\"A\":2,\"aa\":3,\"\\u0062\":4}");
    expect_ok("{\"k\":{\"k\":{\"k\":1}},\"a\":[{\"k\":1},{\"k\":2}],\"b\":{\"k\":3}}");
    expect_ok("{\"\\u00e9\":1,\"\\u00e8\":2,\"e\":3}");
}

/* Objects with many keys: past the pairwise limit (sorted), past the keys
 * kept inline (heap), nested inside each other, the duplicate anywhere. */
TEST(duplicate_keys_many)
{
    size_t cap = 200000;
    char *buf = malloc(cap);
    if (!CHECK(buf != NULL))
        return;
    for (int nkeys = 2; nkeys <= 5000; nkeys = nkeys < 40 ? nkeys + 1 : nkeys * 3) {
        for (int dup_at = -1; dup_at < nkeys; dup_at += nkeys / 3 + 1) {
            size_t n = 0;
            n += (size_t)snprintf(buf + n, cap - n, "{\"outer\":1,\"in\":{");
            for (int k = 0; k < nkeys; k++) {
                /* key k, or a repeat of key 0 at dup_at, half of them escaped */
                int name = k == dup_at && k > 0 ? 0 : k;
                n += (size_t)snprintf(buf + n, cap - n,
                                      k % 2 ? "%s\"k%d\":%d" : "%s\"\\u006b%d\":%d", k ? "," : "",
                                      name, k);
            }
            n += (size_t)snprintf(buf + n, cap - n, "},\"last\":{\"outer\":2}}");
            struct mqc_json_scan sc = {.max_depth = 8};
            int rc = mqc_json_scan(buf, n, &sc);
            if (dup_at > 0) {
                if (!CHECK_EQ_INT(rc, MQC_EBADREQ))
                    fprintf(stderr, "  keys=%d dup_at=%d accepted\n", nkeys, dup_at);
            } else if (!CHECK_EQ_INT(rc, MQC_OK)) {
                fprintf(stderr, "  keys=%d refused: %s\n", nkeys, sc.why);
            }
        }
    }
    free(buf);
}

TEST(depth_limit)
{
    char buf[2000];
    for (int depth = 1; depth <= 257; depth += 64) {
        for (int limit = depth - 1; limit <= depth; limit++) {
            size_t n = 0;
            for (int d = 0; d < depth; d++) {
                if (d % 2) {
                    buf[n++] = '[';
                } else {
                    memcpy(buf + n, "{\"a\":", 5);
                    n += 5;
                }
            }
            buf[n++] = '1';
            for (int d = depth - 1; d >= 0; d--)
                buf[n++] = d % 2 ? ']' : '}';
            struct mqc_json_scan sc = {.max_depth = limit};
            int rc = mqc_json_scan(buf, n, &sc);
            int effective =
                limit < 1 || limit > MQC_JSON_DEPTH_LIMIT ? MQC_JSON_DEPTH_LIMIT : limit;
            if (depth <= effective)
                CHECK_EQ_INT(rc, MQC_OK);
            else if (CHECK_EQ_INT(rc, MQC_EBADREQ))
                CHECK(strstr(sc.why, "deep") != NULL);
        }
    }
    /* Far deeper than the limit: refused, no recursion to run out of. */
    size_t big = 1000000;
    char *deep = malloc(big);
    if (!CHECK(deep != NULL))
        return;
    memset(deep, '[', big);
    struct mqc_json_scan sc = {.max_depth = 64};
    CHECK_EQ_INT(mqc_json_scan(deep, big, &sc), MQC_EBADREQ);
    CHECK_EQ_INT(sc.err_off, 64);
    free(deep);
}

TEST(member_span)
{
    struct mqc_json_scan sc;
    const char *t =
        "{ \"id\":\"m\", \"attrs\" : { \"n\" : 9007199254740993 } , \"x\":{\"attrs\":1}}";
    if (CHECK_EQ_INT(scan(t, 8, "attrs", &sc), MQC_OK)) {
        CHECK_EQ_INT(sc.type, MQC_JSON_OBJECT);
        CHECK_EQ_INT(sc.member_len, strlen("{ \"n\" : 9007199254740993 }"));
        CHECK(memcmp(t + sc.member_off, "{ \"n\"", 5) == 0);
    }
    /* scalars, last member, escaped key name */
    const char *cases[][2] = {
        {"{\"attrs\":12345678901234567890}", "12345678901234567890"},
        {"{\"a\":1,\"attrs\":\"s\\\"\"}", "\"s\\\"\""},
        {"{\"attr\\u0073\":[1,[2]],\"b\":0}", "[1,[2]]"},
        {"{\"attrs\":null}", "null"},
        {"{\"attrs\":{}}", "{}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!CHECK_EQ_INT(scan(cases[i][0], 8, "attrs", &sc), MQC_OK))
            continue;
        CHECK_EQ_INT(sc.member_len, strlen(cases[i][1]));
        CHECK(memcmp(cases[i][0] + sc.member_off, cases[i][1], strlen(cases[i][1])) == 0);
    }
    /* absent, only nested, not an object at the top */
    CHECK_EQ_INT(scan("{\"x\":{\"attrs\":1}}", 8, "attrs", &sc), MQC_OK);
    CHECK_EQ_INT(sc.member_len, 0);
    CHECK_EQ_INT(scan("[{\"attrs\":1}]", 8, "attrs", &sc), MQC_OK);
    CHECK_EQ_INT(sc.member_len, 0);
    CHECK_EQ_INT(sc.type, MQC_JSON_ARRAY);
    CHECK_EQ_INT(scan("\"attrs\"", 8, "attrs", &sc), MQC_OK);
    CHECK_EQ_INT(sc.member_len, 0);
    CHECK_EQ_INT(sc.type, MQC_JSON_STRING);
}

TEST(minify)
{
    const char *cases[][2] = {
        {" { \"a\" : [ 1 , 2.50 , -0 ] ,\n\t\"b\" : \"x y\\\" \\\\ \" } ",
         "{\"a\":[1,2.50,-0],\"b\":\"x y\\\" \\\\ \"}"},
        {"{\"n\":9007199254740993,\"m\":1e400}", "{\"n\":9007199254740993,\"m\":1e400}"},
        {"[ \"\\u00e9\" , \"\\\\\" ]", "[\"\\u00e9\",\"\\\\\"]"},
        {"{}", "{}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *in = cases[i][0];
        struct mqc_json_scan sc;
        if (!CHECK_EQ_INT(scan(in, 8, NULL, &sc), MQC_OK))
            continue;
        char out[128];
        size_t n = mqc_json_minify(in, strlen(in), out);
        out[n] = '\0';
        CHECK_STR(out, cases[i][1]);
        /* minified text scans clean and minifies to itself */
        CHECK_EQ_INT(scan(out, 8, NULL, &sc), MQC_OK);
        char again[128];
        CHECK_EQ_INT(mqc_json_minify(out, n, again), n);
        CHECK(memcmp(again, out, n) == 0);
    }
}

int main(void)
{
    RUN(grammar_accepted);
    RUN(grammar_refused);
    RUN(number_length_limit);
    RUN(duplicate_keys);
    RUN(duplicate_keys_many);
    RUN(depth_limit);
    RUN(member_span);
    RUN(minify);
    return test_finish();
}
