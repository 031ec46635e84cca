/* Unit tests for core/password.h: argon2id hashing and verification,
 * refusal of empty/over-long passwords and of malformed stored hashes. */
#include <string.h>

#include "core/err.h"
#include "core/password.h"
#include "tests/unit/test.h"

#define PW "correct horse battery staple"

TEST(init)
{
    CHECK_EQ_INT(mqc_password_init(), MQC_OK);
    /* A second call is harmless (sodium_init is idempotent). */
    CHECK_EQ_INT(mqc_password_init(), MQC_OK);
}

TEST(hash_then_verify)
{
    char h[MQC_PASSWORD_HASH_MAX];
    if (!CHECK_EQ_INT(mqc_password_hash(PW, strlen(PW), h, sizeof h), MQC_OK))
        return;
    CHECK(strlen(h) < sizeof h);
    CHECK(strncmp(h, "$argon2id$", 10) == 0);
    CHECK(mqc_password_verify(h, PW, strlen(PW)));
}

TEST(hash_is_salted)
{
    char h1[MQC_PASSWORD_HASH_MAX], h2[MQC_PASSWORD_HASH_MAX];
    if (!CHECK_EQ_INT(mqc_password_hash(PW, strlen(PW), h1, sizeof h1), MQC_OK) ||
        !CHECK_EQ_INT(mqc_password_hash(PW, strlen(PW), h2, sizeof h2), MQC_OK))
        return;
    CHECK(strcmp(h1, h2) != 0);
    CHECK(mqc_password_verify(h1, PW, strlen(PW)));
    CHECK(mqc_password_verify(h2, PW, strlen(PW)));
}

TEST(wrong_password_fails)
{
    char h[MQC_PASSWORD_HASH_MAX];
    if (!CHECK_EQ_INT(mqc_password_hash(PW, strlen(PW), h, sizeof h), MQC_OK))
        return;
    CHECK(!mqc_password_verify(h, "correct horse battery stapl", strlen(PW) - 1));
    CHECK(!mqc_password_verify(h, "Correct horse battery staple", strlen(PW)));
    CHECK(!mqc_password_verify(h, PW "!", strlen(PW) + 1));
    CHECK(!mqc_password_verify(h, "x", 1));
    /* len counts: a prefix of the right password is a different password. */
    CHECK(!mqc_password_verify(h, PW, strlen(PW) - 1));
}

TEST(binary_password)
{
    static const char pw[] = {'a', '\0', 'b', '\xff'};
    char h[MQC_PASSWORD_HASH_MAX];
    if (!CHECK_EQ_INT(mqc_password_hash(pw, sizeof pw, h, sizeof h), MQC_OK))
        return;
    CHECK(mqc_password_verify(h, pw, sizeof pw));
    CHECK(!mqc_password_verify(h, pw, 1)); /* "a" alone */
}

TEST(empty_and_too_long_refused)
{
    char h[MQC_PASSWORD_HASH_MAX];
    static char big[MQC_PASSWORD_MAX + 1];
    memset(big, 'p', sizeof big);
    CHECK_EQ_INT(mqc_password_hash("", 0, h, sizeof h), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_password_hash("abc", 0, h, sizeof h), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_password_hash(NULL, 5, h, sizeof h), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_password_hash(big, MQC_PASSWORD_MAX + 1, h, sizeof h), MQC_EBADREQ);
    /* Exactly the longest is fine. */
    if (CHECK_EQ_INT(mqc_password_hash(big, MQC_PASSWORD_MAX, h, sizeof h), MQC_OK)) {
        CHECK(mqc_password_verify(h, big, MQC_PASSWORD_MAX));
        CHECK(!mqc_password_verify(h, big, MQC_PASSWORD_MAX + 1));
    }
}

TEST(small_output_buffer_refused)
{
    char h[MQC_PASSWORD_HASH_MAX];
    CHECK(mqc_password_hash(PW, strlen(PW), h, 16) != MQC_OK);
}

TEST(verify_empty_password_fails)
{
    char h[MQC_PASSWORD_HASH_MAX];
    if (!CHECK_EQ_INT(mqc_password_hash(PW, strlen(PW), h, sizeof h), MQC_OK))
        return;
    CHECK(!mqc_password_verify(h, "", 0));
    CHECK(!mqc_password_verify(h, NULL, 0));
}

TEST(malformed_hash_fails)
{
    char h[MQC_PASSWORD_HASH_MAX];
    static char long_hash[300];
    CHECK(!mqc_password_verify("garbage", PW, strlen(PW)));
    CHECK(!mqc_password_verify("", PW, strlen(PW)));
    CHECK(!mqc_password_verify(NULL, PW, strlen(PW)));
    CHECK(!mqc_password_verify("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", PW,
                               strlen(PW)));
    CHECK(!mqc_password_verify("$argon2id$", PW, strlen(PW)));
    CHECK(!mqc_password_verify("$argon2id$v=19$m=19456,t=2,p=1$garbage$garbage", PW, strlen(PW)));
    /* A valid hash cut short, or with a changed character, fails too. */
    if (CHECK_EQ_INT(mqc_password_hash(PW, strlen(PW), h, sizeof h), MQC_OK)) {
        char cut[MQC_PASSWORD_HASH_MAX];
        snprintf(cut, sizeof cut, "%s", h);
        cut[strlen(cut) - 4] = '\0';
        CHECK(!mqc_password_verify(cut, PW, strlen(PW)));
        snprintf(cut, sizeof cut, "%s", h);
        size_t last = strlen(cut) - 2;
        cut[last] = cut[last] == 'A' ? 'B' : 'A';
        CHECK(!mqc_password_verify(cut, PW, strlen(PW)));
    }
    /* Over-long stored string (no NUL within the hash size). */
    memset(long_hash, 'a', sizeof long_hash - 1);
    memcpy(long_hash, "$argon2id$", 10);
    CHECK(!mqc_password_verify(long_hash, PW, strlen(PW)));
}

int main(void)
{
    RUN(init);
    RUN(hash_then_verify);
    RUN(hash_is_salted);
    RUN(wrong_password_fails);
    RUN(binary_password);
    RUN(empty_and_too_long_refused);
    RUN(small_output_buffer_refused);
    RUN(verify_empty_password_fails);
    RUN(malformed_hash_fails);
    return test_finish();
}
