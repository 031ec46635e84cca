/* Replay ring (core/replay.c): which events go again when a user turns up on
 * a node (recipient, not yet sent there for that user, not older than since),
 * each once; the window, the count and the byte caps. */
#include <string.h>

#include "core/replay.h"
#include "tests/unit/test.h"

struct got {
    int n;
    int64_t seqs[16];
    char body[64];
};

static void collect(void *ctx, const struct mqc_replay_out *o)
{
    struct got *g = ctx;
    if (g->n < 16)
        g->seqs[g->n] = o->seq;
    g->n++;
    if (o->len < sizeof g->body) {
        memcpy(g->body, o->payload, o->len);
        g->body[o->len] = '\0';
    }
}

static const char N2[] = "n2", N3[] = "n3"; /* interned names: compared by pointer */

TEST(replays_what_was_not_sent)
{
    struct mqc_replay *r = mqc_replay_new(2000, 100, 1 << 20);
    if (!CHECK(r != NULL))
        return;
    const char *users[] = {"zed", "bob", "carol"};
    struct mqc_replay_ev *ev = mqc_replay_add(r, 1000, "c1", 7, 1, users, 3, "ev7", 3);
    CHECK(ev != NULL);
    mqc_replay_mark(ev, 2, N2); /* carol's copy went to n2 */
    struct got g = {0};
    /* bob on n2: not sent there for him -> once. */
    CHECK_EQ_INT((int)mqc_replay_user(r, 1100, 900, "bob", N2, collect, &g), 1);
    CHECK_EQ_INT(g.n, 1);
    CHECK(g.seqs[0] == 7 && !strcmp(g.body, "ev7"));
    CHECK_EQ_INT((int)mqc_replay_user(r, 1100, 900, "bob", N2, collect, &g), 0);
    /* carol on n2: already sent. zed on n3: yes. dave: no recipient. */
    CHECK_EQ_INT((int)mqc_replay_user(r, 1100, 900, "carol", N2, collect, &g), 0);
    CHECK_EQ_INT((int)mqc_replay_user(r, 1100, 900, "zed", N3, collect, &g), 1);
    CHECK_EQ_INT((int)mqc_replay_user(r, 1100, 900, "dave", N2, collect, &g), 0);
    /* Older than since: the user's sync had it. */
    CHECK_EQ_INT((int)mqc_replay_user(r, 1100, 1001, "carol", N3, collect, &g), 0);
    /* Past the window: gone. */
    CHECK_EQ_INT((int)mqc_replay_user(r, 3001, 0, "carol", N3, collect, &g), 0);
    CHECK_EQ_INT((int)mqc_replay_count(r), 0);
    mqc_replay_free(r);
}

TEST(caps)
{
    struct mqc_replay *r = mqc_replay_new(2000, 3, 100);
    if (!CHECK(r != NULL))
        return;
    const char *users[] = {"bob"};
    char big[200] = {0};
    CHECK(mqc_replay_add(r, 0, "c1", 1, 1, users, 1, big, sizeof big) == NULL); /* over bytes */
    for (int i = 1; i <= 5; i++)
        CHECK(mqc_replay_add(r, i, "c1", i, 1, users, 1, "x", 1) != NULL);
    CHECK_EQ_INT((int)mqc_replay_count(r), 3); /* count cap: 3, 4, 5 kept */
    struct got g = {0};
    CHECK_EQ_INT((int)mqc_replay_user(r, 10, 0, "bob", N2, collect, &g), 3);
    CHECK(g.seqs[0] == 3 && g.seqs[2] == 5);
    CHECK(mqc_replay_add(r, 11, "c1", 6, 1, users, 1, big, 90) != NULL); /* bytes cap */
    CHECK_EQ_INT((int)mqc_replay_count(r), 1);
    /* Unordered events (no conv) come back with seq -1. */
    CHECK(mqc_replay_add(r, 12, NULL, -1, 1, users, 1, "r", 1) != NULL);
    g.n = 0;
    CHECK_EQ_INT((int)mqc_replay_user(r, 12, 12, "bob", N3, collect, &g), 1);
    CHECK(g.seqs[0] == -1);
    mqc_replay_free(r);
    mqc_replay_free(NULL);
}

int main(void)
{
    RUN(replays_what_was_not_sent);
    RUN(caps);
    return test_finish();
}
