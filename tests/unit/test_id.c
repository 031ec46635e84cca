/* Unit tests for core/id.h: which user and conversation ids are accepted. */
#include <string.h>

#include "core/id.h"
#include "tests/unit/test.h"

/* Fill buf with n copies of c and a NUL. */
static void repeat(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
}

TEST(valid_ids)
{
    CHECK(mqc_id_valid_str("alice"));
    CHECK(mqc_id_valid_str("a"));
    CHECK(mqc_id_valid_str("Bob_2.test-x"));
    CHECK(mqc_id_valid_str("0123456789"));
    CHECK(mqc_id_valid_str("ABCXYZabcxyz"));
    CHECK(mqc_id_valid_str("..."));
    CHECK(mqc_id_valid_str("-_-"));
    CHECK(mqc_id_valid("alice", 5));
}

TEST(empty_is_invalid)
{
    CHECK(!mqc_id_valid_str(""));
    CHECK(!mqc_id_valid("", 0));
    CHECK(!mqc_id_valid("alice", 0));
}

TEST(null_is_invalid)
{
    CHECK(!mqc_id_valid_str(NULL));
    CHECK(!mqc_id_valid(NULL, 0));
    CHECK(!mqc_id_valid(NULL, 5));
}

TEST(length_64_ok_65_refused)
{
    char buf[MQC_ID_MAX + 8];
    CHECK_EQ_INT(MQC_ID_MAX, 64);
    repeat(buf, 'a', 64);
    CHECK(mqc_id_valid_str(buf));
    CHECK(mqc_id_valid(buf, 64));
    repeat(buf, 'a', 65);
    CHECK(!mqc_id_valid_str(buf));
    CHECK(!mqc_id_valid(buf, 65));
    repeat(buf, 'a', 70);
    CHECK(!mqc_id_valid_str(buf));
}

TEST(len_bounds_the_string)
{
    /* s need not be NUL-terminated: only the first len bytes count. */
    CHECK(mqc_id_valid("alice/inbox", 5));
    CHECK(!mqc_id_valid("alice/inbox", 6));
    char buf[70];
    memset(buf, 'z', sizeof buf); /* no NUL anywhere */
    CHECK(mqc_id_valid(buf, 64));
    CHECK(!mqc_id_valid(buf, 65));
}

TEST(forbidden_chars)
{
    static const char *bad[] = {
        "a+b",    "a#b",    "a/b",  "a b",  "+",    "#",   "/",    " ",
        "alice ", " alice", "a\tb", "a\nb", "a:b",  "a@b", "a$b",  "$SYS",
        "a%b",    "a*b",    "a,b",  "a\\b", "a\"b", "a'b", "a{b}", "a~b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!CHECK(!mqc_id_valid_str(bad[i])))
            fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
        if (!CHECK(!mqc_id_valid(bad[i], strlen(bad[i]))))
            fprintf(stderr, "  accepted with len: \"%s\"\n", bad[i]);
    }
}

TEST(nul_in_middle_via_len)
{
    static const char s[] = "ab\0cd";
    CHECK(!mqc_id_valid(s, 5));
    CHECK(mqc_id_valid(s, 2));
    /* The _str form stops at the NUL: "ab" is a fine id. */
    CHECK(mqc_id_valid_str(s));
}

TEST(unicode_bytes)
{
    CHECK(!mqc_id_valid_str("caf\xc3\xa9"));  /* café in UTF-8 */
    CHECK(!mqc_id_valid_str("\xe2\x98\x83")); /* snowman */
    CHECK(!mqc_id_valid_str("a\xff"));
    CHECK(!mqc_id_valid_str("a\x80z"));
    CHECK(!mqc_id_valid("caf\xc3\xa9", 5));
    CHECK(!mqc_id_valid_str("a\x7f")); /* DEL */
    CHECK(!mqc_id_valid_str("a\x01")); /* control */
}

int main(void)
{
    RUN(valid_ids);
    RUN(empty_is_invalid);
    RUN(null_is_invalid);
    RUN(length_64_ok_65_refused);
    RUN(len_bounds_the_string);
    RUN(forbidden_chars);
    RUN(nul_in_middle_via_len);
    RUN(unicode_bytes);
    return test_finish();
}
