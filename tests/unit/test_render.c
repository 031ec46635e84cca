/* Unit tests for cli/render.h: each event type of PROTOCOL.md turns into the
 * display line the terminal client prints, malformed events still render,
 * and nothing from the network can put a control character on the
 * terminal. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli/render.h"
#include "core/err.h"
#include "tests/unit/test.h"

/* Render the event JSON text json as seen by me; checks the result is MQC_OK
 * and returns the line owned (NULL after a failed check). */
static char *line_of(const char *json, const char *me)
{
    cJSON *ev = cJSON_Parse(json);
    if (!CHECK(ev != NULL))
        return NULL;
    char *out = NULL;
    int rc = mqc_render_event(ev, me, &out);
    cJSON_Delete(ev);
    if (!CHECK_EQ_INT(rc, MQC_OK))
        return NULL;
    return out;
}

/* Does s hold any byte below 0x20, DEL, or a C1 control as UTF-8? */
static bool has_controls(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7F)
            return true;
        if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
            return true;
    }
    return false;
}

TEST(msg)
{
    char *s =
        line_of("{\"t\":\"msg\",\"conv\":\"d-1\",\"seq\":42,\"id\":\"m-1\",\"from\":\"alice\","
                "\"ts\":1764294000123,\"body\":\"hello\"}",
                "bob");
    CHECK_STR(s, "[d-1] alice: hello (seq 42)");
    free(s);
}

TEST(msg_reply_to_and_utf8)
{
    char *s = line_of("{\"t\":\"msg\",\"conv\":\"g-5\",\"seq\":43,\"id\":\"m-2\",\"from\":\"bob\","
                      "\"body\":\"gr\\u00fc\\u00df dich \\u2603\",\"attrs\":{\"reply_to\":41}}",
                      "alice");
    CHECK_STR(s, "[g-5] bob: gr\xc3\xbc\xc3\x9f dich \xe2\x98\x83 (seq 43) (reply to 41)");
    free(s);
}

TEST(msg_with_attachment)
{
    char *s = line_of("{\"t\":\"msg\",\"conv\":\"d-1\",\"seq\":7,\"from\":\"bob\",\"body\":\"\","
                      "\"attrs\":{\"attachment\":{\"key\":\"d-1/k\",\"name\":\"cat\\u001b[2J.jpg\","
                      "\"type\":\"image/jpeg\",\"size\":1234}}}",
                      "alice");
    /* The sender's file name is shown with its control characters neutralised. */
    CHECK(s && strstr(s, "[d-1] bob:  (seq 7) [photo cat"));
    CHECK(s && strstr(s, "[2J.jpg, 1234 bytes; /get 7]"));
    CHECK(s && !strchr(s, 0x1b));
    free(s);
    s = line_of("{\"t\":\"msg\",\"conv\":\"d-1\",\"seq\":8,\"from\":\"bob\",\"body\":\"see\","
                "\"attrs\":{\"attachment\":{\"name\":\"a.pdf\",\"type\":\"application/pdf\"}}}",
                "alice");
    CHECK_STR(s, "[d-1] bob: see (seq 8) [file a.pdf; /get 8]");
    free(s);
}

TEST(msg_without_body_or_seq)
{
    char *s = line_of("{\"t\":\"msg\",\"conv\":\"c1\",\"from\":\"x\",\"body\":7}", NULL);
    CHECK_STR(s, "[c1] x: (no text) (seq ?)");
    free(s);
}

TEST(body_controls_are_neutralised)
{
    /* ESC [2J (clear screen), BEL, CR, a C1 CSI (U+009B), DEL, a newline, a tab. */
    char *s = line_of("{\"t\":\"msg\",\"conv\":\"c1\",\"seq\":1,\"from\":\"eve\","
                      "\"body\":\"a\\u001b[2Jb\\u0007c\\rd\\u009be\\u007ff\\ng\\th\"}",
                      "bob");
    if (!CHECK(s != NULL))
        return;
    CHECK(!has_controls(s));
    CHECK_STR(s, "[c1] eve: a?[2Jb?c?d?e?f\\ng h (seq 1)");
    free(s);
}

TEST(sender_name_and_conv_sanitized)
{
    char *s = line_of("{\"t\":\"msg\",\"conv\":\"c\\u001b1\",\"seq\":1,\"from\":\"a\\u001bb\","
                      "\"body\":\"x\"}",
                      "bob");
    if (!CHECK(s != NULL))
        return;
    CHECK(!has_controls(s));
    CHECK_STR(s, "[c?1] a?b: x (seq 1)");
    free(s);
}

TEST(member_added_removed_left)
{
    char *s = line_of("{\"t\":\"member\",\"conv\":\"g-3\",\"seq\":1,\"op\":\"added\","
                      "\"users\":[\"alice\",\"bob\",\"carol\"],\"by\":\"alice\",\"ts\":5}",
                      "bob");
    CHECK_STR(s, "[g-3] alice created the group with bob, carol (seq 1)");
    free(s);
    s = line_of("{\"t\":\"member\",\"conv\":\"g-3\",\"seq\":1,\"op\":\"added\","
                "\"users\":[\"alice\",\"bob\",\"carol\"],\"by\":\"alice\",\"ts\":5}",
                "alice");
    CHECK_STR(s, "[g-3] you created the group with bob, carol (seq 1)");
    free(s);
    s = line_of("{\"t\":\"member\",\"conv\":\"g-3\",\"seq\":1,\"op\":\"added\","
                "\"users\":[\"alice\"],\"by\":\"alice\"}",
                "alice");
    CHECK_STR(s, "[g-3] you created the group (seq 1)");
    free(s);
    s = line_of("{\"t\":\"member\",\"conv\":\"g-3\",\"seq\":7,\"op\":\"added\","
                "\"users\":[\"dave\"],\"by\":\"alice\"}",
                "alice");
    CHECK_STR(s, "[g-3] you added dave (seq 7)");
    free(s);
    s = line_of("{\"t\":\"member\",\"conv\":\"g-3\",\"seq\":8,\"op\":\"removed\","
                "\"users\":[\"carol\"],\"by\":\"alice\"}",
                "alice");
    CHECK_STR(s, "[g-3] you removed carol (seq 8)");
    free(s);
    s = line_of("{\"t\":\"member\",\"conv\":\"g-3\",\"seq\":9,\"op\":\"left\","
                "\"users\":[\"bob\"],\"by\":\"bob\"}",
                "alice");
    CHECK_STR(s, "[g-3] bob left (seq 9)");
    free(s);
}

TEST(receipt)
{
    char *s = line_of("{\"t\":\"receipt\",\"conv\":\"g-3\",\"user\":\"bob\",\"type\":\"read\","
                      "\"seq\":42,\"ts\":1}",
                      "alice");
    CHECK_STR(s, "[g-3] bob read up to 42");
    free(s);
    s = line_of("{\"t\":\"receipt\",\"conv\":\"g-3\",\"user\":\"alice\",\"type\":\"delivered\","
                "\"seq\":7}",
                "alice");
    CHECK_STR(s, "[g-3] you received up to 7");
    free(s);
}

TEST(typing)
{
    char *s = line_of("{\"t\":\"typing\",\"conv\":\"d-1\",\"user\":\"bob\",\"state\":\"composing\","
                      "\"ts\":1}",
                      "alice");
    CHECK_STR(s, "[d-1] bob is typing...");
    free(s);
    s = line_of("{\"t\":\"typing\",\"conv\":\"d-1\",\"user\":\"bob\",\"state\":\"paused\"}",
                "alice");
    CHECK_STR(s, "[d-1] bob stopped typing");
    free(s);
}

TEST(err_with_id_and_req)
{
    char *s = line_of("{\"t\":\"err\",\"id\":\"m-17\",\"code\":\"not_member\","
                      "\"msg\":\"not a member of this conversation\",\"ts\":1}",
                      "alice");
    CHECK_STR(s, "error not_member: not a member of this conversation (id m-17)");
    free(s);
    s = line_of("{\"t\":\"err\",\"req\":\"r1\",\"code\":\"not_found\",\"msg\":\"no such user\"}",
                "alice");
    CHECK_STR(s, "error not_found: no such user (req r1)");
    free(s);
    s = line_of("{\"t\":\"err\",\"code\":\"bad_request\"}", "alice");
    CHECK_STR(s, "error bad_request: ?");
    free(s);
}

TEST(system_broadcast)
{
    char *s = line_of("{\"t\":\"system\",\"text\":\"maintenance at 18:00\",\"ts\":1764294000000}",
                      "alice");
    CHECK_STR(s, "*** system: maintenance at 18:00");
    free(s);
    s = line_of("{\"t\":\"system\",\"text\":\"a\\u001b[2Jb\"}", "alice");
    CHECK_STR(s, "*** system: a?[2Jb");
    free(s);
    s = line_of("{\"t\":\"system\"}", "alice");
    CHECK_STR(s, "*** system: ?");
    free(s);
}

TEST(error_with_context)
{
    cJSON *ev = cJSON_Parse("{\"t\":\"err\",\"req\":\"r1\",\"code\":\"not_member\","
                            "\"msg\":\"not a member\\nof this\"}");
    char *out = NULL;
    CHECK_EQ_INT(mqc_render_error(ev, "/history in g-1", &out), MQC_OK);
    CHECK_STR(out, "/history in g-1: not a member\\nof this (not_member)");
    free(out);
    cJSON_Delete(ev);
    ev = cJSON_Parse("{\"t\":\"err\"}");
    CHECK_EQ_INT(mqc_render_error(ev, "typing in c\x1b", &out), MQC_OK);
    CHECK_STR(out, "typing in c?: refused (?)");
    free(out);
    cJSON_Delete(ev);
}

TEST(res_summary)
{
    char *s = line_of("{\"t\":\"res\",\"req\":\"r1\",\"op\":\"create\",\"conv\":\"d-8d\",\"ts\":1}",
                      "alice");
    CHECK_STR(s, "ok create: conv d-8d");
    free(s);
    s = line_of("{\"t\":\"res\",\"req\":\"r6\",\"op\":\"convs\",\"items\":[{},{}]}", "alice");
    CHECK_STR(s, "ok convs (2 items)");
    free(s);
}

TEST(unknown_type_shows_json)
{
    char *s = line_of("{\"t\":\"presence\",\"user\":\"bob\",\"state\":\"online\"}", "alice");
    CHECK_STR(s, "event presence: {\"t\":\"presence\",\"user\":\"bob\",\"state\":\"online\"}");
    free(s);
}

TEST(not_an_event)
{
    char *out = (char *)"x";
    cJSON *arr = cJSON_Parse("[1,2]");
    CHECK_EQ_INT(mqc_render_event(arr, "a", &out), MQC_EBADREQ);
    CHECK(out == NULL);
    cJSON_Delete(arr);
    cJSON *not = cJSON_Parse("{\"t\":5}");
    CHECK_EQ_INT(mqc_render_event(not, "a", &out), MQC_EBADREQ);
    cJSON_Delete(not );
    CHECK_EQ_INT(mqc_render_event(NULL, "a", &out), MQC_EBADREQ);
}

TEST(convs_list)
{
    cJSON *res = cJSON_Parse(
        "{\"t\":\"res\",\"req\":\"r6\",\"op\":\"convs\",\"items\":["
        "{\"conv\":\"g-3f\",\"kind\":\"group\",\"title\":\"Team\",\"members\":[\"alice\",\"bob\"],"
        "\"admins\":[\"alice\"],\"last_seq\":9,\"read_seq\":7,\"unread\":2},"
        "{\"conv\":\"d-8d\",\"kind\":\"direct\",\"members\":[\"alice\",\"bob\"],\"admins\":[],"
        "\"last_seq\":3,\"read_seq\":3,\"unread\":0}],\"ts\":1}");
    if (!CHECK(res != NULL))
        return;
    char *out = NULL;
    CHECK_EQ_INT(mqc_render_convs(res, "alice", &out), MQC_OK);
    CHECK_STR(out, "  g-3f  group  \"Team\"  members: alice, bob  unread 2\n"
                   "  d-8d  direct  with bob  members: alice, bob  unread 0");
    free(out);
    cJSON_Delete(res);
}

TEST(convs_empty_and_bad)
{
    cJSON *res = cJSON_Parse("{\"t\":\"res\",\"op\":\"convs\",\"items\":[]}");
    char *out = NULL;
    CHECK_EQ_INT(mqc_render_convs(res, "alice", &out), MQC_OK);
    CHECK_STR(out, "  (no conversations)");
    free(out);
    cJSON_Delete(res);
    res = cJSON_Parse("{\"t\":\"res\",\"op\":\"convs\"}");
    CHECK_EQ_INT(mqc_render_convs(res, "alice", &out), MQC_EBADREQ);
    CHECK(out == NULL);
    cJSON_Delete(res);
}

TEST(convs_title_sanitized)
{
    cJSON *res = cJSON_Parse("{\"items\":[{\"conv\":\"g-1\",\"kind\":\"group\","
                             "\"title\":\"\\u001b]0;pwned\\u0007\",\"members\":[\"a\"],"
                             "\"unread\":0}]}");
    char *out = NULL;
    CHECK_EQ_INT(mqc_render_convs(res, "a", &out), MQC_OK);
    CHECK(out && !has_controls(out));
    CHECK_STR(out, "  g-1  group  \"?]0;pwned?\"  members: a  unread 0");
    free(out);
    cJSON_Delete(res);
}

TEST(history)
{
    cJSON *res = cJSON_Parse(
        "{\"t\":\"res\",\"req\":\"r7\",\"op\":\"history\",\"conv\":\"g-3\",\"items\":["
        "{\"t\":\"member\",\"conv\":\"g-3\",\"seq\":7,\"op\":\"added\",\"users\":[\"dave\"],"
        "\"by\":\"alice\"},"
        "{\"t\":\"msg\",\"conv\":\"g-3\",\"seq\":8,\"id\":\"m\",\"from\":\"dave\",\"body\":\"hi\"}]"
        ","
        "\"more\":true}");
    char *out = NULL;
    CHECK_EQ_INT(mqc_render_history(res, "bob", &out), MQC_OK);
    CHECK_STR(out, "  [g-3] alice added dave (seq 7)\n"
                   "  [g-3] dave: hi (seq 8)\n"
                   "  (more: /history again for older)");
    free(out);
    cJSON_Delete(res);
    res = cJSON_Parse("{\"items\":[],\"more\":false}");
    CHECK_EQ_INT(mqc_render_history(res, "bob", &out), MQC_OK);
    CHECK_STR(out, "  (beginning of conversation)");
    free(out);
    cJSON_Delete(res);
}

TEST(safe_copy)
{
    char *out = NULL;
    CHECK_EQ_INT(mqc_render_safe("ok \xe2\x82\xac", &out), MQC_OK);
    CHECK_STR(out, "ok \xe2\x82\xac");
    free(out);
    /* invalid UTF-8: a lone continuation byte, a truncated sequence, an
     * overlong '/', an encoded surrogate */
    CHECK_EQ_INT(mqc_render_safe("a\x80"
                                 "b\xe2\x82"
                                 "c\xc0\xaf"
                                 "d\xed\xa0\x80"
                                 "e",
                                 &out),
                 MQC_OK);
    if (CHECK(out != NULL)) {
        CHECK(!has_controls(out));
        CHECK(strchr(out, 0x80) == NULL);
        CHECK(test_contains(out, "a?b"));
        CHECK(out[strlen(out) - 1] == 'e');
    }
    free(out);
    CHECK_EQ_INT(mqc_render_safe(NULL, &out), MQC_OK);
    CHECK_STR(out, "");
    free(out);
}

/* ---- message relations ---- */

TEST(relation_events)
{
    char *s =
        line_of("{\"t\":\"msg\",\"conv\":\"d-1\",\"seq\":42,\"from\":\"bob\",\"body\":\"yes\","
                "\"reply_to\":41}",
                "alice");
    CHECK_STR(s, "[d-1] bob: yes (seq 42) (reply to 41)");
    free(s);
    s = line_of("{\"t\":\"msg\",\"conv\":\"d-1\",\"seq\":41,\"from\":\"bob\",\"deleted\":true}",
                "alice");
    CHECK_STR(s, "[d-1] bob: (message deleted) (seq 41)");
    free(s);
    s = line_of("{\"t\":\"edit\",\"conv\":\"d-1\",\"seq\":45,\"id\":\"e\",\"from\":\"bob\","
                "\"target\":41,\"body\":\"fixed\\u001b[2J\",\"ts\":1}",
                "alice");
    CHECK_STR(s, "[d-1] #41 edited: fixed?[2J (seq 45)");
    free(s);
    s = line_of("{\"t\":\"edit\",\"conv\":\"d-1\",\"seq\":45,\"from\":\"bob\",\"target\":41,"
                "\"deleted\":true}",
                "alice");
    CHECK_STR(s, "[d-1] #41 edited: (erased) (seq 45)");
    free(s);
    s = line_of("{\"t\":\"delete\",\"conv\":\"d-1\",\"seq\":46,\"from\":\"alice\",\"target\":41}",
                "alice");
    CHECK_STR(s, "[d-1] #41 deleted by you (seq 46)");
    free(s);
    s = line_of("{\"t\":\"react\",\"conv\":\"d-1\",\"seq\":47,\"from\":\"bob\",\"target\":41,"
                "\"emojis\":[\"\xf0\x9f\x91\x8d\",\"\xf0\x9f\x8e\x89\"]}",
                "alice");
    CHECK_STR(s, "[d-1] bob reacted to #41: \xf0\x9f\x91\x8d \xf0\x9f\x8e\x89 (seq 47)");
    free(s);
    s = line_of("{\"t\":\"react\",\"conv\":\"d-1\",\"seq\":48,\"from\":\"bob\",\"target\":41,"
                "\"emojis\":[]}",
                "alice");
    CHECK_STR(s, "[d-1] bob removed their reaction to #41 (seq 48)");
    free(s);
}

TEST(reply_quote)
{
    char *s = NULL;
    CHECK_EQ_INT(mqc_render_quote(41, "alice", "see you \xe2\x98\x83\x07...", false, &s), MQC_OK);
    CHECK_STR(s, "  \xe2\x86\xb3 reply to #41 alice: see you \xe2\x98\x83?...");
    free(s);
    CHECK_EQ_INT(mqc_render_quote(41, NULL, NULL, false, &s), MQC_OK);
    CHECK_STR(s, "  \xe2\x86\xb3 reply to #41 (original message not loaded)");
    free(s);
    CHECK_EQ_INT(mqc_render_quote(41, "alice", NULL, true, &s), MQC_OK);
    CHECK_STR(s, "  \xe2\x86\xb3 reply to #41 (message deleted)");
    free(s);
}

TEST(reactions_line)
{
#define UP "\xf0\x9f\x91\x8d"
#define PARTY "\xf0\x9f\x8e\x89"
    /* carol's set is the oldest: her emoji comes first; users by name;
     * an emptied set and a repeat inside one set count for nothing. */
    cJSON *r = cJSON_Parse("{\"dave\":{\"seq\":9,\"emojis\":[\"" UP "\",\"" UP "\"]},"
                           "\"carol\":{\"seq\":5,\"emojis\":[\"" PARTY "\"]},"
                           "\"bob\":{\"seq\":7,\"emojis\":[]},"
                           "\"alice\":{\"seq\":8,\"emojis\":[\"" UP "\",\"" PARTY "\"]},"
                           "\"eve\\u001b\":{\"seq\":10,\"emojis\":[\"x\\u0007\"]}}");
    char *s = NULL;
    if (!CHECK(r != NULL))
        return;
    CHECK_EQ_INT(mqc_render_reactions("g-1", 41, r, &s), MQC_OK);
    CHECK_STR(s, "[g-1] #41 reactions: " PARTY " 2 (alice, carol), " UP " 2 (alice, dave), x? 1 "
                 "(eve?)");
    CHECK(!has_controls(s));
    free(s);
    cJSON_Delete(r);
    CHECK_EQ_INT(mqc_render_reactions("g-1", 41, NULL, &s), MQC_OK);
    CHECK_STR(s, "[g-1] #41 reactions: none");
    free(s);
#undef UP
#undef PARTY
}

int main(void)
{
    RUN(msg);
    RUN(msg_reply_to_and_utf8);
    RUN(msg_with_attachment);
    RUN(msg_without_body_or_seq);
    RUN(body_controls_are_neutralised);
    RUN(sender_name_and_conv_sanitized);
    RUN(member_added_removed_left);
    RUN(receipt);
    RUN(typing);
    RUN(err_with_id_and_req);
    RUN(system_broadcast);
    RUN(error_with_context);
    RUN(res_summary);
    RUN(unknown_type_shows_json);
    RUN(not_an_event);
    RUN(convs_list);
    RUN(convs_empty_and_bad);
    RUN(convs_title_sanitized);
    RUN(history);
    RUN(safe_copy);
    RUN(relation_events);
    RUN(reply_quote);
    RUN(reactions_line);
    return test_finish();
}
