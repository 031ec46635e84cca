/* Unit tests for core/utf8.h: strict UTF-8 validation (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF, no truncated sequences) and
 * code point counting. Inputs are byte arrays with explicit lengths, so NUL
 * bytes and unterminated buffers are covered too. */
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "tests/unit/test.h"

/* Length of a string literal without its terminating NUL, so literals with
 * embedded NUL bytes keep their full length. */
#define VALID(lit) mqc_utf8_valid((lit), sizeof(lit) - 1)
#define COUNT(lit) mqc_utf8_count((lit), sizeof(lit) - 1)

TEST(empty_is_valid)
{
    CHECK(mqc_utf8_valid("", 0));
    CHECK_EQ_INT(mqc_utf8_count("", 0), 0);
}

TEST(ascii)
{
    CHECK(VALID("hello, world"));
    CHECK(VALID("\x01\x1f\x7f"));
    /* every ASCII byte on its own */
    for (int c = 0; c < 0x80; c++) {
        char b = (char)c;
        if (!CHECK(mqc_utf8_valid(&b, 1)))
            fprintf(stderr, "  byte 0x%02x\n", c);
    }
    CHECK_EQ_INT(COUNT("hello"), 5);
}

TEST(nul_bytes_inside_are_valid)
{
    CHECK(VALID("a\0b"));
    CHECK(VALID("\0"));
    CHECK(VALID("\xc3\xa9\0\xe2\x82\xac"));
    CHECK_EQ_INT(COUNT("a\0b"), 3);
}

TEST(multibyte_sequences)
{
    CHECK(VALID("\xc3\xa9"));         /* U+00E9 e acute, 2 bytes */
    CHECK(VALID("\xe2\x82\xac"));     /* U+20AC euro sign, 3 bytes */
    CHECK(VALID("\xf0\x9f\x98\x80")); /* U+1F600 emoji, 4 bytes */
    CHECK(VALID("caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80!"));
}

TEST(boundaries)
{
    CHECK(VALID("\x7f"));             /* U+007F, last 1-byte */
    CHECK(VALID("\xc2\x80"));         /* U+0080, first 2-byte */
    CHECK(VALID("\xdf\xbf"));         /* U+07FF, last 2-byte */
    CHECK(VALID("\xe0\xa0\x80"));     /* U+0800, first 3-byte */
    CHECK(VALID("\xed\x9f\xbf"));     /* U+D7FF, just below the surrogates */
    CHECK(VALID("\xee\x80\x80"));     /* U+E000, just above the surrogates */
    CHECK(VALID("\xef\xbf\xbf"));     /* U+FFFF, last 3-byte */
    CHECK(VALID("\xf0\x90\x80\x80")); /* U+10000, first 4-byte */
    CHECK(VALID("\xf4\x8f\xbf\xbf")); /* U+10FFFF, last code point */
}

TEST(overlong_refused)
{
    CHECK(!VALID("\xc0\x80"));         /* U+0000 in 2 bytes */
    CHECK(!VALID("\xc1\xbf"));         /* U+007F in 2 bytes */
    CHECK(!VALID("\xe0\x80\x80"));     /* U+0000 in 3 bytes */
    CHECK(!VALID("\xe0\x9f\xbf"));     /* U+07FF in 3 bytes */
    CHECK(!VALID("\xf0\x80\x80\x80")); /* U+0000 in 4 bytes */
    CHECK(!VALID("\xf0\x8f\xbf\xbf")); /* U+FFFF in 4 bytes */
    CHECK(!VALID("ok\xc0\xaf"));       /* overlong '/' after good bytes */
}

TEST(surrogates_refused)
{
    CHECK(!VALID("\xed\xa0\x80"));             /* U+D800 */
    CHECK(!VALID("\xed\xaf\xbf"));             /* U+DBFF */
    CHECK(!VALID("\xed\xb0\x80"));             /* U+DC00 */
    CHECK(!VALID("\xed\xbf\xbf"));             /* U+DFFF */
    CHECK(!VALID("\xed\xa0\xbd\xed\xb8\x80")); /* CESU-8 style pair */
}

TEST(above_max_refused)
{
    CHECK(!VALID("\xf4\x90\x80\x80")); /* U+110000 */
    CHECK(!VALID("\xf5\x80\x80\x80"));
    CHECK(!VALID("\xf7\xbf\xbf\xbf"));
    CHECK(!VALID("\xf8\x88\x80\x80\x80"));     /* old 5-byte form */
    CHECK(!VALID("\xfc\x84\x80\x80\x80\x80")); /* old 6-byte form */
}

TEST(lone_continuation_refused)
{
    CHECK(!VALID("\x80"));
    CHECK(!VALID("\xbf"));
    CHECK(!VALID("a\x80z"));
    CHECK(!VALID("\xc3\xa9\xa9")); /* one continuation too many */
}

TEST(bad_continuation_refused)
{
    CHECK(!VALID("\xc3("));            /* 2-byte lead, ASCII next */
    CHECK(!VALID("\xe2\x28\xa1"));     /* 3-byte, second byte bad */
    CHECK(!VALID("\xe2\x82\x28"));     /* 3-byte, third byte bad */
    CHECK(!VALID("\xf0\x9f\x98\x28")); /* 4-byte, last byte bad */
    CHECK(!VALID("\xc3\xc3\xa9"));     /* lead where a continuation belongs */
}

TEST(truncated_at_end_refused)
{
    CHECK(!VALID("\xc3"));
    CHECK(!VALID("\xe2\x82"));
    CHECK(!VALID("\xe2"));
    CHECK(!VALID("\xf0\x9f\x98"));
    CHECK(!VALID("\xf0\x9f"));
    CHECK(!VALID("\xf0"));
    CHECK(!VALID("abc\xe2\x82"));
    /* The length decides, not a terminator: a complete sequence cut by len
     * is truncated even though the bytes after it are in memory. */
    const char full[] = "x\xe2\x82\xac";
    CHECK(mqc_utf8_valid(full, 4));
    CHECK(!mqc_utf8_valid(full, 3));
    CHECK(!mqc_utf8_valid(full, 2));
    CHECK(mqc_utf8_valid(full, 1));
}

TEST(truncated_sequence_in_exact_buffer)
{
    /* A heap buffer of exactly the given length, so ASan sees any read past
     * the end of a truncated sequence. */
    static const char *const cases[] = {"\xc3", "\xe2\x82", "\xf0\x9f\x98", "a\xf4"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i]);
        char *b = malloc(len);
        if (!CHECK(b != NULL))
            return;
        memcpy(b, cases[i], len);
        CHECK(!mqc_utf8_valid(b, len));
        free(b);
    }
}

TEST(ff_fe_refused)
{
    CHECK(!VALID("\xff"));
    CHECK(!VALID("\xfe"));
    CHECK(!VALID("\xfe\xff"));
    CHECK(!VALID("abc\xff"));
    CHECK(!VALID("\xef\xbb\xbf\xff")); /* BOM then 0xFF */
}

TEST(every_lead_byte)
{
    /* 0xC0, 0xC1 and 0xF5..0xFF can never start a valid sequence, whatever
     * follows; 0xC2..0xF4 can. */
    for (int c = 0x80; c <= 0xff; c++) {
        char b[4] = {(char)c, (char)0x90, (char)0x90, (char)0x90};
        bool want;
        size_t len;
        if (c < 0xc0) {
            want = false; /* continuation byte as a lead */
            len = 1;
        } else if (c <= 0xc1) {
            want = false;
            len = 2;
        } else if (c <= 0xdf) {
            want = true;
            len = 2;
        } else if (c <= 0xef) {
            /* E0 needs a second byte >= A0, ED one <= 9F */
            want = c != 0xe0;
            len = 3;
        } else if (c <= 0xf4) {
            /* F0 needs >= 90 (ok with 0x90), F4 needs <= 8F */
            want = c != 0xf4;
            len = 4;
        } else {
            want = false;
            len = 4;
        }
        if (!CHECK(mqc_utf8_valid(b, len) == want))
            fprintf(stderr, "  lead 0x%02x len %zu\n", c, len);
    }
}

TEST(count_code_points)
{
    CHECK_EQ_INT(COUNT("a"), 1);
    CHECK_EQ_INT(COUNT("\xc3\xa9"), 1);
    CHECK_EQ_INT(COUNT("\xe2\x82\xac"), 1);
    CHECK_EQ_INT(COUNT("\xf0\x9f\x98\x80"), 1);
    CHECK_EQ_INT(COUNT("caf\xc3\xa9"), 4);
    CHECK_EQ_INT(COUNT("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"), 5);
    CHECK_EQ_INT(COUNT("\xf4\x8f\xbf\xbf\xc2\x80\x7f"), 3);
    /* 64 four-byte characters: 256 bytes, 64 code points */
    char buf[256];
    for (int i = 0; i < 64; i++)
        memcpy(buf + 4 * i, "\xf0\x9f\x98\x80", 4);
    CHECK(mqc_utf8_valid(buf, sizeof buf));
    CHECK_EQ_INT(mqc_utf8_count(buf, sizeof buf), 64);
    CHECK_EQ_INT(mqc_utf8_count(buf, 4 * 10), 10);
}

int main(void)
{
    RUN(empty_is_valid);
    RUN(ascii);
    RUN(nul_bytes_inside_are_valid);
    RUN(multibyte_sequences);
    RUN(boundaries);
    RUN(overlong_refused);
    RUN(surrogates_refused);
    RUN(above_max_refused);
    RUN(lone_continuation_refused);
    RUN(bad_continuation_refused);
    RUN(truncated_at_end_refused);
    RUN(truncated_sequence_in_exact_buffer);
    RUN(ff_fe_refused);
    RUN(every_lead_byte);
    RUN(count_code_points);
    return test_finish();
}
