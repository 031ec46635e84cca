/* Unit tests for core/contacts.h: who may see whose presence. An untracked
 * user has nothing and add/add_group give them nothing; track starts an empty
 * set and keeps an existing one; add is one-way and only for tracked users;
 * add_group makes every tracked member learn every other; nobody is their own
 * contact; drop forgets the set; names are copied; free(NULL) is safe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/contacts.h"
#include "core/err.h"
#include "tests/unit/test.h"

TEST(untracked_has_nothing)
{
    struct mqc_contacts *c = mqc_contacts_new();
    if (!CHECK(c != NULL))
        return;
    CHECK(!mqc_contacts_tracked(c, "alice"));
    CHECK(!mqc_contacts_has(c, "alice", "bob"));
    CHECK_EQ_INT(mqc_contacts_add(c, "alice", "bob"), MQC_OK);
    CHECK(!mqc_contacts_tracked(c, "alice")); /* add does not start tracking */
    CHECK(!mqc_contacts_has(c, "alice", "bob"));
    const char *g[] = {"alice", "bob"};
    mqc_contacts_add_group(c, g, 2);
    CHECK(!mqc_contacts_tracked(c, "alice"));
    CHECK(!mqc_contacts_tracked(c, "bob"));
    CHECK(!mqc_contacts_has(c, "alice", "bob"));
    CHECK(!mqc_contacts_has(c, "bob", "alice"));
    /* tracking later starts empty: nothing was remembered */
    CHECK_EQ_INT(mqc_contacts_track(c, "alice"), MQC_OK);
    CHECK(mqc_contacts_tracked(c, "alice"));
    CHECK(!mqc_contacts_has(c, "alice", "bob"));
    mqc_contacts_free(c);
}

TEST(track_add_has)
{
    struct mqc_contacts *c = mqc_contacts_new();
    if (!CHECK(c != NULL))
        return;
    char user[] = "alice", other[] = "bob";
    CHECK_EQ_INT(mqc_contacts_track(c, user), MQC_OK);
    CHECK_EQ_INT(mqc_contacts_add(c, user, other), MQC_OK);
    user[0] = other[0] = 'X'; /* names are copied */
    CHECK(mqc_contacts_tracked(c, "alice"));
    CHECK(!mqc_contacts_tracked(c, "Xlice"));
    CHECK(mqc_contacts_has(c, "alice", "bob"));
    CHECK(!mqc_contacts_has(c, "alice", "Xob"));
    /* one way: bob is not tracked, and tracking him does not copy alice */
    CHECK(!mqc_contacts_has(c, "bob", "alice"));
    CHECK_EQ_INT(mqc_contacts_track(c, "bob"), MQC_OK);
    CHECK(!mqc_contacts_has(c, "bob", "alice"));
    /* no partial matches */
    CHECK(!mqc_contacts_has(c, "alice", "bo"));
    CHECK(!mqc_contacts_has(c, "alice", "bobb"));
    CHECK(!mqc_contacts_has(c, "alic", "bob"));
    /* adding twice is harmless */
    CHECK_EQ_INT(mqc_contacts_add(c, "alice", "bob"), MQC_OK);
    CHECK(mqc_contacts_has(c, "alice", "bob"));
    /* track again keeps the set */
    CHECK_EQ_INT(mqc_contacts_track(c, "alice"), MQC_OK);
    CHECK(mqc_contacts_has(c, "alice", "bob"));
    mqc_contacts_free(c);
}

TEST(self_never_contact)
{
    struct mqc_contacts *c = mqc_contacts_new();
    if (!CHECK(c != NULL))
        return;
    CHECK_EQ_INT(mqc_contacts_track(c, "alice"), MQC_OK);
    CHECK(!mqc_contacts_has(c, "alice", "alice"));
    CHECK_EQ_INT(mqc_contacts_add(c, "alice", "alice"), MQC_OK);
    CHECK(!mqc_contacts_has(c, "alice", "alice"));
    const char *g[] = {"alice", "alice", "bob"};
    mqc_contacts_add_group(c, g, 3);
    CHECK(!mqc_contacts_has(c, "alice", "alice"));
    CHECK(mqc_contacts_has(c, "alice", "bob"));
    const char *solo[] = {"alice"};
    mqc_contacts_add_group(c, solo, 1);
    CHECK(!mqc_contacts_has(c, "alice", "alice"));
    mqc_contacts_free(c);
}

TEST(add_group_only_tracked)
{
    struct mqc_contacts *c = mqc_contacts_new();
    if (!CHECK(c != NULL))
        return;
    CHECK_EQ_INT(mqc_contacts_track(c, "alice"), MQC_OK);
    CHECK_EQ_INT(mqc_contacts_track(c, "carol"), MQC_OK);
    const char *g[] = {"alice", "bob", "carol", "dave"};
    mqc_contacts_add_group(c, g, 4);
    CHECK(mqc_contacts_has(c, "alice", "bob"));
    CHECK(mqc_contacts_has(c, "alice", "carol"));
    CHECK(mqc_contacts_has(c, "alice", "dave"));
    CHECK(mqc_contacts_has(c, "carol", "alice"));
    CHECK(mqc_contacts_has(c, "carol", "bob"));
    CHECK(mqc_contacts_has(c, "carol", "dave"));
    CHECK(!mqc_contacts_tracked(c, "bob"));
    CHECK(!mqc_contacts_tracked(c, "dave"));
    CHECK(!mqc_contacts_has(c, "bob", "alice"));
    CHECK(!mqc_contacts_has(c, "dave", "carol"));
    /* n limits the group: only the first two */
    CHECK_EQ_INT(mqc_contacts_track(c, "erin"), MQC_OK);
    const char *h[] = {"erin", "frank", "gina"};
    mqc_contacts_add_group(c, h, 2);
    CHECK(mqc_contacts_has(c, "erin", "frank"));
    CHECK(!mqc_contacts_has(c, "erin", "gina"));
    mqc_contacts_add_group(c, h, 0);
    CHECK(!mqc_contacts_has(c, "erin", "gina"));
    /* groups accumulate */
    const char *k[] = {"gina", "erin"};
    mqc_contacts_add_group(c, k, 2);
    CHECK(mqc_contacts_has(c, "erin", "gina"));
    CHECK(mqc_contacts_has(c, "erin", "frank"));
    CHECK(!mqc_contacts_has(c, "erin", "alice"));
    mqc_contacts_free(c);
}

TEST(drop)
{
    struct mqc_contacts *c = mqc_contacts_new();
    if (!CHECK(c != NULL))
        return;
    CHECK_EQ_INT(mqc_contacts_track(c, "alice"), MQC_OK);
    CHECK_EQ_INT(mqc_contacts_track(c, "bob"), MQC_OK);
    const char *g[] = {"alice", "bob"};
    mqc_contacts_add_group(c, g, 2);
    mqc_contacts_drop(c, "alice");
    CHECK(!mqc_contacts_tracked(c, "alice"));
    CHECK(!mqc_contacts_has(c, "alice", "bob"));
    CHECK(mqc_contacts_has(c, "bob", "alice")); /* bob's set is his own */
    mqc_contacts_drop(c, "alice");              /* twice: harmless */
    mqc_contacts_drop(c, "nobody");
    CHECK(mqc_contacts_tracked(c, "bob"));
    /* re-tracking starts empty */
    CHECK_EQ_INT(mqc_contacts_track(c, "alice"), MQC_OK);
    CHECK(!mqc_contacts_has(c, "alice", "bob"));
    mqc_contacts_free(c);
}

TEST(many_users)
{
    enum { N = 2000, G = 50 };
    struct mqc_contacts *c = mqc_contacts_new();
    if (!CHECK(c != NULL))
        return;
    static char names[N][16];
    const char *group[G];
    int failed = 0;
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "u%d", i);
        if (i % 2 == 0 && mqc_contacts_track(c, names[i]) != MQC_OK)
            failed++;
    }
    CHECK_EQ_INT(failed, 0);
    /* groups of G consecutive users */
    for (int g0 = 0; g0 < N; g0 += G) {
        for (int j = 0; j < G; j++)
            group[j] = names[g0 + j];
        mqc_contacts_add_group(c, group, G);
    }
    int wrong = 0;
    for (int i = 0; i < N; i += 7) {
        for (int j = 0; j < N; j += 3) {
            bool want = i % 2 == 0 && i != j && i / G == j / G;
            if (mqc_contacts_has(c, names[i], names[j]) != want)
                wrong++;
        }
    }
    CHECK_EQ_INT(wrong, 0);
    mqc_contacts_free(c);
}

TEST(free_null)
{
    mqc_contacts_free(NULL);
    struct mqc_contacts *c = mqc_contacts_new();
    if (!CHECK(c != NULL))
        return;
    CHECK_EQ_INT(mqc_contacts_track(c, "alice"), MQC_OK);
    CHECK_EQ_INT(mqc_contacts_add(c, "alice", "bob"), MQC_OK);
    mqc_contacts_free(c); /* sets and keys released (ASan checks) */
}

TEST(remove_and_reconcile)
{
    struct mqc_contacts *c = mqc_contacts_new();
    if (!CHECK(c != NULL))
        return;
    const char *g[] = {"alice", "bob", "carol"};
    for (int i = 0; i < 3; i++)
        mqc_contacts_track(c, g[i]);
    mqc_contacts_add_group(c, g, 3);
    mqc_contacts_remove_pair(c, "alice", "bob");
    CHECK(!mqc_contacts_has(c, "alice", "bob"));
    CHECK(!mqc_contacts_has(c, "bob", "alice"));
    CHECK(mqc_contacts_has(c, "alice", "carol"));
    /* The store says: alice sees bob and carol; only carol sees alice (alice
     * blocks bob). */
    const char *sees[] = {"bob", "carol"}, *seen_by[] = {"carol"};
    CHECK_EQ_INT(mqc_contacts_reconcile(c, "alice", sees, 2, seen_by, 1), MQC_OK);
    CHECK(mqc_contacts_has(c, "alice", "bob"));
    CHECK(mqc_contacts_has(c, "alice", "carol"));
    CHECK(!mqc_contacts_has(c, "bob", "alice"));
    CHECK(mqc_contacts_has(c, "carol", "alice"));
    /* Nothing shared any more. */
    CHECK_EQ_INT(mqc_contacts_reconcile(c, "alice", NULL, 0, NULL, 0), MQC_OK);
    CHECK(!mqc_contacts_has(c, "alice", "carol"));
    CHECK(!mqc_contacts_has(c, "carol", "alice"));
    CHECK(mqc_contacts_has(c, "bob", "carol"));
    mqc_contacts_remove(c, "bob", "carol");
    CHECK(!mqc_contacts_has(c, "bob", "carol"));
    CHECK(mqc_contacts_has(c, "carol", "bob"));
    mqc_contacts_free(c);
}

int main(void)
{
    RUN(untracked_has_nothing);
    RUN(track_add_has);
    RUN(self_never_contact);
    RUN(add_group_only_tracked);
    RUN(drop);
    RUN(many_users);
    RUN(free_null);
    RUN(remove_and_reconcile);
    return test_finish();
}
