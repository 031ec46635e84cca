/* Fuzz target for the UTF-8 checks every network payload goes through:
 * mqc_utf8_valid(), mqc_utf8_count() and mqc_utf8_prefix(). Oracles, for
 * valid input: the count is at most the length; every prefix length (at a
 * few limits taken from the input) is at most the limit, lands on a
 * character boundary, leaves a valid prefix, and is the longest such. Also
 * compared with a simple reference decoder. */
#include <stdbool.h>

#include "core/utf8.h"
#include "tests/fuzz/fuzz.h"

/* Reference: strict RFC 3629 decoding, one code point at a time. */
static bool ref_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i], cp, n;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            n = 1, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            n = 2, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            n = 3, cp = c & 0x07;
        else
            return false;
        if (i + n >= len) /* not all n continuation bytes are there */
            return false;
        for (unsigned k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const unsigned min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

static void check_prefix(const char *s, size_t len, size_t max)
{
    size_t p = mqc_utf8_prefix(s, len, max);
    FUZZ_CHECK(p <= max && p <= len);
    if (len <= max) {
        FUZZ_CHECK(p == len);
        return;
    }
    /* On a boundary: the next byte starts a character. */
    FUZZ_CHECK(((unsigned char)s[p] & 0xC0) != 0x80);
    FUZZ_CHECK(mqc_utf8_valid(s, p));
    /* The longest: the character at p does not fit in max. */
    size_t q = p + 1;
    while (q < len && ((unsigned char)s[q] & 0xC0) == 0x80)
        q++;
    FUZZ_CHECK(q > max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    bool v = mqc_utf8_valid(s, size);
    FUZZ_CHECK(v == ref_valid(data, size));
    if (!v)
        return 0;
    size_t count = mqc_utf8_count(s, size);
    FUZZ_CHECK(count <= size);
    FUZZ_CHECK(size == 0 || count >= (size + 3) / 4);
    size_t last = size ? size - 1 : 0, picked = size ? data[0] % (size + 1) : 0;
    size_t limits[] = {0, 1, 2, 3, 4, 5, size / 2, last, size, size + 1, picked};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        check_prefix(s, size, limits[i]);
    return 0;
}
