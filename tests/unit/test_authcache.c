/* Unit tests for core/authcache.h: hits only for the exact (user, stored
 * hash, password) triple within the ttl, forget, ttl 0, _free(NULL). Time is
 * a fake clock: plain numbers passed in. */
#include <string.h>

#include "core/authcache.h"
#include "core/err.h"
#include "core/password.h"
#include "tests/unit/test.h"

#define H1 "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaDE"
#define H2 "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaDI"
#define PW "pw-one"
#define TTL 300000
#define T0 1000000

/* A cache holding alice/H1/PW remembered at T0. */
static struct mqc_authcache *primed(void)
{
    struct mqc_authcache *c = mqc_authcache_new(64, TTL);
    if (c)
        mqc_authcache_remember(c, "alice", H1, PW, strlen(PW), T0);
    return c;
}

TEST(init)
{
    CHECK_EQ_INT(mqc_password_init(), MQC_OK);
}

TEST(miss_before_remember)
{
    struct mqc_authcache *c = mqc_authcache_new(64, TTL);
    if (!CHECK(c != NULL))
        return;
    CHECK(!mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0));
    mqc_authcache_free(c);
}

TEST(hit_after_remember)
{
    struct mqc_authcache *c = primed();
    if (!CHECK(c != NULL))
        return;
    CHECK(mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0));
    CHECK(mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0 + 1));
    CHECK(mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0 + TTL - 1));
    mqc_authcache_free(c);
}

TEST(miss_other_password)
{
    struct mqc_authcache *c = primed();
    if (!CHECK(c != NULL))
        return;
    CHECK(!mqc_authcache_check(c, "alice", H1, "pw-two", 6, T0 + 1));
    CHECK(!mqc_authcache_check(c, "alice", H1, PW, strlen(PW) - 1, T0 + 1)); /* a prefix */
    CHECK(!mqc_authcache_check(c, "alice", H1, "", 0, T0 + 1));
    /* The misses did not evict the good entry. */
    CHECK(mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0 + 1));
    mqc_authcache_free(c);
}

TEST(miss_other_stored_hash)
{
    /* The password was changed: same password text, new stored hash. */
    struct mqc_authcache *c = primed();
    if (!CHECK(c != NULL))
        return;
    CHECK(!mqc_authcache_check(c, "alice", H2, PW, strlen(PW), T0 + 1));
    mqc_authcache_free(c);
}

TEST(miss_other_user)
{
    struct mqc_authcache *c = primed();
    if (!CHECK(c != NULL))
        return;
    CHECK(!mqc_authcache_check(c, "bob", H1, PW, strlen(PW), T0 + 1));
    CHECK(!mqc_authcache_check(c, "alicex", H1, PW, strlen(PW), T0 + 1));
    CHECK(!mqc_authcache_check(c, "alic", H1, PW, strlen(PW), T0 + 1));
    mqc_authcache_free(c);
}

TEST(expiry)
{
    struct mqc_authcache *c = primed();
    if (!CHECK(c != NULL))
        return;
    CHECK(!mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0 + TTL));
    CHECK(!mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0 + TTL + 1));
    /* Remembering again renews. */
    mqc_authcache_remember(c, "alice", H1, PW, strlen(PW), T0 + TTL);
    CHECK(mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0 + TTL + 1));
    mqc_authcache_free(c);
}

TEST(hit_renews)
{
    struct mqc_authcache *c = primed();
    if (!CHECK(c != NULL))
        return;
    /* A hit just before expiry starts the lifetime again. */
    CHECK(mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0 + TTL - 1));
    CHECK(mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0 + 2 * TTL - 2));
    CHECK(!mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0 + 3 * TTL));
    /* A wrong password does not renew. */
    mqc_authcache_remember(c, "alice", H1, PW, strlen(PW), T0);
    CHECK(!mqc_authcache_check(c, "alice", H1, "nope", 4, T0 + TTL - 1));
    CHECK(!mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0 + TTL));
    mqc_authcache_free(c);
}

TEST(forget)
{
    struct mqc_authcache *c = primed();
    if (!CHECK(c != NULL))
        return;
    CHECK(mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0 + 1));
    mqc_authcache_forget(c, "alice");
    CHECK(!mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0 + 1));
    /* Forgetting again, an unknown user, a bad id or with no cache: no-ops. */
    mqc_authcache_forget(c, "alice");
    mqc_authcache_forget(c, "nobody");
    mqc_authcache_forget(c, NULL);
    mqc_authcache_forget(c, "a/b");
    mqc_authcache_forget(NULL, "alice");
    CHECK(!mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0 + 2));
    mqc_authcache_free(c);
}

TEST(forget_leaves_others)
{
    /* One set: every user shares it, so forgetting a user that is not held
     * must not clear anyone else. */
    struct mqc_authcache *c = mqc_authcache_new(1, TTL);
    if (!CHECK(c != NULL))
        return;
    mqc_authcache_remember(c, "bob", H2, "bobpw", 5, T0);
    mqc_authcache_forget(c, "alice");
    CHECK(mqc_authcache_check(c, "bob", H2, "bobpw", 5, T0 + 1));
    mqc_authcache_forget(c, "bob");
    CHECK(!mqc_authcache_check(c, "bob", H2, "bobpw", 5, T0 + 1));
    mqc_authcache_free(c);
}

TEST(collision_evicts)
{
    /* Four ways: with one set, four users fit; a fifth replaces the
     * stalest. */
    struct mqc_authcache *c = mqc_authcache_new(1, TTL);
    if (!CHECK(c != NULL))
        return;
    const char *users[] = {"u1", "u2", "u3", "u4", "u5"};
    for (int i = 0; i < 4; i++)
        mqc_authcache_remember(c, users[i], H1, PW, strlen(PW), T0 + i);
    for (int i = 0; i < 4; i++)
        CHECK(mqc_authcache_check(c, users[i], H1, PW, strlen(PW), T0 + 10));
    /* The checks renewed all four at T0 + 10; u1 is touched once more. */
    CHECK(mqc_authcache_check(c, "u1", H1, PW, strlen(PW), T0 + 11));
    mqc_authcache_remember(c, "u5", H1, PW, strlen(PW), T0 + 12);
    CHECK(mqc_authcache_check(c, "u5", H1, PW, strlen(PW), T0 + 13));
    CHECK(mqc_authcache_check(c, "u1", H1, PW, strlen(PW), T0 + 13));
    int kept = 0;
    for (int i = 1; i < 4; i++)
        kept += mqc_authcache_check(c, users[i], H1, PW, strlen(PW), T0 + 13);
    CHECK_EQ_INT(kept, 2);
    mqc_authcache_free(c);
}

TEST(ttl_zero_never_hits)
{
    struct mqc_authcache *c = mqc_authcache_new(64, 0);
    if (!CHECK(c != NULL))
        return;
    mqc_authcache_remember(c, "alice", H1, PW, strlen(PW), T0);
    CHECK(!mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0));
    CHECK(!mqc_authcache_check(c, "alice", H1, PW, strlen(PW), T0 - 1));
    mqc_authcache_free(c);
}

TEST(bad_arguments_never_hit)
{
    struct mqc_authcache *c = primed();
    if (!CHECK(c != NULL))
        return;
    CHECK(!mqc_authcache_check(NULL, "alice", H1, PW, strlen(PW), T0));
    CHECK(!mqc_authcache_check(c, NULL, H1, PW, strlen(PW), T0));
    CHECK(!mqc_authcache_check(c, "alice", NULL, PW, strlen(PW), T0));
    CHECK(!mqc_authcache_check(c, "alice", H1, NULL, 0, T0));
    /* Remembering with an invalid user stores nothing that can hit later. */
    mqc_authcache_remember(c, "a/b", H1, PW, strlen(PW), T0);
    CHECK(!mqc_authcache_check(c, "a/b", H1, PW, strlen(PW), T0));
    mqc_authcache_remember(NULL, "alice", H1, PW, strlen(PW), T0);
    mqc_authcache_free(c);
}

TEST(free_null)
{
    mqc_authcache_free(NULL);
    CHECK(true); /* reaching here is the check: _free(NULL) does nothing */
}

int main(void)
{
    RUN(init);
    RUN(miss_before_remember);
    RUN(hit_after_remember);
    RUN(miss_other_password);
    RUN(miss_other_stored_hash);
    RUN(miss_other_user);
    RUN(expiry);
    RUN(hit_renews);
    RUN(forget);
    RUN(forget_leaves_others);
    RUN(collision_evicts);
    RUN(ttl_zero_never_hits);
    RUN(bad_arguments_never_hit);
    RUN(free_null);
    return test_finish();
}
