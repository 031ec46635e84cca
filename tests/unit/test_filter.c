/* Unit tests for core/filter.h: filter validity, matching, covering, and the
 * operator's other_topics list with %u. */
#include <string.h>

#include "core/err.h"
#include "core/filter.h"
#include "tests/unit/test.h"

TEST(valid_good)
{
    static const char *good[] = {"a",
                                 "a/b",
                                 "a/+",
                                 "a/#",
                                 "+",
                                 "#",
                                 "+/+",
                                 "+/#",
                                 "a/+/c",
                                 "/",
                                 "a//b",
                                 "$SYS/#",
                                 "devices/alice/#",
                                 "/a"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!CHECK(mqc_filter_valid(good[i])))
            fprintf(stderr, "  refused: \"%s\"\n", good[i]);
    }
}

TEST(valid_bad)
{
    static const char *bad[] = {"", "a/#/b", "a+", "+a", "a#", "#/a", "a/b#", "a/++", "##", "a/#/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!CHECK(!mqc_filter_valid(bad[i])))
            fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
    }
    CHECK(!mqc_filter_valid(NULL));
}

TEST(valid_length_limit)
{
    char f[MQC_FILTER_MAX + 2];
    memset(f, 'a', MQC_FILTER_MAX);
    f[MQC_FILTER_MAX] = '\0';
    CHECK(mqc_filter_valid(f));
    f[MQC_FILTER_MAX] = 'a';
    f[MQC_FILTER_MAX + 1] = '\0';
    CHECK(!mqc_filter_valid(f));
}

TEST(matches_basic)
{
    CHECK(mqc_filter_matches("a/b", "a/b"));
    CHECK(!mqc_filter_matches("a/b", "a/c"));
    CHECK(!mqc_filter_matches("a/b", "a/b/c"));
    CHECK(!mqc_filter_matches("a/b/c", "a/b"));
    CHECK(mqc_filter_matches("a/+", "a/b"));
    CHECK(!mqc_filter_matches("a/+", "a/b/c"));
    CHECK(!mqc_filter_matches("a/+", "a"));
    CHECK(mqc_filter_matches("a/+", "a/"));
    CHECK(mqc_filter_matches("+/+", "x/y"));
    CHECK(!mqc_filter_matches("+/+", "x"));
    CHECK(mqc_filter_matches("a/#", "a/b/c/d"));
    CHECK(mqc_filter_matches("#", "anything/at/all"));
    CHECK(mqc_filter_matches("+/b/#", "x/b"));
    CHECK(!mqc_filter_matches("ab", "a"));
    CHECK(!mqc_filter_matches("a", "ab"));
}

TEST(matches_hash_matches_parent)
{
    /* MQTT: "a/#" also matches "a" itself. */
    CHECK(mqc_filter_matches("a/#", "a"));
    CHECK(!mqc_filter_matches("a/#", "b"));
    CHECK(!mqc_filter_matches("a/b/#", "a"));
}

TEST(matches_dollar_topics)
{
    CHECK(!mqc_filter_matches("#", "$SYS/x"));
    CHECK(!mqc_filter_matches("+/x", "$SYS/x"));
    CHECK(!mqc_filter_matches("+", "$SYS"));
    CHECK(mqc_filter_matches("$SYS/#", "$SYS/x"));
    CHECK(mqc_filter_matches("$SYS/+", "$SYS/x"));
    CHECK(mqc_filter_matches("$SYS/x", "$SYS/x"));
    /* '$' only matters in the first level. */
    CHECK(mqc_filter_matches("a/+", "a/$x"));
}

TEST(matches_null)
{
    CHECK(!mqc_filter_matches(NULL, "a"));
    CHECK(!mqc_filter_matches("a", NULL));
}

TEST(covers_header_examples)
{
    CHECK(mqc_filter_covers("a/+/c", "a/b/c"));
    CHECK(mqc_filter_covers("a/#", "a/+/x/#"));
    CHECK(!mqc_filter_covers("a/+", "a/#"));
}

TEST(covers_more)
{
    CHECK(mqc_filter_covers("a/b", "a/b"));
    CHECK(mqc_filter_covers("a/+", "a/+"));
    CHECK(mqc_filter_covers("a/+", "a/b"));
    CHECK(mqc_filter_covers("#", "#"));
    CHECK(mqc_filter_covers("#", "a/+/b"));
    CHECK(mqc_filter_covers("a/#", "a/#"));
    CHECK(mqc_filter_covers("a/#", "a"));
    CHECK(mqc_filter_covers("a/#", "a/b"));
    CHECK(mqc_filter_covers("+/#", "x/y/z"));
}

TEST(covers_negatives)
{
    CHECK(!mqc_filter_covers("a/b", "a/+"));
    CHECK(!mqc_filter_covers("a/b", "a/#"));
    CHECK(!mqc_filter_covers("a/b", "a/b/c"));
    CHECK(!mqc_filter_covers("a/b/c", "a/b"));
    CHECK(!mqc_filter_covers("a/+", "a/b/c"));
    CHECK(!mqc_filter_covers("a/+", "+/b"));
    CHECK(!mqc_filter_covers("a/#", "#"));
    CHECK(!mqc_filter_covers("a/#", "b/#"));
    CHECK(!mqc_filter_covers("a/b/#", "a/#"));
    CHECK(!mqc_filter_covers("#", "$SYS/#"));
    CHECK(!mqc_filter_covers("+/x", "$SYS/x"));
    CHECK(!mqc_filter_covers(NULL, "a"));
    CHECK(!mqc_filter_covers("a", NULL));
}

TEST(covers_dollar_explicit)
{
    CHECK(mqc_filter_covers("$SYS/#", "$SYS/x/+"));
}

TEST(reaches_chat)
{
    CHECK(mqc_filter_reaches_chat("chat"));
    CHECK(mqc_filter_reaches_chat("chat/#"));
    CHECK(mqc_filter_reaches_chat("chat/u/alice/inbox"));
    CHECK(mqc_filter_reaches_chat("+"));
    CHECK(mqc_filter_reaches_chat("+/u/alice/inbox"));
    CHECK(mqc_filter_reaches_chat("#"));
    CHECK(!mqc_filter_reaches_chat("chatx/#"));
    CHECK(!mqc_filter_reaches_chat("devices/#"));
    CHECK(!mqc_filter_reaches_chat("a/chat/#"));
    CHECK(!mqc_filter_reaches_chat("$SYS/#"));
    CHECK(!mqc_filter_reaches_chat(NULL));
}

TEST(list_parse_good)
{
    struct mqc_filter_list l;
    char err[200] = "";
    if (!CHECK_EQ_INT(mqc_filter_list_parse("devices/%u/# public/#", &l, err, sizeof err), MQC_OK))
        return;
    CHECK_EQ_INT(l.count, 2);
    if (l.count == 2) {
        CHECK_STR(l.items[0], "devices/%u/#");
        CHECK_STR(l.items[1], "public/#");
    }
    mqc_filter_list_cleanup(&l);
    CHECK_EQ_INT(l.count, 0);
    CHECK(l.items == NULL);
}

TEST(list_parse_whitespace)
{
    struct mqc_filter_list l;
    char err[200] = "";
    CHECK_EQ_INT(mqc_filter_list_parse("  a/b \t c/+  ", &l, err, sizeof err), MQC_OK);
    CHECK_EQ_INT(l.count, 2);
    if (l.count == 2) {
        CHECK_STR(l.items[0], "a/b");
        CHECK_STR(l.items[1], "c/+");
    }
    mqc_filter_list_cleanup(&l);
}

TEST(list_parse_empty)
{
    struct mqc_filter_list l;
    char err[200] = "";
    CHECK_EQ_INT(mqc_filter_list_parse(NULL, &l, err, sizeof err), MQC_OK);
    CHECK_EQ_INT(l.count, 0);
    mqc_filter_list_cleanup(&l);
    CHECK_EQ_INT(mqc_filter_list_parse("", &l, err, sizeof err), MQC_OK);
    CHECK_EQ_INT(l.count, 0);
    mqc_filter_list_cleanup(&l);
    CHECK_EQ_INT(mqc_filter_list_parse("   ", &l, err, sizeof err), MQC_OK);
    CHECK_EQ_INT(l.count, 0);
    mqc_filter_list_cleanup(&l);
    /* An empty list allows nothing. */
    CHECK(!mqc_filter_list_allows_topic(&l, "alice", "devices/alice/x"));
    CHECK(!mqc_filter_list_allows_filter(&l, "alice", "devices/alice/#"));
}

TEST(list_allows_topic_substitutes_user)
{
    struct mqc_filter_list l;
    char err[200] = "";
    if (!CHECK_EQ_INT(mqc_filter_list_parse("devices/%u/# public/#", &l, err, sizeof err), MQC_OK))
        return;
    CHECK(mqc_filter_list_allows_topic(&l, "alice", "devices/alice/temp"));
    CHECK(mqc_filter_list_allows_topic(&l, "alice", "devices/alice"));
    CHECK(!mqc_filter_list_allows_topic(&l, "alice", "devices/bob/temp"));
    CHECK(mqc_filter_list_allows_topic(&l, "bob", "devices/bob/temp"));
    CHECK(!mqc_filter_list_allows_topic(&l, "alice", "devices/%u/temp"));
    CHECK(mqc_filter_list_allows_topic(&l, "alice", "public/news"));
    CHECK(mqc_filter_list_allows_topic(&l, "bob", "public/news"));
    CHECK(!mqc_filter_list_allows_topic(&l, "alice", "private/x"));
    CHECK(!mqc_filter_list_allows_topic(&l, "alice", "chat/u/alice/inbox"));
    CHECK(!mqc_filter_list_allows_topic(&l, NULL, "public/news"));
    CHECK(!mqc_filter_list_allows_topic(&l, "alice", NULL));
    CHECK(!mqc_filter_list_allows_topic(NULL, "alice", "public/news"));
    mqc_filter_list_cleanup(&l);
}

TEST(list_allows_filter_substitutes_user)
{
    struct mqc_filter_list l;
    char err[200] = "";
    if (!CHECK_EQ_INT(mqc_filter_list_parse("devices/%u/# public/#", &l, err, sizeof err), MQC_OK))
        return;
    CHECK(mqc_filter_list_allows_filter(&l, "alice", "devices/alice/#"));
    CHECK(mqc_filter_list_allows_filter(&l, "alice", "devices/alice/+/temp"));
    CHECK(!mqc_filter_list_allows_filter(&l, "alice", "devices/bob/#"));
    CHECK(!mqc_filter_list_allows_filter(&l, "alice", "devices/+/temp"));
    CHECK(!mqc_filter_list_allows_filter(&l, "alice", "devices/#"));
    CHECK(mqc_filter_list_allows_filter(&l, "bob", "devices/bob/#"));
    CHECK(mqc_filter_list_allows_filter(&l, "alice", "public/+"));
    CHECK(!mqc_filter_list_allows_filter(&l, "alice", "#"));
    CHECK(!mqc_filter_list_allows_filter(&l, "alice", "+/news"));
    mqc_filter_list_cleanup(&l);
}

TEST(list_user_at_max_length)
{
    struct mqc_filter_list l;
    char err[200] = "", user[65], topic[128];
    memset(user, 'u', 64);
    user[64] = '\0';
    snprintf(topic, sizeof topic, "d/%s/x", user);
    if (!CHECK_EQ_INT(mqc_filter_list_parse("d/%u/x", &l, err, sizeof err), MQC_OK))
        return;
    CHECK(mqc_filter_list_allows_topic(&l, user, topic));
    mqc_filter_list_cleanup(&l);
}

/* parse text must fail with MQC_EBADREQ, a non-empty reason, and an empty list. */
static void expect_parse_error(const char *text)
{
    struct mqc_filter_list l;
    char err[200] = "";
    int rc = mqc_filter_list_parse(text, &l, err, sizeof err);
    if (!CHECK_EQ_INT(rc, MQC_EBADREQ))
        fprintf(stderr, "  text: \"%s\"\n", text);
    if (!CHECK(err[0] != '\0'))
        fprintf(stderr, "  no reason for: \"%s\"\n", text);
    CHECK_EQ_INT(l.count, 0);
    CHECK(l.items == NULL);
    mqc_filter_list_cleanup(&l);
}

TEST(list_parse_errors)
{
    expect_parse_error("chat/x");
    expect_parse_error("chat");
    expect_parse_error("#");
    expect_parse_error("+/a");
    expect_parse_error("$SYS/#");
    expect_parse_error("a/#/b");
    expect_parse_error("a+");
    expect_parse_error("%u+");
}

TEST(list_parse_error_names_filter)
{
    struct mqc_filter_list l;
    char err[200] = "";
    /* A good filter before the bad one is dropped with the list. */
    CHECK_EQ_INT(mqc_filter_list_parse("public/# a/#/b", &l, err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "a/#/b"));
    CHECK_EQ_INT(l.count, 0);
    CHECK(l.items == NULL);
    CHECK_EQ_INT(mqc_filter_list_parse("ok/%u chat/x", &l, err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "chat/x"));
    CHECK_EQ_INT(l.count, 0);
}

TEST(list_parse_too_long)
{
    struct mqc_filter_list l;
    char err[200] = "", text[MQC_FILTER_MAX + 10];
    memset(text, 'a', MQC_FILTER_MAX + 1);
    text[MQC_FILTER_MAX + 1] = '\0';
    CHECK_EQ_INT(mqc_filter_list_parse(text, &l, err, sizeof err), MQC_EBADREQ);
    CHECK(err[0] != '\0');
    CHECK_EQ_INT(l.count, 0);
}

TEST(list_cleanup_null)
{
    mqc_filter_list_cleanup(NULL);
    CHECK(true); /* reaching here is the check: NULL must be ignored */
}

int main(void)
{
    RUN(valid_good);
    RUN(valid_bad);
    RUN(valid_length_limit);
    RUN(matches_basic);
    RUN(matches_hash_matches_parent);
    RUN(matches_dollar_topics);
    RUN(matches_null);
    RUN(covers_header_examples);
    RUN(covers_more);
    RUN(covers_negatives);
    RUN(covers_dollar_explicit);
    RUN(reaches_chat);
    RUN(list_parse_good);
    RUN(list_parse_whitespace);
    RUN(list_parse_empty);
    RUN(list_allows_topic_substitutes_user);
    RUN(list_allows_filter_substitutes_user);
    RUN(list_user_at_max_length);
    RUN(list_parse_errors);
    RUN(list_parse_error_names_filter);
    RUN(list_parse_too_long);
    RUN(list_cleanup_null);
    return test_finish();
}
