/* Unit tests for core/storm.h: below the limit never a storm; the event
 * past the limit in a window starts one; the next window stays a storm
 * (the previous one had at least the limit) and a quiet window after that
 * ends it; a gap of two windows or more forgets the past; limit 0 is
 * always a storm; a clock going back starts a new window. */
#include "core/storm.h"
#include "tests/unit/test.h"

/* n events at t; how many of them were in a storm. */
static int note_n(struct mqc_storm *s, int64_t t, int n, long limit)
{
    int in = 0;
    for (int i = 0; i < n; i++)
        in += mqc_storm_note(s, t, limit);
    return in;
}

TEST(below_limit_never)
{
    struct mqc_storm s = {0};
    for (int64_t t = 0; t < 10000; t += 1000)
        CHECK_EQ_INT(note_n(&s, 1000000 + t, 100, 100), 0); /* exactly the limit each second */
}

TEST(past_limit_starts_and_next_window_stays)
{
    struct mqc_storm s = {0};
    int64_t t = 5000;
    CHECK_EQ_INT(note_n(&s, t, 100, 100), 0);
    CHECK(mqc_storm_note(&s, t + 10, 100));  /* the 101st */
    CHECK(mqc_storm_note(&s, t + 999, 100)); /* same window */
    /* next window: the previous had more than 100, so the first event is a storm */
    CHECK(mqc_storm_note(&s, t + 1000, 100));
    CHECK_EQ_INT(note_n(&s, t + 1500, 5, 100), 5);
    /* the window after a quiet one (6 events): no storm */
    CHECK(!mqc_storm_note(&s, t + 2000, 100));
}

TEST(gap_forgets)
{
    struct mqc_storm s = {0};
    note_n(&s, 0, 500, 100);
    CHECK(mqc_storm_note(&s, 1500, 100)); /* adjacent window: still a storm */
    struct mqc_storm g = {0};
    note_n(&g, 0, 500, 100);
    CHECK(!mqc_storm_note(&g, 2500, 100)); /* two windows later: forgotten */
    CHECK(!mqc_storm_note(&g, 2600, 100));
}

TEST(limit_zero_always)
{
    struct mqc_storm s = {0};
    CHECK(mqc_storm_note(&s, 0, 0));
    CHECK(mqc_storm_note(&s, 123456, 0));
}

TEST(clock_back_new_window)
{
    struct mqc_storm s = {0};
    note_n(&s, 10000, 150, 100);           /* a storm at 10 s */
    CHECK(!mqc_storm_note(&s, 9000, 100)); /* earlier time: a new window, no past */
}

int main(void)
{
    RUN(below_limit_never);
    RUN(past_limit_starts_and_next_window_stays);
    RUN(gap_forgets);
    RUN(limit_zero_always);
    RUN(clock_back_new_window);
    return test_finish();
}
