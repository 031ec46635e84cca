/* Unit tests for core/members.h: the membership cache. Absent entries have
 * version -1 and no list; set copies the users, replaces a whole entry,
 * drop removes it; count follows; thousands of conversations (forcing the
 * table to grow) all stay retrievable; an empty member list is a cached
 * entry; free(NULL) is safe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/members.h"
#include "tests/unit/test.h"

TEST(absent)
{
    struct mqc_members *m = mqc_members_new();
    if (!CHECK(m != NULL))
        return;
    size_t n = 99;
    CHECK_EQ_INT(mqc_members_version(m, "c1"), -1);
    CHECK(mqc_members_list(m, "c1", &n) == NULL);
    CHECK_EQ_INT(n, 0);
    CHECK(!mqc_members_has(m, "c1", "alice"));
    CHECK_EQ_INT(mqc_members_count(m), 0);
    mqc_members_drop(m, "c1"); /* dropping what is not there is harmless */
    CHECK_EQ_INT(mqc_members_count(m), 0);
    mqc_members_free(m);
}

TEST(set_list_has_version)
{
    struct mqc_members *m = mqc_members_new();
    if (!CHECK(m != NULL))
        return;
    /* The users are copied: the caller's buffers may change afterwards. */
    char u0[] = "alice", u1[] = "bob";
    const char *users[] = {u0, u1};
    CHECK_EQ_INT(mqc_members_set(m, "c1", 7, users, 2), MQC_OK);
    u0[0] = 'X';
    u1[0] = 'X';
    users[0] = users[1] = "junk";
    CHECK_EQ_INT(mqc_members_version(m, "c1"), 7);
    size_t n = 0;
    const char *const *list = mqc_members_list(m, "c1", &n);
    if (CHECK(list != NULL) && CHECK_EQ_INT(n, 2)) {
        CHECK_STR(list[0], "alice");
        CHECK_STR(list[1], "bob");
    }
    CHECK(mqc_members_has(m, "c1", "alice"));
    CHECK(mqc_members_has(m, "c1", "bob"));
    CHECK(!mqc_members_has(m, "c1", "carol"));
    CHECK(!mqc_members_has(m, "c1", "alic"));
    CHECK(!mqc_members_has(m, "c2", "alice"));
    CHECK_EQ_INT(mqc_members_version(m, "c2"), -1);
    CHECK_EQ_INT(mqc_members_count(m), 1);
    /* version 0 is a real version, not "absent" */
    CHECK_EQ_INT(mqc_members_set(m, "c0", 0, users, 1), MQC_OK);
    CHECK_EQ_INT(mqc_members_version(m, "c0"), 0);
    mqc_members_free(m);
}

TEST(replace_entry)
{
    struct mqc_members *m = mqc_members_new();
    if (!CHECK(m != NULL))
        return;
    const char *before[] = {"alice", "bob", "carol"};
    const char *after[] = {"dave"};
    CHECK_EQ_INT(mqc_members_set(m, "c1", 1, before, 3), MQC_OK);
    CHECK_EQ_INT(mqc_members_set(m, "c1", 2, after, 1), MQC_OK);
    CHECK_EQ_INT(mqc_members_version(m, "c1"), 2);
    CHECK_EQ_INT(mqc_members_count(m), 1); /* replaced, not added */
    size_t n = 0;
    const char *const *list = mqc_members_list(m, "c1", &n);
    if (CHECK(list != NULL) && CHECK_EQ_INT(n, 1))
        CHECK_STR(list[0], "dave");
    CHECK(mqc_members_has(m, "c1", "dave"));
    CHECK(!mqc_members_has(m, "c1", "alice"));
    CHECK(!mqc_members_has(m, "c1", "carol"));
    mqc_members_free(m);
}

TEST(drop)
{
    struct mqc_members *m = mqc_members_new();
    if (!CHECK(m != NULL))
        return;
    const char *users[] = {"alice"};
    CHECK_EQ_INT(mqc_members_set(m, "c1", 3, users, 1), MQC_OK);
    CHECK_EQ_INT(mqc_members_set(m, "c2", 4, users, 1), MQC_OK);
    CHECK_EQ_INT(mqc_members_count(m), 2);
    mqc_members_drop(m, "c1");
    CHECK_EQ_INT(mqc_members_count(m), 1);
    CHECK_EQ_INT(mqc_members_version(m, "c1"), -1);
    size_t n = 5;
    CHECK(mqc_members_list(m, "c1", &n) == NULL);
    CHECK_EQ_INT(n, 0);
    CHECK(!mqc_members_has(m, "c1", "alice"));
    /* the other one is untouched */
    CHECK_EQ_INT(mqc_members_version(m, "c2"), 4);
    CHECK(mqc_members_has(m, "c2", "alice"));
    mqc_members_drop(m, "c1"); /* twice */
    CHECK_EQ_INT(mqc_members_count(m), 1);
    /* and it can come back */
    CHECK_EQ_INT(mqc_members_set(m, "c1", 9, users, 1), MQC_OK);
    CHECK_EQ_INT(mqc_members_version(m, "c1"), 9);
    CHECK_EQ_INT(mqc_members_count(m), 2);
    mqc_members_free(m);
}

TEST(set_empty)
{
    struct mqc_members *m = mqc_members_new();
    if (!CHECK(m != NULL))
        return;
    CHECK_EQ_INT(mqc_members_set(m, "c1", 5, NULL, 0), MQC_OK);
    CHECK_EQ_INT(mqc_members_version(m, "c1"), 5);
    CHECK_EQ_INT(mqc_members_count(m), 1);
    size_t n = 99;
    const char *const *list = mqc_members_list(m, "c1", &n);
    /* cached (not NULL: NULL means "not cached"), with no members */
    CHECK(list != NULL);
    CHECK_EQ_INT(n, 0);
    CHECK(!mqc_members_has(m, "c1", "alice"));
    mqc_members_free(m);
}

TEST(many_conversations)
{
    enum { N = 5000 };
    struct mqc_members *m = mqc_members_new();
    if (!CHECK(m != NULL))
        return;
    char conv[32], user[32];
    int failed = 0;
    for (int i = 0; i < N; i++) {
        snprintf(conv, sizeof conv, "g-%d", i);
        snprintf(user, sizeof user, "u%d", i);
        const char *users[] = {user, "common"};
        if (mqc_members_set(m, conv, i, users, 2) != MQC_OK)
            failed++;
    }
    CHECK_EQ_INT(failed, 0);
    CHECK_EQ_INT(mqc_members_count(m), N);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        snprintf(conv, sizeof conv, "g-%d", i);
        snprintf(user, sizeof user, "u%d", i);
        size_t n = 0;
        const char *const *list = mqc_members_list(m, conv, &n);
        if (mqc_members_version(m, conv) != i || !list || n != 2 || strcmp(list[0], user) != 0 ||
            strcmp(list[1], "common") != 0 || !mqc_members_has(m, conv, user)) {
            if (bad++ < 5)
                fprintf(stderr, "  %s lost or wrong\n", conv);
        }
    }
    CHECK_EQ_INT(bad, 0);
    /* drop every other one; the rest stay */
    for (int i = 0; i < N; i += 2) {
        snprintf(conv, sizeof conv, "g-%d", i);
        mqc_members_drop(m, conv);
    }
    CHECK_EQ_INT(mqc_members_count(m), N / 2);
    bad = 0;
    for (int i = 0; i < N; i++) {
        snprintf(conv, sizeof conv, "g-%d", i);
        int64_t want = (i % 2) ? i : -1;
        if (mqc_members_version(m, conv) != want)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    mqc_members_free(m);
}

TEST(free_null)
{
    mqc_members_free(NULL);
    /* and freeing a populated cache releases everything (checked by ASan) */
    struct mqc_members *m = mqc_members_new();
    if (!CHECK(m != NULL))
        return;
    const char *users[] = {"a", "b"};
    CHECK_EQ_INT(mqc_members_set(m, "c1", 1, users, 2), MQC_OK);
    mqc_members_free(m);
}

int main(void)
{
    RUN(absent);
    RUN(set_list_has_version);
    RUN(replace_entry);
    RUN(drop);
    RUN(set_empty);
    RUN(many_conversations);
    RUN(free_null);
    return test_finish();
}
