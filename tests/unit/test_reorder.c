/* Per-conversation delivery order (core/reorder.c): in order at once, gaps
 * wait and fill, deadlines release, old and duplicate events, conversations
 * independent. */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/reorder.h"
#include "tests/unit/test.h"

struct log {
    char text[512];
};

static void record(void *ctx, const struct mqc_reorder_out *o)
{
    struct log *l = ctx;
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, "%s%s:%lld", n ? " " : "", o->conv,
             (long long)o->seq);
}

static void offer(struct mqc_reorder *r, struct log *l, const char *conv, int64_t seq, int64_t now)
{
    const char *users[] = {"alice", "bob"};
    struct mqc_reorder_out ev = {conv, seq, users, 2, "{}", 2, 1};
    CHECK_EQ_INT(mqc_reorder_offer(r, &ev, now, record, l), MQC_OK);
}

TEST(in_order_and_gaps)
{
    struct mqc_reorder *r = mqc_reorder_new(50);
    struct log l = {""};
    offer(r, &l, "c", 1, 0);
    offer(r, &l, "c", 2, 0);
    offer(r, &l, "c", 4, 0); /* waits for 3 */
    offer(r, &l, "c", 5, 0);
    offer(r, &l, "d", 7, 0); /* first of d: at once */
    CHECK_STR(l.text, "c:1 c:2 d:7");
    CHECK_EQ_INT((int)mqc_reorder_waiting(r), 2);
    offer(r, &l, "c", 3, 10);
    CHECK_STR(l.text, "c:1 c:2 d:7 c:3 c:4 c:5");
    CHECK_EQ_INT((int)mqc_reorder_waiting(r), 0);
    offer(r, &l, "c", 2, 10); /* old: at once */
    CHECK_STR(l.text, "c:1 c:2 d:7 c:3 c:4 c:5 c:2");
    mqc_reorder_free(r);
}

TEST(deadline_releases)
{
    struct mqc_reorder *r = mqc_reorder_new(50);
    struct log l = {""};
    offer(r, &l, "c", 1, 0);
    offer(r, &l, "c", 3, 0);
    offer(r, &l, "c", 3, 1); /* duplicate while waiting */
    offer(r, &l, "c", 6, 20);
    CHECK_EQ_INT((int)mqc_reorder_due(r, 49, record, &l), 50);
    CHECK_STR(l.text, "c:1");
    CHECK_EQ_INT((int)mqc_reorder_due(r, 50, record, &l), 70);
    CHECK_STR(l.text, "c:1 c:3");
    offer(r, &l, "c", 4, 55);
    CHECK_STR(l.text, "c:1 c:3 c:4");
    CHECK(mqc_reorder_due(r, 70, record, &l) == INT64_MAX);
    CHECK_STR(l.text, "c:1 c:3 c:4 c:6");
    CHECK_EQ_INT((int)mqc_reorder_waiting(r), 0);
    mqc_reorder_free(r);
}

TEST(free_with_waiting)
{
    struct mqc_reorder *r = mqc_reorder_new(50);
    struct log l = {""};
    offer(r, &l, "c", 1, 0);
    offer(r, &l, "c", 9, 0);
    CHECK_EQ_INT((int)mqc_reorder_waiting(r), 1);
    mqc_reorder_free(r); /* ASan: nothing leaks */
}

TEST(quiet_conversation_starts_afresh)
{
    struct mqc_reorder *r = mqc_reorder_new(50);
    struct log l = {""};
    offer(r, &l, "c", 1, 0);
    offer(r, &l, "c", 9, 501); /* 8 events for nobody here went by */
    CHECK_STR(l.text, "c:1 c:9");
    offer(r, &l, "c", 11, 502); /* a real gap: waits */
    CHECK_STR(l.text, "c:1 c:9");
    mqc_reorder_free(r);
}

int main(void)
{
    RUN(in_order_and_gaps);
    RUN(deadline_releases);
    RUN(free_with_waiting);
    RUN(quiet_conversation_starts_afresh);
    return test_finish();
}
