/* Unit tests for core/topic.h: parsing every topic kind of the grammar, and
 * the builders for inbox and presence topics. */
#include <string.h>

#include "core/err.h"
#include "core/topic.h"
#include "tests/unit/test.h"

/* Parse topic and check that it is INVALID with an empty id. */
static void expect_invalid(const char *topic)
{
    struct mqc_topic t;
    enum mqc_topic_kind k = mqc_topic_parse(topic, &t);
    if (!CHECK_EQ_INT(k, MQC_TOPIC_INVALID))
        fprintf(stderr, "  topic: \"%s\"\n", topic ? topic : "(null)");
    CHECK_EQ_INT(t.kind, MQC_TOPIC_INVALID);
    CHECK_STR(t.id, "");
}

static void expect_other(const char *topic)
{
    struct mqc_topic t;
    enum mqc_topic_kind k = mqc_topic_parse(topic, &t);
    if (!CHECK_EQ_INT(k, MQC_TOPIC_OTHER))
        fprintf(stderr, "  topic: \"%s\"\n", topic);
    CHECK_EQ_INT(t.kind, MQC_TOPIC_OTHER);
    CHECK_STR(t.id, "");
}

TEST(inbox)
{
    struct mqc_topic t;
    CHECK_EQ_INT(mqc_topic_parse("chat/u/alice/inbox", &t), MQC_TOPIC_INBOX);
    CHECK_EQ_INT(t.kind, MQC_TOPIC_INBOX);
    CHECK_STR(t.id, "alice");
}

TEST(req)
{
    struct mqc_topic t;
    CHECK_EQ_INT(mqc_topic_parse("chat/u/bob_2.x-y/req", &t), MQC_TOPIC_REQ);
    CHECK_EQ_INT(t.kind, MQC_TOPIC_REQ);
    CHECK_STR(t.id, "bob_2.x-y");
}

TEST(conv_leaves)
{
    struct mqc_topic t;
    CHECK_EQ_INT(mqc_topic_parse("chat/c/c1/send", &t), MQC_TOPIC_CONV);
    CHECK_EQ_INT(t.leaf, MQC_CONV_SEND);
    CHECK_STR(t.id, "c1");

    CHECK_EQ_INT(mqc_topic_parse("chat/c/conv-2/receipt", &t), MQC_TOPIC_CONV);
    CHECK_EQ_INT(t.leaf, MQC_CONV_RECEIPT);
    CHECK_STR(t.id, "conv-2");

    CHECK_EQ_INT(mqc_topic_parse("chat/c/C.3/typing", &t), MQC_TOPIC_CONV);
    CHECK_EQ_INT(t.kind, MQC_TOPIC_CONV);
    CHECK_EQ_INT(t.leaf, MQC_CONV_TYPING);
    CHECK_STR(t.id, "C.3");
}

TEST(presence)
{
    struct mqc_topic t;
    CHECK_EQ_INT(mqc_topic_parse("chat/presence/alice", &t), MQC_TOPIC_PRESENCE);
    CHECK_EQ_INT(t.kind, MQC_TOPIC_PRESENCE);
    CHECK_STR(t.id, "alice");
}

TEST(id_of_max_length)
{
    char topic[128], id[MQC_ID_MAX + 2];
    struct mqc_topic t;
    memset(id, 'a', MQC_ID_MAX);
    id[MQC_ID_MAX] = '\0';
    snprintf(topic, sizeof topic, "chat/u/%s/inbox", id);
    CHECK_EQ_INT(mqc_topic_parse(topic, &t), MQC_TOPIC_INBOX);
    CHECK_STR(t.id, id);

    id[MQC_ID_MAX] = 'a';
    id[MQC_ID_MAX + 1] = '\0';
    snprintf(topic, sizeof topic, "chat/u/%s/inbox", id);
    expect_invalid(topic);
}

TEST(other)
{
    expect_other("devices/alice/temp");
    expect_other("chatx/u/alice/inbox");
    expect_other("chatx");
    expect_other("Chat/u/alice/inbox");
    expect_other("$SYS/broker/uptime");
    expect_other("a");
    expect_other("/chat/u/alice/inbox");
}

TEST(invalid_wrong_leaf)
{
    expect_invalid("chat/u/alice/outbox");
    expect_invalid("chat/u/alice/Inbox");
    expect_invalid("chat/u/alice/");
    expect_invalid("chat/c/c1/sendx");
    expect_invalid("chat/c/c1/inbox");
    expect_invalid("chat/c/c1/");
    expect_invalid("chat/x/alice/inbox");
    expect_invalid("chat/presences/alice");
}

TEST(invalid_levels)
{
    expect_invalid("chat/u/alice/inbox/x");
    expect_invalid("chat/u/alice/inbox/x/y");
    expect_invalid("chat/u/alice/inbox/");
    expect_invalid("chat/u/alice");
    expect_invalid("chat/u");
    expect_invalid("chat/c/c1");
    expect_invalid("chat/c/c1/send/x");
    expect_invalid("chat/presence");
    expect_invalid("chat/presence/");
    expect_invalid("chat/presence/alice/x");
    expect_invalid("chat/a/b/c/d/e/f/g");
}

TEST(invalid_bad_ids)
{
    expect_invalid("chat/u//inbox");
    expect_invalid("chat/u/+/inbox");
    expect_invalid("chat/u/#/inbox");
    expect_invalid("chat/u/al ice/inbox");
    expect_invalid("chat/u/caf\xc3\xa9/req");
    expect_invalid("chat/c/+/send");
    expect_invalid("chat/c//typing");
    expect_invalid("chat/presence/+");
    expect_invalid("chat/presence/#");
    expect_invalid("chat/presence/a b");
}

TEST(invalid_chat_alone_and_null)
{
    expect_invalid("chat");
    expect_invalid("chat/");
    expect_invalid("chat//");
    expect_invalid(NULL);
}

TEST(is_chat)
{
    CHECK(mqc_topic_is_chat("chat"));
    CHECK(mqc_topic_is_chat("chat/"));
    CHECK(mqc_topic_is_chat("chat/u/alice/inbox"));
    CHECK(!mqc_topic_is_chat("chatx"));
    CHECK(!mqc_topic_is_chat("chatx/u"));
    CHECK(!mqc_topic_is_chat("cha"));
    CHECK(!mqc_topic_is_chat(""));
    CHECK(!mqc_topic_is_chat("/chat"));
    CHECK(!mqc_topic_is_chat(NULL));
}

TEST(build_inbox)
{
    char buf[80];
    CHECK_EQ_INT(mqc_topic_inbox("alice", buf, sizeof buf), MQC_OK);
    CHECK_STR(buf, "chat/u/alice/inbox");

    /* The longest id fits in the documented 80 bytes. */
    char id[MQC_ID_MAX + 1], want[100];
    memset(id, 'x', MQC_ID_MAX);
    id[MQC_ID_MAX] = '\0';
    snprintf(want, sizeof want, "chat/u/%s/inbox", id);
    CHECK_EQ_INT(mqc_topic_inbox(id, buf, sizeof buf), MQC_OK);
    CHECK_STR(buf, want);
}

TEST(build_inbox_bad_id)
{
    char buf[80];
    CHECK_EQ_INT(mqc_topic_inbox("", buf, sizeof buf), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_topic_inbox(NULL, buf, sizeof buf), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_topic_inbox("a/b", buf, sizeof buf), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_topic_inbox("+", buf, sizeof buf), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_topic_inbox("#", buf, sizeof buf), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_topic_inbox("a b", buf, sizeof buf), MQC_EBADREQ);
}

TEST(build_presence)
{
    char buf[80];
    CHECK_EQ_INT(mqc_topic_presence("bob", buf, sizeof buf), MQC_OK);
    CHECK_STR(buf, "chat/presence/bob");
}

TEST(build_presence_bad_id)
{
    char buf[80];
    CHECK_EQ_INT(mqc_topic_presence("", buf, sizeof buf), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_topic_presence(NULL, buf, sizeof buf), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_topic_presence("bo/b", buf, sizeof buf), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_topic_presence("+", buf, sizeof buf), MQC_EBADREQ);
}

TEST(build_round_trips)
{
    char buf[80];
    struct mqc_topic t;
    CHECK_EQ_INT(mqc_topic_inbox("u-1", buf, sizeof buf), MQC_OK);
    CHECK_EQ_INT(mqc_topic_parse(buf, &t), MQC_TOPIC_INBOX);
    CHECK_STR(t.id, "u-1");
    CHECK_EQ_INT(mqc_topic_presence("u-1", buf, sizeof buf), MQC_OK);
    CHECK_EQ_INT(mqc_topic_parse(buf, &t), MQC_TOPIC_PRESENCE);
    CHECK_STR(t.id, "u-1");
}

TEST(build_buffer_too_small)
{
    /* Not enough room is an error, never a truncated topic passed as OK. */
    char buf[10];
    CHECK(mqc_topic_inbox("alice", buf, sizeof buf) != MQC_OK);
    CHECK(mqc_topic_presence("alice", buf, sizeof buf) != MQC_OK);
}

int main(void)
{
    RUN(inbox);
    RUN(req);
    RUN(conv_leaves);
    RUN(presence);
    RUN(id_of_max_length);
    RUN(other);
    RUN(invalid_wrong_leaf);
    RUN(invalid_levels);
    RUN(invalid_bad_ids);
    RUN(invalid_chat_alone_and_null);
    RUN(is_chat);
    RUN(build_inbox);
    RUN(build_inbox_bad_id);
    RUN(build_presence);
    RUN(build_presence_bad_id);
    RUN(build_round_trips);
    RUN(build_buffer_too_small);
    return test_finish();
}
