/* Unit tests for acl/acl.h: every SUBSCRIBE, WRITE, READ and UNSUBSCRIBE rule,
 * over a fake membership table defined here. */
#include <string.h>

#include "acl/acl.h"
#include "core/err.h"
#include "tests/unit/test.h"

/* The fake world: conversation c1 = {alice, bob}, c2 = {bob, carol};
 * dave is in no conversation. */
struct member {
    const char *user, *conv;
};
static const struct member members[] = {
    {"alice", "c1"},
    {"bob", "c1"},
    {"bob", "c2"},
    {"carol", "c2"},
};
#define NMEMBERS (sizeof members / sizeof members[0])

/* Counts calls, so tests can tell the interface was (or was not) asked. */
struct fake {
    int shares_calls;
};

static bool fake_shares_conv(void *ctx, const char *user, const char *other)
{
    struct fake *f = ctx;
    f->shares_calls++;
    for (size_t i = 0; i < NMEMBERS; i++) {
        if (strcmp(members[i].user, user) != 0)
            continue;
        for (size_t j = 0; j < NMEMBERS; j++) {
            if (strcmp(members[j].user, other) == 0 &&
                strcmp(members[j].conv, members[i].conv) == 0)
                return true;
        }
    }
    return false;
}

static struct fake fake;
static struct mqc_filter_list other;
static struct mqc_acl acl;

/* Build acl with other_topics = text (must parse). */
static bool setup(const char *text)
{
    char err[200] = "";
    memset(&fake, 0, sizeof fake);
    mqc_filter_list_cleanup(&other);
    if (!CHECK_EQ_INT(mqc_filter_list_parse(text, &other, err, sizeof err), MQC_OK)) {
        fprintf(stderr, "  %s\n", err);
        return false;
    }
    acl.other = &other;
    acl.members.ctx = &fake;
    acl.members.shares_conv = fake_shares_conv;
    return true;
}

static void teardown(void)
{
    mqc_filter_list_cleanup(&other);
}

static const char *show(const char *s)
{
    return s ? s : "(null)";
}

/* Check one decision; on a mismatch, say which. */
#define EXPECT(verdict, access, user, topic, retain)                                               \
    do {                                                                                           \
        if (!CHECK_EQ_INT(mqc_acl_check(&acl, (access), (user), (topic), (retain)), (verdict)))    \
            fprintf(stderr, "  access=%s user=%s topic=%s retain=%d\n", #access, show(user),       \
                    show(topic), (int)(retain));                                                   \
    } while (0)

#define SUB_ALLOW(user, f) EXPECT(MQC_ACL_ALLOW, MQC_ACL_SUBSCRIBE, user, f, false)
#define SUB_DENY(user, f) EXPECT(MQC_ACL_DENY, MQC_ACL_SUBSCRIBE, user, f, false)
#define WRITE_ALLOW(user, t, r) EXPECT(MQC_ACL_ALLOW, MQC_ACL_WRITE, user, t, r)
#define WRITE_DENY(user, t, r) EXPECT(MQC_ACL_DENY, MQC_ACL_WRITE, user, t, r)
#define READ_ALLOW(user, t) EXPECT(MQC_ACL_ALLOW, MQC_ACL_READ, user, t, false)
#define READ_DENY(user, t) EXPECT(MQC_ACL_DENY, MQC_ACL_READ, user, t, false)

/* ---- SUBSCRIBE ---- */

TEST(subscribe_own_inbox)
{
    if (!setup(NULL))
        return;
    SUB_ALLOW("alice", "chat/u/alice/inbox");
    SUB_ALLOW("bob", "chat/u/bob/inbox");
    teardown();
}

TEST(subscribe_others_inbox_denied)
{
    if (!setup(NULL))
        return;
    SUB_DENY("alice", "chat/u/bob/inbox");
    /* Even someone alice shares a conversation with. */
    SUB_DENY("bob", "chat/u/alice/inbox");
    teardown();
}

TEST(subscribe_wildcards_over_chat_denied)
{
    if (!setup("devices/%u/# public/#"))
        return;
    SUB_DENY("alice", "#");
    SUB_DENY("alice", "+");
    SUB_DENY("alice", "chat/#");
    SUB_DENY("alice", "chat/+");
    SUB_DENY("alice", "chat/u/+/inbox");
    SUB_DENY("alice", "chat/u/alice/+");
    SUB_DENY("alice", "chat/u/alice/#");
    SUB_DENY("alice", "+/u/alice/inbox");
    SUB_DENY("alice", "chat/+/alice/inbox");
    SUB_DENY("alice", "+/+/+/+");
    SUB_DENY("alice", "chat/c/+/send");
    SUB_DENY("alice", "chat/presence/#");
    teardown();
}

TEST(subscribe_sys_denied)
{
    if (!setup("devices/%u/# public/#"))
        return;
    SUB_DENY("alice", "$SYS/#");
    SUB_DENY("alice", "$SYS/broker/uptime");
    SUB_DENY("alice", "$other/x");
    teardown();
}

TEST(subscribe_shared)
{
    if (!setup("devices/%u/# public/#"))
        return;
    SUB_ALLOW("alice", "$share/g/chat/u/alice/inbox");
    SUB_DENY("alice", "$share/g/chat/u/bob/inbox");
    SUB_DENY("alice", "$share/g/#");
    SUB_DENY("alice", "$share/g/chat/#");
    SUB_DENY("alice", "$share/g/$SYS/#");
    SUB_DENY("alice", "$share//chat/u/alice/inbox");
    SUB_DENY("alice", "$share/g");
    SUB_DENY("alice", "$share/g/");
    /* The share group does not widen other_topics either. */
    SUB_ALLOW("alice", "$share/g/devices/alice/#");
    SUB_DENY("alice", "$share/g/devices/bob/#");
    teardown();
}

TEST(subscribe_presence)
{
    if (!setup(NULL))
        return;
    /* Allowed at subscribe time; each delivery is READ-checked. */
    SUB_ALLOW("alice", "chat/presence/+");
    SUB_ALLOW("alice", "chat/presence/bob");
    SUB_ALLOW("alice", "chat/presence/alice");
    SUB_DENY("alice", "chat/presence/+/x");
    teardown();
}

TEST(subscribe_conv_and_req_denied)
{
    if (!setup(NULL))
        return;
    SUB_DENY("alice", "chat/c/c1/send");
    SUB_DENY("alice", "chat/c/c1/receipt");
    SUB_DENY("alice", "chat/c/c1/typing");
    SUB_DENY("alice", "chat/u/alice/req");
    SUB_DENY("alice", "chat/other");
    SUB_DENY("alice", "chat");
    teardown();
}

TEST(subscribe_invalid_filter_denied)
{
    if (!setup("devices/%u/# public/#"))
        return;
    SUB_DENY("alice", "");
    SUB_DENY("alice", "devices/alice/#/x");
    SUB_DENY("alice", "devices/alice+");
    teardown();
}

TEST(subscribe_other_topics)
{
    if (!setup("devices/%u/# public/#"))
        return;
    SUB_ALLOW("alice", "devices/alice/#");
    SUB_ALLOW("alice", "devices/alice/temp");
    SUB_ALLOW("alice", "devices/alice/+/temp");
    SUB_ALLOW("alice", "public/#");
    SUB_ALLOW("bob", "devices/bob/#");
    SUB_DENY("alice", "devices/bob/#");
    SUB_DENY("alice", "devices/bob/temp");
    /* Broader than what is allowed. */
    SUB_DENY("alice", "devices/#");
    SUB_DENY("alice", "devices/+/temp");
    SUB_DENY("alice", "devices/+");
    SUB_DENY("alice", "private/x");
    teardown();
}

TEST(subscribe_outside_chat_without_other_topics)
{
    if (!setup(NULL))
        return;
    SUB_DENY("alice", "devices/alice/#");
    SUB_DENY("alice", "public/news");
    /* A NULL list pointer is the same as an empty list. */
    acl.other = NULL;
    SUB_DENY("alice", "devices/alice/#");
    SUB_ALLOW("alice", "chat/u/alice/inbox");
    teardown();
}

/* ---- WRITE ---- */

TEST(write_req)
{
    if (!setup(NULL))
        return;
    WRITE_ALLOW("alice", "chat/u/alice/req", false);
    WRITE_DENY("alice", "chat/u/bob/req", false);
    WRITE_DENY("alice", "chat/u/alice/req", true);
    teardown();
}

TEST(write_inbox_denied)
{
    if (!setup(NULL))
        return;
    WRITE_DENY("alice", "chat/u/alice/inbox", false);
    WRITE_DENY("alice", "chat/u/alice/inbox", true);
    WRITE_DENY("alice", "chat/u/bob/inbox", false);
    teardown();
}

TEST(write_conv_shape_only)
{
    if (!setup(NULL))
        return;
    /* Shape only: membership is checked in Redis by the message path, so even dave passes. */
    WRITE_ALLOW("alice", "chat/c/c1/send", false);
    WRITE_ALLOW("alice", "chat/c/c1/receipt", false);
    WRITE_ALLOW("alice", "chat/c/c1/typing", false);
    WRITE_ALLOW("dave", "chat/c/c1/send", false);
    WRITE_DENY("alice", "chat/c/c1/send", true);
    WRITE_DENY("alice", "chat/c/c1/receipt", true);
    WRITE_DENY("alice", "chat/c/c1/typing", true);
    teardown();
}

TEST(write_conv_bad_shape)
{
    if (!setup(NULL))
        return;
    WRITE_DENY("alice", "chat/c/c 1/send", false);
    WRITE_DENY("alice", "chat/c//send", false);
    WRITE_DENY("alice", "chat/c/+/send", false);
    WRITE_DENY("alice", "chat/c/c1/shout", false);
    WRITE_DENY("alice", "chat/c/c1/send/x", false);
    teardown();
}

TEST(write_presence)
{
    if (!setup(NULL))
        return;
    WRITE_ALLOW("alice", "chat/presence/alice", false);
    WRITE_ALLOW("alice", "chat/presence/alice", true);
    WRITE_DENY("alice", "chat/presence/bob", false);
    WRITE_DENY("alice", "chat/presence/bob", true);
    teardown();
}

TEST(write_other_chat_denied)
{
    if (!setup("devices/%u/# public/#"))
        return;
    WRITE_DENY("alice", "chat/other", false);
    WRITE_DENY("alice", "chat", false);
    WRITE_DENY("alice", "chat/", false);
    WRITE_DENY("alice", "chat/u/alice/inbox/x", false);
    teardown();
}

TEST(write_outside_chat_only_via_other_topics)
{
    if (!setup("devices/%u/# public/#"))
        return;
    WRITE_ALLOW("alice", "devices/alice/temp", false);
    WRITE_ALLOW("alice", "devices/alice/temp", true);
    WRITE_ALLOW("alice", "public/news", false);
    WRITE_DENY("alice", "devices/bob/temp", false);
    WRITE_DENY("alice", "private/x", false);
    teardown();
    if (!setup(NULL))
        return;
    WRITE_DENY("alice", "devices/alice/temp", false);
    WRITE_DENY("alice", "public/news", false);
    teardown();
}

TEST(write_sys_denied)
{
    if (!setup("devices/%u/# public/#"))
        return;
    WRITE_DENY("alice", "$SYS/x", false);
    WRITE_DENY("alice", "$SYS/broker/uptime", true);
    teardown();
}

/* ---- READ ---- */

TEST(read_inbox)
{
    if (!setup(NULL))
        return;
    READ_ALLOW("alice", "chat/u/alice/inbox");
    READ_DENY("alice", "chat/u/bob/inbox");
    READ_DENY("alice", "chat/u/alice/req");
    teardown();
}

TEST(read_presence)
{
    if (!setup(NULL))
        return;
    READ_ALLOW("alice", "chat/presence/alice"); /* self */
    READ_ALLOW("alice", "chat/presence/bob");   /* shares c1 */
    READ_ALLOW("bob", "chat/presence/carol");   /* shares c2 */
    READ_DENY("alice", "chat/presence/carol");  /* no shared conversation */
    READ_DENY("alice", "chat/presence/dave");   /* stranger */
    READ_DENY("dave", "chat/presence/alice");
    READ_ALLOW("dave", "chat/presence/dave");
    CHECK(fake.shares_calls > 0);
    teardown();
}

TEST(read_presence_without_membership_interface)
{
    if (!setup(NULL))
        return;
    acl.members.shares_conv = NULL;
    READ_ALLOW("alice", "chat/presence/alice");
    READ_DENY("alice", "chat/presence/bob");
    teardown();
}

TEST(read_conv_and_other)
{
    if (!setup("devices/%u/# public/#"))
        return;
    READ_DENY("alice", "chat/c/c1/send");
    READ_DENY("alice", "chat/other");
    READ_DENY("alice", "$SYS/broker/uptime");
    READ_ALLOW("alice", "devices/alice/temp");
    READ_DENY("alice", "devices/bob/temp");
    teardown();
}

/* ---- UNSUBSCRIBE ---- */

TEST(unsubscribe_allowed)
{
    if (!setup(NULL))
        return;
    EXPECT(MQC_ACL_ALLOW, MQC_ACL_UNSUBSCRIBE, "alice", "chat/u/alice/inbox", false);
    EXPECT(MQC_ACL_ALLOW, MQC_ACL_UNSUBSCRIBE, "alice", "chat/u/bob/inbox", false);
    EXPECT(MQC_ACL_ALLOW, MQC_ACL_UNSUBSCRIBE, "alice", "#", false);
    teardown();
}

/* ---- bad users ---- */

TEST(null_or_invalid_user_denied)
{
    static const enum mqc_acl_access all[] = {MQC_ACL_SUBSCRIBE, MQC_ACL_UNSUBSCRIBE, MQC_ACL_WRITE,
                                              MQC_ACL_READ};
    static const char *users[] = {NULL, "", "a/b", "+", "#", "al ice"};
    static const char *topics[] = {"chat/u/alice/inbox", "chat/presence/alice", "chat/c/c1/send",
                                   "devices/alice/x", "public/news"};
    if (!setup("devices/%u/# public/#"))
        return;
    for (size_t a = 0; a < sizeof all / sizeof all[0]; a++) {
        for (size_t u = 0; u < sizeof users / sizeof users[0]; u++) {
            for (size_t t = 0; t < sizeof topics / sizeof topics[0]; t++) {
                EXPECT(MQC_ACL_DENY, all[a], users[u], topics[t], false);
            }
        }
    }
    teardown();
}

TEST(null_acl_or_topic_denied)
{
    if (!setup(NULL))
        return;
    CHECK_EQ_INT(mqc_acl_check(NULL, MQC_ACL_READ, "alice", "chat/u/alice/inbox", false),
                 MQC_ACL_DENY);
    CHECK_EQ_INT(mqc_acl_check(&acl, MQC_ACL_READ, "alice", NULL, false), MQC_ACL_DENY);
    CHECK_EQ_INT(mqc_acl_check(&acl, MQC_ACL_SUBSCRIBE, "alice", NULL, false), MQC_ACL_DENY);
    teardown();
}

int main(void)
{
    RUN(subscribe_own_inbox);
    RUN(subscribe_others_inbox_denied);
    RUN(subscribe_wildcards_over_chat_denied);
    RUN(subscribe_sys_denied);
    RUN(subscribe_shared);
    RUN(subscribe_presence);
    RUN(subscribe_conv_and_req_denied);
    RUN(subscribe_invalid_filter_denied);
    RUN(subscribe_other_topics);
    RUN(subscribe_outside_chat_without_other_topics);
    RUN(write_req);
    RUN(write_inbox_denied);
    RUN(write_conv_shape_only);
    RUN(write_conv_bad_shape);
    RUN(write_presence);
    RUN(write_other_chat_denied);
    RUN(write_outside_chat_only_via_other_topics);
    RUN(write_sys_denied);
    RUN(read_inbox);
    RUN(read_presence);
    RUN(read_presence_without_membership_interface);
    RUN(read_conv_and_other);
    RUN(unsubscribe_allowed);
    RUN(null_or_invalid_user_denied);
    RUN(null_acl_or_topic_denied);
    return test_finish();
}
