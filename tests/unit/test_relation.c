/* Relation payloads (edit, delete, react, reply_to) and their events. */
#include <stdlib.h>
#include <string.h>

#include "core/envelope.h"
#include "core/err.h"
#include "core/relation.h"
#include "test.h"

static int parse(const char *json, struct mqc_relation *r, cJSON **root)
{
    const char *why = NULL;
    *root = NULL;
    if (mqc_envelope_parse(json, strlen(json), 65536, root, &why) != MQC_OK)
        return -100;
    int rc = mqc_relation_parse(*root, r, &why);
    if (rc != MQC_OK && !why)
        return -101; /* every refusal has a reason */
    return rc;
}

static int rc_of(const char *json)
{
    struct mqc_relation r;
    cJSON *root;
    int rc = parse(json, &r, &root);
    cJSON_Delete(root);
    return rc;
}

TEST(kinds)
{
    struct mqc_relation r;
    cJSON *root;
    CHECK_EQ_INT(parse("{\"id\":\"a\",\"body\":\"hi\"}", &r, &root), MQC_OK);
    CHECK_EQ_INT(r.kind, MQC_SEND_MSG);
    CHECK_EQ_INT(r.reply_to, 0);
    cJSON_Delete(root);
    CHECK_EQ_INT(parse("{\"id\":\"a\",\"body\":\"hi\",\"reply_to\":41}", &r, &root), MQC_OK);
    CHECK_EQ_INT(r.kind, MQC_SEND_MSG);
    CHECK_EQ_INT(r.reply_to, 41);
    cJSON_Delete(root);
    CHECK_EQ_INT(parse("{\"id\":\"a\",\"edit\":41,\"body\":\"new\"}", &r, &root), MQC_OK);
    CHECK_EQ_INT(r.kind, MQC_SEND_EDIT);
    CHECK_EQ_INT(r.target, 41);
    cJSON_Delete(root);
    CHECK_EQ_INT(parse("{\"id\":\"a\",\"delete\":7}", &r, &root), MQC_OK);
    CHECK_EQ_INT(r.kind, MQC_SEND_DELETE);
    CHECK_EQ_INT(r.target, 7);
    cJSON_Delete(root);
    CHECK_STR(mqc_send_kind_name(MQC_SEND_REACT), "react");
    CHECK_STR(mqc_send_kind_name(MQC_SEND_MSG), "msg");
}

TEST(reactions)
{
    struct mqc_relation r;
    cJSON *root;
    CHECK_EQ_INT(parse("{\"id\":\"a\",\"react\":3,\"emojis\":[\"\xf0\x9f\x91\x8d\",\"x\","
                       "\"\xf0\x9f\x91\x8d\"]}",
                       &r, &root),
                 MQC_OK);
    CHECK_EQ_INT(r.kind, MQC_SEND_REACT);
    CHECK_EQ_INT(r.nemojis, 2); /* the repeat is dropped */
    CHECK_STR(r.emojis[0], "\xf0\x9f\x91\x8d");
    CHECK_STR(r.emojis[1], "x");
    cJSON_Delete(root);
    CHECK_EQ_INT(parse("{\"id\":\"a\",\"react\":3,\"emojis\":[]}", &r, &root), MQC_OK);
    CHECK_EQ_INT(r.nemojis, 0);
    cJSON_Delete(root);
    /* 20 distinct are fine, 21 are not */
    char buf[512] = "{\"id\":\"a\",\"react\":3,\"emojis\":[";
    for (int i = 0; i < 21; i++) {
        char e[16];
        snprintf(e, sizeof e, "%s\"e%d\"", i ? "," : "", i);
        strcat(buf, e);
        if (i == 19) {
            char ok[sizeof buf + 2];
            snprintf(ok, sizeof ok, "%s]}", buf);
            CHECK_EQ_INT(rc_of(ok), MQC_OK);
        }
    }
    strcat(buf, "]}");
    CHECK_EQ_INT(rc_of(buf), MQC_EBADREQ);
}

TEST(refusals)
{
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"edit\":1,\"delete\":1}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"edit\":0,\"body\":\"x\"}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"edit\":-1,\"body\":\"x\"}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"edit\":1.5,\"body\":\"x\"}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"edit\":\"1\",\"body\":\"x\"}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"delete\":9007199254740992}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"delete\":1,\"body\":\"x\"}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"react\":1,\"emojis\":[\"x\"],\"attrs\":{}}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"react\":1}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"react\":1,\"emojis\":\"x\"}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"react\":1,\"emojis\":[1]}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"react\":1,\"emojis\":[\"\"]}"), MQC_EBADREQ);
    CHECK_EQ_INT(
        rc_of("{\"id\":\"a\",\"react\":1,\"emojis\":[\"123456789012345678901234567890123\"]}"),
        MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"body\":\"x\",\"emojis\":[\"x\"]}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"edit\":2,\"body\":\"x\",\"reply_to\":1}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"body\":\"x\",\"reply_to\":0}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"body\":\"x\",\"reply_to\":\"3\"}"), MQC_EBADREQ);
    CHECK_EQ_INT(rc_of("{\"id\":\"a\",\"body\":\"x\",\"reply_to\":null}"), MQC_OK);
}

static char *event(const char *json, const char *conv, int64_t seq)
{
    struct mqc_relation r;
    struct mqc_send s;
    cJSON *root;
    const char *why;
    char *p = NULL, *x = NULL, *out = NULL;
    if (parse(json, &r, &root) != MQC_OK)
        return NULL;
    const cJSON *body = NULL, *attrs = NULL;
    if (r.kind == MQC_SEND_MSG || r.kind == MQC_SEND_EDIT) {
        if (mqc_send_parse(root, &s, &why) != MQC_OK)
            goto out;
        body = s.body;
        attrs = s.attrs;
    }
    if (mqc_relation_event_parts(conv, "i1", "alice", 1000, &r, body, attrs, &p, &x) != MQC_OK)
        goto out;
    out = malloc(strlen(p) + strlen(x) + 24);
    if (out)
        sprintf(out, "%s%lld%s", p, (long long)seq, x);
out:
    free(p);
    free(x);
    cJSON_Delete(root);
    return out;
}

TEST(events)
{
    char *e =
        event("{\"id\":\"i1\",\"body\":\"hi\",\"reply_to\":41,\"attrs\":{\"k\":[1, 2]}}", "c1", 42);
    CHECK_STR(e, "{\"t\":\"msg\",\"conv\":\"c1\",\"seq\":42,\"id\":\"i1\",\"from\":\"alice\","
                 "\"ts\":1000,\"body\":\"hi\",\"attrs\":{\"k\":[1,2]},\"reply_to\":41}");
    free(e);
    e = event("{\"id\":\"i1\",\"edit\":41,\"body\":\"new\"}", "c1", 43);
    CHECK_STR(e, "{\"t\":\"edit\",\"conv\":\"c1\",\"seq\":43,\"id\":\"i1\",\"from\":\"alice\","
                 "\"target\":41,\"body\":\"new\",\"ts\":1000}");
    free(e);
    e = event("{\"id\":\"i1\",\"delete\":41}", "c1", 44);
    CHECK_STR(e, "{\"t\":\"delete\",\"conv\":\"c1\",\"seq\":44,\"id\":\"i1\",\"from\":\"alice\","
                 "\"target\":41,\"ts\":1000}");
    free(e);
    e = event("{\"id\":\"i1\",\"react\":41,\"emojis\":[\"a\",\"b\",\"a\"]}", "c1", 45);
    CHECK_STR(e, "{\"t\":\"react\",\"conv\":\"c1\",\"seq\":45,\"id\":\"i1\",\"from\":\"alice\","
                 "\"target\":41,\"emojis\":[\"a\",\"b\"],\"ts\":1000}");
    free(e);
    e = event("{\"id\":\"i1\",\"react\":41,\"emojis\":[]}", "c1", 46);
    CHECK_STR(e, "{\"t\":\"react\",\"conv\":\"c1\",\"seq\":46,\"id\":\"i1\",\"from\":\"alice\","
                 "\"target\":41,\"emojis\":[],\"ts\":1000}");
    free(e);
}

/* The message fast path prints exactly what the cJSON path prints. */
static void same_both_ways(const char *json, int64_t ts)
{
    struct mqc_relation r;
    struct mqc_send s;
    cJSON *root;
    const char *why;
    char *p1 = NULL, *x1 = NULL, *p2 = NULL, *x2 = NULL;
    CHECK_EQ_INT(parse(json, &r, &root), MQC_OK);
    CHECK_EQ_INT(mqc_send_parse(root, &s, &why), MQC_OK);
    const char *conv = "c\"1\\\x01";
    const char *from = "al\tice\xc3\xa9";
    CHECK_EQ_INT(mqc_relation_event_parts(conv, "i\n1", from, ts, &r, s.body, s.attrs, &p1, &x1),
                 MQC_OK);
    CHECK_EQ_INT(
        mqc_relation_event_parts_json(conv, "i\n1", from, ts, &r, s.body, s.attrs, &p2, &x2),
        MQC_OK);
    CHECK_STR(p1, p2);
    CHECK_STR(x1, x2);
    free(p1);
    free(x1);
    free(p2);
    free(x2);
    cJSON_Delete(root);
}

TEST(fast_path)
{
    same_both_ways("{\"id\":\"i1\",\"body\":\"hi\"}", 1765000000123);
    same_both_ways("{\"id\":\"i1\",\"body\":\"\"}", 0);
    same_both_ways("{\"id\":\"i1\",\"body\":\"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u0001\\u001f "
                   "\\u007f \\u00e9 \\ud83d\\ude00 /\",\"attrs\":{\"k\":[1,2.5,\"x\\u0002\"]},"
                   "\"reply_to\":2147483648}",
                   999999999999999);
    same_both_ways("{\"id\":\"i1\",\"body\":\"x\",\"reply_to\":9007199254740991}",
                   1765000000123); /* past the fast path's numbers: the cJSON path */
    same_both_ways("{\"id\":\"i1\",\"body\":\"x\",\"reply_to\":1}", 1000000000000000);
}

int main(void)
{
    RUN(kinds);
    RUN(reactions);
    RUN(refusals);
    RUN(events);
    RUN(fast_path);
    return test_finish();
}
