/* Unit tests for core/convid.h: direct ids are "d-" + 32 hex digits derived
 * from the unordered pair (same from either side, different for different
 * pairs, no collisions from naive concatenation); group ids are "g-" + 32
 * random hex digits; both are valid ids; bad input and small buffers are
 * refused. */
#include <ctype.h>
#include <string.h>

#include "core/convid.h"
#include "core/err.h"
#include "core/id.h"
#include "core/password.h"
#include "tests/unit/test.h"

/* Is s "<tag>" followed by exactly 32 lower-case hex digits? */
static bool well_formed(const char *s, const char *tag)
{
    if (strlen(s) != MQC_CONVID_LEN || strncmp(s, tag, 2) != 0)
        return false;
    for (size_t i = 2; i < MQC_CONVID_LEN; i++) {
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return false;
    }
    return true;
}

TEST(direct_format)
{
    char id[MQC_CONVID_LEN + 1];
    if (!CHECK_EQ_INT(mqc_convid_direct("alice", "bob", id, sizeof id), MQC_OK))
        return;
    CHECK_EQ_INT(MQC_CONVID_LEN, 34);
    CHECK_EQ_INT(strlen(id), 34);
    CHECK(strncmp(id, "d-", 2) == 0);
    CHECK(well_formed(id, "d-"));
    CHECK(mqc_id_valid_str(id));
}

TEST(direct_symmetric)
{
    char ab[MQC_CONVID_LEN + 1], ba[MQC_CONVID_LEN + 1];
    CHECK_EQ_INT(mqc_convid_direct("alice", "bob", ab, sizeof ab), MQC_OK);
    CHECK_EQ_INT(mqc_convid_direct("bob", "alice", ba, sizeof ba), MQC_OK);
    CHECK_STR(ab, ba);
    /* and stable across calls */
    char again[MQC_CONVID_LEN + 1];
    CHECK_EQ_INT(mqc_convid_direct("alice", "bob", again, sizeof again), MQC_OK);
    CHECK_STR(again, ab);
}

TEST(direct_known_value)
{
    /* The id is "d-" + the first 16 bytes, in hex, of SHA-256("alice\nbob")
     * (the smaller id first), computed independently with
     * `printf 'alice\nbob' | sha256sum`. */
    char id[MQC_CONVID_LEN + 1];
    CHECK_EQ_INT(mqc_convid_direct("bob", "alice", id, sizeof id), MQC_OK);
    CHECK_STR(id, "d-1cb15457d1ddab60e205c0fe3ca2f65d");
}

TEST(direct_differs_per_pair)
{
    static const char *const users[] = {"alice", "bob", "carol", "dave", "a", "b", "A"};
    enum { N = sizeof users / sizeof users[0] };
    char ids[N * N][MQC_CONVID_LEN + 1];
    size_t n = 0;
    for (size_t i = 0; i < N; i++) {
        for (size_t j = i + 1; j < N; j++) {
            CHECK_EQ_INT(mqc_convid_direct(users[i], users[j], ids[n], sizeof ids[n]), MQC_OK);
            n++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if (!CHECK(strcmp(ids[i], ids[j]) != 0))
                fprintf(stderr, "  pairs %zu and %zu share %s\n", i, j, ids[i]);
        }
    }
}

TEST(direct_no_concatenation_collision)
{
    /* "a.b"+"c" and "a"+"b.c" both concatenate to "a.bc"-like strings;
     * the separator keeps them apart. */
    char x[MQC_CONVID_LEN + 1], y[MQC_CONVID_LEN + 1];
    CHECK_EQ_INT(mqc_convid_direct("a.b", "c", x, sizeof x), MQC_OK);
    CHECK_EQ_INT(mqc_convid_direct("a", "b.c", y, sizeof y), MQC_OK);
    CHECK(strcmp(x, y) != 0);
    CHECK_EQ_INT(mqc_convid_direct("ab", "c", x, sizeof x), MQC_OK);
    CHECK_EQ_INT(mqc_convid_direct("a", "bc", y, sizeof y), MQC_OK);
    CHECK(strcmp(x, y) != 0);
}

TEST(direct_bad_input_refused)
{
    char id[MQC_CONVID_LEN + 1];
    CHECK_EQ_INT(mqc_convid_direct("", "bob", id, sizeof id), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_convid_direct("alice", "", id, sizeof id), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_convid_direct("al/ice", "bob", id, sizeof id), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_convid_direct("alice", "b#", id, sizeof id), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_convid_direct("a\nb", "c", id, sizeof id), MQC_EBADREQ);
    CHECK_EQ_INT(
        mqc_convid_direct("12345678901234567890123456789012345678901234567890123456789012345",
                          "bob", id, sizeof id),
        MQC_EBADREQ);
}

TEST(small_buffer_refused)
{
    /* Room for MQC_CONVID_LEN + 1 is required; one byte less is refused
     * and nothing is written past it. */
    char buf[MQC_CONVID_LEN + 8];
    memset(buf, '#', sizeof buf);
    CHECK(mqc_convid_direct("alice", "bob", buf, MQC_CONVID_LEN) != MQC_OK);
    CHECK(buf[MQC_CONVID_LEN] == '#');
    CHECK(mqc_convid_group(buf, MQC_CONVID_LEN) != MQC_OK);
    CHECK(buf[MQC_CONVID_LEN] == '#');
    CHECK(mqc_convid_group(buf, 0) != MQC_OK);
    CHECK(mqc_convid_direct("alice", "bob", buf, 1) != MQC_OK);
    /* exactly enough */
    CHECK_EQ_INT(mqc_convid_group(buf, MQC_CONVID_LEN + 1), MQC_OK);
    CHECK_EQ_INT(strlen(buf), MQC_CONVID_LEN);
    CHECK(buf[MQC_CONVID_LEN + 1] == '#');
}

TEST(group_ids)
{
    enum { N = 64 };
    char ids[N][MQC_CONVID_LEN + 1];
    for (int i = 0; i < N; i++) {
        if (!CHECK_EQ_INT(mqc_convid_group(ids[i], sizeof ids[i]), MQC_OK))
            return;
        CHECK(well_formed(ids[i], "g-"));
        CHECK(mqc_id_valid_str(ids[i]));
    }
    for (int i = 0; i < N; i++) {
        for (int j = i + 1; j < N; j++)
            CHECK(strcmp(ids[i], ids[j]) != 0);
    }
}

int main(void)
{
    if (mqc_password_init() != MQC_OK) {
        fprintf(stderr, "mqc_password_init failed\n");
        return 1;
    }
    RUN(direct_format);
    RUN(direct_symmetric);
    RUN(direct_known_value);
    RUN(direct_differs_per_pair);
    RUN(direct_no_concatenation_collision);
    RUN(direct_bad_input_refused);
    RUN(small_buffer_refused);
    RUN(group_ids);
    return test_finish();
}
