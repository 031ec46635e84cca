/* Unit tests for bridge/faillog.h: a failure class is logged at once, then
 * at most once per interval with the count of those not logged; classes
 * are independent; too many classes share the last slot. */
#include <stdio.h>

#include "bridge/faillog.h"
#include "tests/unit/test.h"

TEST(once_per_interval)
{
    struct mqc_faillog f;
    long quiet = -1;
    mqc_faillog_init(&f, 60000);
    CHECK(mqc_faillog_note(&f, "apns transport", 1000, &quiet));
    CHECK_EQ_INT(quiet, 0);
    for (int i = 0; i < 5; i++)
        CHECK(!mqc_faillog_note(&f, "apns transport", 2000 + i, &quiet));
    CHECK(!mqc_faillog_note(&f, "apns transport", 60999, &quiet));
    CHECK(mqc_faillog_note(&f, "apns transport", 61000, &quiet));
    CHECK_EQ_INT(quiet, 6);
    CHECK(!mqc_faillog_note(&f, "apns transport", 61001, &quiet));
}

TEST(classes_are_independent)
{
    struct mqc_faillog f;
    long quiet = -1;
    mqc_faillog_init(&f, 1000);
    CHECK(mqc_faillog_note(&f, "apns transport", 0, &quiet));
    CHECK(mqc_faillog_note(&f, "fcm oauth", 1, &quiet));
    CHECK(!mqc_faillog_note(&f, "apns transport", 2, &quiet));
    CHECK(!mqc_faillog_note(&f, "fcm oauth", 3, &quiet));
    CHECK(mqc_faillog_note(&f, "fcm oauth", 1001, &quiet));
    CHECK_EQ_INT(quiet, 1);
}

TEST(many_classes_share_the_last_slot)
{
    struct mqc_faillog f;
    long quiet = -1;
    char name[32];
    mqc_faillog_init(&f, 1000);
    for (int i = 0; i < MQC_FAILLOG_CLASSES + 4; i++) {
        snprintf(name, sizeof name, "class %d", i);
        bool logged = mqc_faillog_note(&f, name, 10, &quiet);
        CHECK(logged == (i < MQC_FAILLOG_CLASSES)); /* the overflow shares one slot */
    }
    CHECK(mqc_faillog_note(&f, "class 99", 1010, &quiet));
    CHECK_EQ_INT(quiet, 4);
}

int main(void)
{
    RUN(once_per_interval);
    RUN(classes_are_independent);
    RUN(many_classes_share_the_last_slot);
    return test_finish();
}
