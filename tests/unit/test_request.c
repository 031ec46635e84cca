/* Unit tests for core/request.h: every op parses with its fields (create
 * direct/group, add, remove, leave, convs, history with its defaults and
 * caps), and every refusal comes back as MQC_EBADREQ with a reason, out->req
 * set only when the request carried a usable one. mqc_req_cleanup is called
 * after every parse, good or bad. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/envelope.h"
#include "core/err.h"
#include "core/request.h"
#include "tests/unit/test.h"

#define ME "alice"
#define MAXM 10

/* One parsed request: the tree it borrows from, the result, the reason. */
struct parsed {
    cJSON *root;
    struct mqc_req r;
    const char *why;
    int rc;
};

/* Parse json as a request from me with max_members; false (after a failed
 * check) when json itself is not an object. */
static bool parse_as(struct parsed *p, const char *json, const char *me, size_t max_members)
{
    memset(p, 0, sizeof *p);
    p->root = cJSON_Parse(json);
    if (!CHECK(cJSON_IsObject(p->root))) {
        fprintf(stderr, "  test JSON is broken: %s\n", json);
        cJSON_Delete(p->root);
        p->root = NULL;
        return false;
    }
    p->rc = mqc_req_parse(p->root, me, max_members, &p->r, &p->why);
    return true;
}

static bool parse(struct parsed *p, const char *json)
{
    return parse_as(p, json, ME, MAXM);
}

static void done(struct parsed *p)
{
    mqc_req_cleanup(&p->r);
    CHECK(p->r.members == NULL);
    CHECK_EQ_INT(p->r.nmembers, 0);
    cJSON_Delete(p->root);
}

/* Expect json to be refused with MQC_EBADREQ, a reason, and out->req equal
 * to want_req (NULL when the request had no usable req). */
static void refused_as(const char *json, const char *me, size_t max, const char *want_req)
{
    struct parsed p;
    if (!parse_as(&p, json, me, max))
        return;
    if (!CHECK_EQ_INT(p.rc, MQC_EBADREQ))
        fprintf(stderr, "  accepted: %s\n", json);
    CHECK(p.why != NULL && p.why[0] != '\0');
    CHECK_STR(p.r.req, want_req);
    done(&p);
}

static void refused(const char *json)
{
    refused_as(json, ME, MAXM, "r1");
}

/* Is id among r's members? */
static bool has_member(const struct mqc_req *r, const char *id)
{
    for (size_t i = 0; i < r->nmembers; i++) {
        if (r->members[i] && strcmp(r->members[i], id) == 0)
            return true;
    }
    return false;
}

/* ---- good requests ---- */

TEST(create_direct)
{
    struct parsed p;
    if (!parse(&p, "{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"direct\",\"with\":\"bob\"}"))
        return;
    CHECK_EQ_INT(p.rc, MQC_OK);
    CHECK_EQ_INT(p.r.op, MQC_OP_CREATE);
    CHECK_STR(p.r.op_name, "create");
    CHECK_STR(p.r.req, "r1");
    CHECK(!p.r.group);
    CHECK_STR(p.r.with, "bob");
    CHECK_EQ_INT(p.r.nmembers, 0);
    done(&p);
}

TEST(create_group)
{
    struct parsed p;
    if (!parse(&p, "{\"req\":\"r2\",\"op\":\"create\",\"kind\":\"group\",\"title\":\"Team "
                   "\xc3\xa9\",\"members\":[\"bob\",\"carol\"]}"))
        return;
    CHECK_EQ_INT(p.rc, MQC_OK);
    CHECK_EQ_INT(p.r.op, MQC_OP_CREATE);
    CHECK_STR(p.r.req, "r2");
    CHECK(p.r.group);
    CHECK_STR(p.r.title, "Team \xc3\xa9");
    if (CHECK_EQ_INT(p.r.nmembers, 3) && CHECK(p.r.members != NULL)) {
        CHECK_STR(p.r.members[0], ME); /* the creator first */
        CHECK_STR(p.r.members[1], "bob");
        CHECK_STR(p.r.members[2], "carol");
    }
    done(&p);
}

TEST(create_group_dedup)
{
    /* Duplicates are dropped, and the creator listed explicitly is not
     * added twice. */
    struct parsed p;
    if (!parse(&p, "{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\","
                   "\"members\":[\"bob\",\"alice\",\"bob\",\"carol\",\"carol\"]}"))
        return;
    CHECK_EQ_INT(p.rc, MQC_OK);
    if (CHECK_EQ_INT(p.r.nmembers, 3) && CHECK(p.r.members != NULL)) {
        CHECK_STR(p.r.members[0], ME);
        CHECK_STR(p.r.members[1], "bob");
        CHECK_STR(p.r.members[2], "carol");
    }
    done(&p);
}

TEST(create_group_title_absent_or_null)
{
    struct parsed p;
    if (parse(&p, "{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"members\":[\"bob\"]}")) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_STR(p.r.title, "");
        CHECK_EQ_INT(p.r.nmembers, 2);
        done(&p);
    }
    if (parse(&p, "{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"title\":null,"
                  "\"members\":[\"bob\"]}")) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_STR(p.r.title, "");
        done(&p);
    }
}

TEST(create_group_title_256_bytes_ok)
{
    /* 128 two-byte characters: 256 bytes, the most a title may hold */
    char title[257];
    for (int i = 0; i < 128; i++)
        memcpy(title + 2 * i, "\xc3\xa9", 2);
    title[256] = '\0';
    char json[600];
    snprintf(json, sizeof json,
             "{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"title\":\"%s\","
             "\"members\":[\"bob\"]}",
             title);
    struct parsed p;
    if (!parse(&p, json))
        return;
    CHECK_EQ_INT(p.rc, MQC_OK);
    CHECK_STR(p.r.title, title);
    done(&p);
}

TEST(create_group_max_members_counts_creator)
{
    struct parsed p;
    /* max 3: creator + 2 fit */
    if (parse_as(&p,
                 "{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\","
                 "\"members\":[\"b\",\"c\"]}",
                 ME, 3)) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_EQ_INT(p.r.nmembers, 3);
        done(&p);
    }
    /* the creator listed among 3 is still 3 distinct members */
    if (parse_as(&p,
                 "{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\","
                 "\"members\":[\"b\",\"alice\",\"c\"]}",
                 ME, 3)) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_EQ_INT(p.r.nmembers, 3);
        done(&p);
    }
    /* duplicates do not count against the cap */
    if (parse_as(&p,
                 "{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\","
                 "\"members\":[\"b\",\"b\"]}",
                 ME, 2)) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_EQ_INT(p.r.nmembers, 2);
        done(&p);
    }
    /* creator + 3 = 4 > 3 */
    refused_as("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\","
               "\"members\":[\"b\",\"c\",\"d\"]}",
               ME, 3, "r1");
    /* more listed than the cap at all */
    refused_as("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\","
               "\"members\":[\"b\",\"c\",\"d\",\"e\"]}",
               ME, 3, "r1");
}

TEST(add_and_remove)
{
    struct parsed p;
    if (parse(&p,
              "{\"req\":\"r1\",\"op\":\"add\",\"conv\":\"g-1\",\"members\":[\"bob\",\"carol\"]}")) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_EQ_INT(p.r.op, MQC_OP_ADD);
        CHECK_STR(p.r.op_name, "add");
        CHECK_STR(p.r.conv, "g-1");
        /* the asking user is not inserted for add */
        if (CHECK_EQ_INT(p.r.nmembers, 2)) {
            CHECK_STR(p.r.members[0], "bob");
            CHECK_STR(p.r.members[1], "carol");
        }
        CHECK(!has_member(&p.r, ME));
        done(&p);
    }
    if (parse(
            &p,
            "{\"req\":\"r1\",\"op\":\"remove\",\"conv\":\"g-1\",\"members\":[\"bob\",\"bob\"]}")) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_EQ_INT(p.r.op, MQC_OP_REMOVE);
        CHECK_STR(p.r.op_name, "remove");
        CHECK_STR(p.r.conv, "g-1");
        if (CHECK_EQ_INT(p.r.nmembers, 1))
            CHECK_STR(p.r.members[0], "bob");
        done(&p);
    }
    refused("{\"req\":\"r1\",\"op\":\"add\",\"members\":[\"bob\"]}");
    refused("{\"req\":\"r1\",\"op\":\"add\",\"conv\":\"g-1\"}");
    refused("{\"req\":\"r1\",\"op\":\"add\",\"conv\":\"g-1\",\"members\":[]}");
    refused("{\"req\":\"r1\",\"op\":\"remove\",\"conv\":\"g-1\",\"members\":[]}");
    refused("{\"req\":\"r1\",\"op\":\"remove\",\"members\":[\"bob\"]}");
    refused("{\"req\":\"r1\",\"op\":\"add\",\"conv\":\"g/1\",\"members\":[\"bob\"]}");
    refused("{\"req\":\"r1\",\"op\":\"add\",\"conv\":5,\"members\":[\"bob\"]}");
}

TEST(leave)
{
    struct parsed p;
    if (parse(&p, "{\"req\":\"r1\",\"op\":\"leave\",\"conv\":\"d-abc\"}")) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_EQ_INT(p.r.op, MQC_OP_LEAVE);
        CHECK_STR(p.r.op_name, "leave");
        CHECK_STR(p.r.conv, "d-abc");
        done(&p);
    }
    refused("{\"req\":\"r1\",\"op\":\"leave\"}");
    refused("{\"req\":\"r1\",\"op\":\"leave\",\"conv\":\"\"}");
    refused("{\"req\":\"r1\",\"op\":\"leave\",\"conv\":\"a+b\"}");
    refused("{\"req\":\"r1\",\"op\":\"leave\",\"conv\":null}");
}

TEST(convs)
{
    struct parsed p;
    if (!parse(&p, "{\"req\":\"r1\",\"op\":\"convs\"}"))
        return;
    CHECK_EQ_INT(p.rc, MQC_OK);
    CHECK_EQ_INT(p.r.op, MQC_OP_CONVS);
    CHECK_STR(p.r.op_name, "convs");
    CHECK_STR(p.r.req, "r1");
    done(&p);
}

TEST(history_defaults)
{
    struct parsed p;
    if (!parse(&p, "{\"req\":\"r1\",\"op\":\"history\",\"conv\":\"c1\"}"))
        return;
    CHECK_EQ_INT(p.rc, MQC_OK);
    CHECK_EQ_INT(p.r.op, MQC_OP_HISTORY);
    CHECK_STR(p.r.op_name, "history");
    CHECK_STR(p.r.conv, "c1");
    CHECK_EQ_INT(p.r.before, -1);
    CHECK_EQ_INT(p.r.limit, MQC_HISTORY_DEFAULT);
    CHECK_EQ_INT(MQC_HISTORY_DEFAULT, 50);
    done(&p);
}

TEST(history_values)
{
    struct parsed p;
    if (parse(&p,
              "{\"req\":\"r1\",\"op\":\"history\",\"conv\":\"c1\",\"before\":120,\"limit\":7}")) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_EQ_INT(p.r.before, 120);
        CHECK_EQ_INT(p.r.limit, 7);
        done(&p);
    }
    if (parse(&p, "{\"req\":\"r1\",\"op\":\"history\",\"conv\":\"c1\",\"before\":0,\"limit\":1}")) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_EQ_INT(p.r.before, 0);
        CHECK_EQ_INT(p.r.limit, 1);
        done(&p);
    }
    if (parse(&p, "{\"req\":\"r1\",\"op\":\"history\",\"conv\":\"c1\",\"limit\":200}")) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_EQ_INT(p.r.limit, 200);
        done(&p);
    }
    /* over the cap is capped, not refused */
    if (parse(&p, "{\"req\":\"r1\",\"op\":\"history\",\"conv\":\"c1\",\"limit\":201}")) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_EQ_INT(p.r.limit, MQC_HISTORY_MAX);
        CHECK_EQ_INT(MQC_HISTORY_MAX, 200);
        done(&p);
    }
    if (parse(&p, "{\"req\":\"r1\",\"op\":\"history\",\"conv\":\"c1\",\"limit\":1000000}")) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_EQ_INT(p.r.limit, 200);
        done(&p);
    }
}

TEST(history_refused)
{
    refused("{\"req\":\"r1\",\"op\":\"history\",\"conv\":\"c1\",\"limit\":0}");
    refused("{\"req\":\"r1\",\"op\":\"history\",\"conv\":\"c1\",\"limit\":-5}");
    refused("{\"req\":\"r1\",\"op\":\"history\",\"conv\":\"c1\",\"limit\":2.5}");
    refused("{\"req\":\"r1\",\"op\":\"history\",\"conv\":\"c1\",\"limit\":\"10\"}");
    refused("{\"req\":\"r1\",\"op\":\"history\",\"conv\":\"c1\",\"before\":-1}");
    refused("{\"req\":\"r1\",\"op\":\"history\",\"conv\":\"c1\",\"before\":-100}");
    refused("{\"req\":\"r1\",\"op\":\"history\",\"conv\":\"c1\",\"before\":1.5}");
    refused("{\"req\":\"r1\",\"op\":\"history\",\"conv\":\"c1\",\"before\":9007199254740992}");
    refused("{\"req\":\"r1\",\"op\":\"history\"}");
}

/* ---- refusals ---- */

TEST(req_missing_empty_or_too_long)
{
    refused_as("{\"op\":\"convs\"}", ME, MAXM, NULL);
    refused_as("{\"req\":\"\",\"op\":\"convs\"}", ME, MAXM, NULL);
    refused_as("{\"req\":7,\"op\":\"convs\"}", ME, MAXM, NULL);
    refused_as("{\"req\":null,\"op\":\"convs\"}", ME, MAXM, NULL);
    refused_as("{\"req\":\"12345678901234567890123456789012345678901234567890123456789012345\","
               "\"op\":\"convs\"}",
               ME, MAXM, NULL); /* 65 characters */
    /* 64 characters is fine */
    struct parsed p;
    if (parse(&p, "{\"req\":\"1234567890123456789012345678901234567890123456789012345678901234\","
                  "\"op\":\"convs\"}")) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_EQ_INT(strlen(p.r.req), 64);
        done(&p);
    }
}

TEST(unknown_op)
{
    /* req is usable, so it is kept for the err event */
    refused("{\"req\":\"r1\",\"op\":\"explode\"}");
    refused("{\"req\":\"r1\",\"op\":\"CREATE\"}");
    refused("{\"req\":\"r1\",\"op\":\"\"}");
    refused("{\"req\":\"r1\",\"op\":1}");
    refused("{\"req\":\"r1\"}");
}

TEST(create_bad_kind)
{
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"channel\",\"with\":\"bob\"}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"Direct\",\"with\":\"bob\"}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"with\":\"bob\"}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":1,\"with\":\"bob\"}");
}

TEST(create_direct_bad_with)
{
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"direct\",\"with\":\"alice\"}"); /* me */
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"direct\"}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"direct\",\"with\":\"\"}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"direct\",\"with\":\"bo b\"}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"direct\",\"with\":\"#\"}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"direct\",\"with\":\"a/b\"}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"direct\",\"with\":42}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"direct\",\"with\":"
            "\"12345678901234567890123456789012345678901234567890123456789012345\"}");
}

TEST(create_group_bad_members)
{
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\"}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"members\":\"bob\"}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"members\":{\"bob\":1}}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"members\":null}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"members\":[\"bob\",5]}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"members\":[\"bob\",null]}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"members\":[[\"bob\"]]}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"members\":[\"bob\",\"\"]}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"members\":[\"bob\",\"c+d\"]}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"members\":[\"b\xc3\xa9\"]}");
    refused("{\"req\":\"r1\",\"op\":\"add\",\"conv\":\"g-1\",\"members\":[\"ok\",\"not ok\"]}");
    refused("{\"req\":\"r1\",\"op\":\"remove\",\"conv\":\"g-1\",\"members\":[1]}");
}

TEST(too_many_members)
{
    /* MAXM (10) listed + the creator = 11 */
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"members\":"
            "[\"m1\",\"m2\",\"m3\",\"m4\",\"m5\",\"m6\",\"m7\",\"m8\",\"m9\",\"m10\"]}");
    /* add takes up to MAXM, no creator inserted */
    struct parsed p;
    if (parse(&p, "{\"req\":\"r1\",\"op\":\"add\",\"conv\":\"g-1\",\"members\":"
                  "[\"m1\",\"m2\",\"m3\",\"m4\",\"m5\",\"m6\",\"m7\",\"m8\",\"m9\",\"m10\"]}")) {
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_EQ_INT(p.r.nmembers, 10);
        done(&p);
    }
    refused("{\"req\":\"r1\",\"op\":\"add\",\"conv\":\"g-1\",\"members\":"
            "[\"m1\",\"m2\",\"m3\",\"m4\",\"m5\",\"m6\",\"m7\",\"m8\",\"m9\",\"m10\",\"m11\"]}");
}

TEST(title_bad)
{
    char title[258];
    memset(title, 't', 257);
    title[257] = '\0';
    char json[600];
    snprintf(json, sizeof json,
             "{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"title\":\"%s\","
             "\"members\":[\"bob\"]}",
             title);
    refused(json); /* 257 bytes */
    /* "x" + 128 e-acute: 257 bytes though only 129 characters; the cap is
     * in bytes */
    title[0] = 'x';
    for (int i = 0; i < 128; i++)
        memcpy(title + 1 + 2 * i, "\xc3\xa9", 2);
    title[257] = '\0';
    snprintf(json, sizeof json,
             "{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"title\":\"%s\","
             "\"members\":[\"bob\"]}",
             title);
    refused(json);
    refused(
        "{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"title\":5,\"members\":[\"bob\"]}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"title\":[\"t\"],"
            "\"members\":[\"bob\"]}");
    refused("{\"req\":\"r1\",\"op\":\"create\",\"kind\":\"group\",\"title\":true,"
            "\"members\":[\"bob\"]}");
}

TEST(cleanup_is_safe)
{
    /* cleanup of a zeroed request, twice in a row */
    struct mqc_req r;
    memset(&r, 0, sizeof r);
    mqc_req_cleanup(&r);
    mqc_req_cleanup(&r);
    CHECK(r.members == NULL);
    CHECK_EQ_INT(r.nmembers, 0);
}

TEST(block_ops)
{
    struct parsed p;
    const char *ok[] = {"{\"req\":\"r\",\"op\":\"block\",\"user\":\"mallory\"}",
                        "{\"req\":\"r\",\"op\":\"unblock\",\"user\":\"mallory\"}"};
    for (int i = 0; i < 2; i++) {
        if (!parse(&p, ok[i]))
            return;
        CHECK_EQ_INT(p.rc, MQC_OK);
        CHECK_EQ_INT(p.r.op, i == 0 ? MQC_OP_BLOCK : MQC_OP_UNBLOCK);
        CHECK_STR(p.r.user, "mallory");
        done(&p);
    }
    if (!parse(&p, "{\"req\":\"r\",\"op\":\"blocked\"}"))
        return;
    CHECK_EQ_INT(p.rc, MQC_OK);
    CHECK_EQ_INT(p.r.op, MQC_OP_BLOCKED);
    done(&p);
    /* me is "alice" (parse()): oneself, missing, bad id, not a string */
    const char *bad[] = {"{\"req\":\"r\",\"op\":\"block\",\"user\":\"alice\"}",
                         "{\"req\":\"r\",\"op\":\"block\"}",
                         "{\"req\":\"r\",\"op\":\"unblock\",\"user\":\"a/b\"}",
                         "{\"req\":\"r\",\"op\":\"block\",\"user\":7}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!parse(&p, bad[i]))
            return;
        CHECK_EQ_INT(p.rc, MQC_EBADREQ);
        CHECK_STR(p.r.req, "r");
        done(&p);
    }
}

TEST(attachment_ops)
{
    struct parsed p;
    if (!parse(&p, "{\"req\":\"r\",\"op\":\"upload\",\"conv\":\"c1\",\"name\":\"cat.jpg\","
                   "\"type\":\"image/jpeg\",\"size\":123456}"))
        return;
    CHECK_EQ_INT(p.rc, MQC_OK);
    CHECK_EQ_INT(p.r.op, MQC_OP_UPLOAD);
    CHECK_STR(p.r.conv, "c1");
    CHECK_STR(p.r.name, "cat.jpg");
    CHECK_STR(p.r.type, "image/jpeg");
    CHECK(p.r.size == 123456);
    done(&p);
    if (!parse(&p, "{\"req\":\"r\",\"op\":\"download\",\"conv\":\"c1\",\"key\":\"c1/x\"}"))
        return;
    CHECK_EQ_INT(p.rc, MQC_OK);
    CHECK_EQ_INT(p.r.op, MQC_OP_DOWNLOAD);
    CHECK_STR(p.r.key, "c1/x");
    done(&p);
    const char *bad[] = {
        "{\"req\":\"r\",\"op\":\"upload\",\"conv\":\"c1\",\"name\":\"a\",\"type\":\"a/b\"}",
        "{\"req\":\"r\",\"op\":\"upload\",\"conv\":\"c1\",\"name\":\"a\",\"type\":\"a/b\","
        "\"size\":-1}",
        "{\"req\":\"r\",\"op\":\"upload\",\"conv\":\"c1\",\"name\":\"a\",\"type\":\"a/b\","
        "\"size\":\"5\"}",
        "{\"req\":\"r\",\"op\":\"upload\",\"conv\":\"c1\",\"name\":\"\",\"type\":\"a/b\","
        "\"size\":5}",
        "{\"req\":\"r\",\"op\":\"upload\",\"conv\":\"c1\",\"name\":\"a\",\"type\":\"a/b;c\","
        "\"size\":5}",
        "{\"req\":\"r\",\"op\":\"upload\",\"conv\":\"c/1\",\"name\":\"a\",\"type\":\"a/b\","
        "\"size\":5}",
        "{\"req\":\"r\",\"op\":\"download\",\"conv\":\"c1\"}",
        "{\"req\":\"r\",\"op\":\"download\",\"conv\":\"c1\",\"key\":7}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!parse(&p, bad[i]))
            return;
        CHECK_EQ_INT(p.rc, MQC_EBADREQ);
        done(&p);
    }
}

int main(void)
{
    RUN(create_direct);
    RUN(create_group);
    RUN(create_group_dedup);
    RUN(create_group_title_absent_or_null);
    RUN(create_group_title_256_bytes_ok);
    RUN(create_group_max_members_counts_creator);
    RUN(add_and_remove);
    RUN(leave);
    RUN(convs);
    RUN(history_defaults);
    RUN(history_values);
    RUN(history_refused);
    RUN(req_missing_empty_or_too_long);
    RUN(unknown_op);
    RUN(create_bad_kind);
    RUN(create_direct_bad_with);
    RUN(create_group_bad_members);
    RUN(too_many_members);
    RUN(title_bad);
    RUN(cleanup_is_safe);
    RUN(block_ops);
    RUN(attachment_ops);
    return test_finish();
}
