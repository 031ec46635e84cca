/* Key slots against the values the Redis Cluster specification and
 * `CLUSTER KEYSLOT` give, and the per-slot tag table. */
#include <string.h>

#include "core/slot.h"
#include "test.h"

static unsigned slot(const char *k)
{
    return mqc_slot_of(k, strlen(k));
}

TEST(known_slots)
{
    /* CRC16("123456789") = 0x31C3 (the specification's check value). */
    CHECK_EQ_INT(slot("123456789"), 0x31C3u % 16384u);
    /* Values from redis-server 7.0 CLUSTER KEYSLOT. */
    CHECK_EQ_INT(slot("foo"), 12182u);
    CHECK_EQ_INT(slot("bar"), 5061u);
    CHECK_EQ_INT(slot(""), 0u);
}

TEST(hash_tags)
{
    CHECK_EQ_INT(slot("{user1000}.following"), slot("user1000"));
    CHECK_EQ_INT(slot("x{user1000}.followers"), slot("user1000"));
    /* an empty tag hashes the whole key; only the first tag counts */
    CHECK_EQ_INT(slot("foo{}{bar}"), mqc_slot_of("foo{}{bar}", 10));
    CHECK(slot("foo{}{bar}") != slot("bar"));
    CHECK_EQ_INT(slot("foo{{bar}}zap"), slot("{bar"));
    CHECK_EQ_INT(slot("foo{bar}{zap}"), slot("bar"));
    CHECK_EQ_INT(slot("mqchat:{c:abc}:meta"), slot("c:abc"));
    /* no closing brace: the whole key */
    CHECK_EQ_INT(slot("ab{cd"), mqc_slot_of("ab{cd", 5));
}

TEST(tags_cover_every_slot)
{
    int ok = 1;
    for (unsigned s = 0; s < MQC_SLOTS; s++) {
        const char *t = mqc_slot_tag(s);
        if (!t || strlen(t) > MQC_SLOT_TAG_MAX || slot(t) != s) {
            ok = 0;
            break;
        }
    }
    CHECK(ok);
    CHECK(mqc_slot_tag(MQC_SLOTS) == NULL);
}

int main(void)
{
    RUN(known_slots);
    RUN(hash_tags);
    RUN(tags_cover_every_slot);
    return test_finish();
}
