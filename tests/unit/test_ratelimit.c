/* Unit tests for core/ratelimit.h: at most max events per window per key, a
 * new window allows again, keys are counted apart (with a large table, so
 * the direct-mapped slots almost never collide), and a clock that goes
 * backwards starts a fresh window instead of misbehaving. */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/password.h"
#include "core/ratelimit.h"
#include "tests/unit/test.h"

#define KEY(s) (s), strlen(s)

TEST(max_per_window)
{
    struct mqc_ratelimit *rl = mqc_ratelimit_new(1024, 3, 1000);
    if (!CHECK(rl != NULL))
        return;
    CHECK(mqc_ratelimit_allow(rl, KEY("alice\nc1"), 10000));
    CHECK(mqc_ratelimit_allow(rl, KEY("alice\nc1"), 10001));
    CHECK(mqc_ratelimit_allow(rl, KEY("alice\nc1"), 10500));
    CHECK(!mqc_ratelimit_allow(rl, KEY("alice\nc1"), 10600));
    CHECK(!mqc_ratelimit_allow(rl, KEY("alice\nc1"), 10999)); /* last ms of the window */
    mqc_ratelimit_free(rl);
}

TEST(new_window_allows_again)
{
    struct mqc_ratelimit *rl = mqc_ratelimit_new(1024, 2, 1000);
    if (!CHECK(rl != NULL))
        return;
    CHECK(mqc_ratelimit_allow(rl, KEY("k"), 0));
    CHECK(mqc_ratelimit_allow(rl, KEY("k"), 1));
    CHECK(!mqc_ratelimit_allow(rl, KEY("k"), 2));
    /* the window is [0, 1000): 1000 starts a new one */
    CHECK(mqc_ratelimit_allow(rl, KEY("k"), 1000));
    CHECK(mqc_ratelimit_allow(rl, KEY("k"), 1001));
    CHECK(!mqc_ratelimit_allow(rl, KEY("k"), 1002));
    /* a long pause */
    CHECK(mqc_ratelimit_allow(rl, KEY("k"), 1000000));
    CHECK(mqc_ratelimit_allow(rl, KEY("k"), 1000000));
    CHECK(!mqc_ratelimit_allow(rl, KEY("k"), 1000000));
    mqc_ratelimit_free(rl);
}

TEST(refused_events_do_not_extend_window)
{
    /* Refused events are not counted into a later window: once the window
     * is over, the full allowance is back. */
    struct mqc_ratelimit *rl = mqc_ratelimit_new(64, 1, 100);
    if (!CHECK(rl != NULL))
        return;
    CHECK(mqc_ratelimit_allow(rl, KEY("k"), 0));
    for (int t = 1; t < 100; t++)
        CHECK(!mqc_ratelimit_allow(rl, KEY("k"), t));
    CHECK(mqc_ratelimit_allow(rl, KEY("k"), 100));
    mqc_ratelimit_free(rl);
}

TEST(keys_independent)
{
    /* 1M slots, 200 keys: the chance that any two share a slot is ~2%;
     * count a few collisions as tolerable rather than flaky. */
    enum { K = 200, MAX = 3 };
    struct mqc_ratelimit *rl = mqc_ratelimit_new(1 << 20, MAX, 60000);
    if (!CHECK(rl != NULL))
        return;
    char key[32];
    int wrong = 0;
    /* Interleave: every key uses its allowance, round by round. */
    for (int round = 0; round < MAX; round++) {
        for (int k = 0; k < K; k++) {
            snprintf(key, sizeof key, "user%d\nconv", k);
            if (!mqc_ratelimit_allow(rl, KEY(key), 5000 + round))
                wrong++;
        }
    }
    /* Now every key is at its limit. */
    for (int k = 0; k < K; k++) {
        snprintf(key, sizeof key, "user%d\nconv", k);
        if (mqc_ratelimit_allow(rl, KEY(key), 5100))
            wrong++;
    }
    CHECK(wrong <= 4);
    /* Exhausting one key leaves a fresh one untouched. */
    CHECK(mqc_ratelimit_allow(rl, KEY("fresh-key"), 5200));
    mqc_ratelimit_free(rl);
}

TEST(keys_use_len_not_nul)
{
    /* Keys are len bytes and may hold NUL: "a\0b" and "a\0c" are different
     * keys, "ab" cut to 1 byte is "a". */
    struct mqc_ratelimit *rl = mqc_ratelimit_new(1 << 20, 1, 1000);
    if (!CHECK(rl != NULL))
        return;
    CHECK(mqc_ratelimit_allow(rl, "a\0b", 3, 0));
    CHECK(!mqc_ratelimit_allow(rl, "a\0b", 3, 1));
    CHECK(mqc_ratelimit_allow(rl, "a\0c", 3, 1));
    CHECK(mqc_ratelimit_allow(rl, "a", 1, 1));
    CHECK(!mqc_ratelimit_allow(rl, "ab", 1, 2)); /* the same 1-byte key "a" */
    mqc_ratelimit_free(rl);
}

TEST(time_backwards)
{
    struct mqc_ratelimit *rl = mqc_ratelimit_new(1024, 2, 1000);
    if (!CHECK(rl != NULL))
        return;
    CHECK(mqc_ratelimit_allow(rl, KEY("k"), 50000));
    CHECK(mqc_ratelimit_allow(rl, KEY("k"), 50001));
    CHECK(!mqc_ratelimit_allow(rl, KEY("k"), 50002));
    /* The clock jumps back: a fresh window starts at the new time, with its
     * usual allowance and limit (no stuck key, no unlimited key). */
    CHECK(mqc_ratelimit_allow(rl, KEY("k"), 10000));
    CHECK(mqc_ratelimit_allow(rl, KEY("k"), 10001));
    CHECK(!mqc_ratelimit_allow(rl, KEY("k"), 10002));
    /* and time goes on normally from there */
    CHECK(!mqc_ratelimit_allow(rl, KEY("k"), 10999));
    CHECK(mqc_ratelimit_allow(rl, KEY("k"), 11000));
    /* negative times are just times */
    CHECK(mqc_ratelimit_allow(rl, KEY("k"), -5000));
    mqc_ratelimit_free(rl);
}

TEST(max_zero_means_unlimited_and_free_null)
{
    struct mqc_ratelimit *rl = mqc_ratelimit_new(16, 0, 1000);
    if (!CHECK(rl != NULL))
        return;
    for (int i = 0; i < 1000; i++)
        CHECK(mqc_ratelimit_allow(rl, KEY("k"), 0));
    CHECK(mqc_ratelimit_allow_n(rl, KEY("k"), 1ULL << 40, 5000));
    mqc_ratelimit_free(rl);
    mqc_ratelimit_free(NULL);
}

TEST(allow_n_counts_units)
{
    struct mqc_ratelimit *rl = mqc_ratelimit_new(1024, 1000, 1000);
    if (!CHECK(rl != NULL))
        return;
    CHECK(mqc_ratelimit_allow_n(rl, KEY("bytes"), 600, 0));
    CHECK(!mqc_ratelimit_allow_n(rl, KEY("bytes"), 500, 10)); /* would pass 1000 */
    CHECK(mqc_ratelimit_allow_n(rl, KEY("bytes"), 400, 20));  /* nothing was counted */
    CHECK(!mqc_ratelimit_allow_n(rl, KEY("bytes"), 1, 30));
    CHECK(!mqc_ratelimit_allow_n(rl, KEY("other"), 1001, 30));  /* larger than the limit */
    CHECK(mqc_ratelimit_allow_n(rl, KEY("bytes"), 1000, 1000)); /* next window */
    mqc_ratelimit_free(rl);
}

int main(void)
{
    if (mqc_password_init() != MQC_OK) {
        fprintf(stderr, "mqc_password_init failed\n");
        return 1;
    }
    RUN(max_per_window);
    RUN(new_window_allows_again);
    RUN(refused_events_do_not_extend_window);
    RUN(keys_independent);
    RUN(keys_use_len_not_nul);
    RUN(time_backwards);
    RUN(max_zero_means_unlimited_and_free_null);
    RUN(allow_n_counts_units);
    return test_finish();
}
