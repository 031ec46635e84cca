/* Unit tests for core/strbuf.h: an empty buffer takes as ""; appends of
 * bytes, strings and formatted text (also longer than any first capacity)
 * keep the text NUL-terminated and whole across growth; embedded bytes are
 * kept as given; take hands over the text and leaves the buffer empty for
 * reuse; once oom is set every append does nothing and take says NULL. */
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "tests/unit/test.h"

TEST(empty_takes_as_empty_string)
{
    struct mqc_strbuf b = {0};
    char *s = mqc_strbuf_take(&b);
    if (!CHECK(s != NULL))
        return;
    CHECK_STR(s, "");
    free(s);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0 && !b.oom);
    mqc_strbuf_free(&b); /* harmless when empty */
}

TEST(appends_and_growth)
{
    struct mqc_strbuf b = {0};
    mqc_strbuf_puts(&b, "ab");
    mqc_strbuf_putn(&b, "cdXYZ", 2);
    mqc_strbuf_printf(&b, "-%d-%s", 42, "x");
    CHECK_STR(b.p, "abcd-42-x");
    CHECK_EQ_INT((int)b.len, 9);
    /* 10,000 appends across many doublings, and one long format */
    for (int i = 0; i < 10000; i++)
        mqc_strbuf_putn(&b, "0123456789" + i % 10, 1);
    char big[3001];
    memset(big, 'q', 3000);
    big[3000] = '\0';
    mqc_strbuf_printf(&b, "[%s]", big);
    CHECK_EQ_INT((int)b.len, 9 + 10000 + 3002);
    CHECK_EQ_INT((int)strlen(b.p), 9 + 10000 + 3002);
    CHECK(b.p[9] == '0' && b.p[9 + 9999] == '9' && b.p[9 + 10000] == '[');
    CHECK(b.p[b.len - 1] == ']' && b.p[b.len - 2] == 'q');
    char *s = mqc_strbuf_take(&b);
    CHECK(s != NULL && b.p == NULL && b.len == 0);
    free(s);
    /* reusable after take */
    mqc_strbuf_puts(&b, "again");
    CHECK_STR(b.p, "again");
    mqc_strbuf_free(&b);
    CHECK(b.p == NULL && b.len == 0);
}

TEST(embedded_nul_kept)
{
    struct mqc_strbuf b = {0};
    mqc_strbuf_putn(&b, "a\0b", 3);
    CHECK_EQ_INT((int)b.len, 3);
    CHECK(memcmp(b.p, "a\0b", 4) == 0);
    mqc_strbuf_free(&b);
}

TEST(oom_is_sticky)
{
    struct mqc_strbuf b = {0};
    mqc_strbuf_puts(&b, "kept");
    b.oom = true; /* as after a failed realloc */
    mqc_strbuf_puts(&b, "lost");
    mqc_strbuf_printf(&b, "%d", 7);
    CHECK_EQ_INT((int)b.len, 4);
    CHECK(mqc_strbuf_take(&b) == NULL); /* and the text is freed (ASan) */
    CHECK(b.p == NULL && !b.oom);
}

int main(void)
{
    RUN(empty_takes_as_empty_string);
    RUN(appends_and_growth);
    RUN(embedded_nul_kept);
    RUN(oom_is_sticky);
    return test_finish();
}
