/* Sync tokens v2 (core/synctoken.c): positions round-trip, tokens are bound
 * to their user, version 1 tokens decode as legacy (sync answers reset), and
 * garbage is refused. */
#include <string.h>

#include "core/err.h"
#include "core/password.h"
#include "core/synctoken.h"
#include "test.h"

TEST(round_trip)
{
    struct mqc_syncpos p = {.t = 1764294000123LL}, q;
    char tok[MQC_SYNCTOKEN_MAX];
    CHECK(mqc_synctoken_encode("alice", &p, tok, sizeof tok) == MQC_OK);
    CHECK(strncmp(tok, "t2.1764294000123.", 17) == 0);
    CHECK(mqc_synctoken_decode("alice", tok, &q) == MQC_OK);
    CHECK(!q.tie && !q.legacy && q.t == p.t);
    /* with a tie-break; the conversation id may hold dots */
    p.tie = true;
    p.seq = 42;
    strcpy(p.conv, "g-3f.6a");
    CHECK(mqc_synctoken_encode("alice", &p, tok, sizeof tok) == MQC_OK);
    CHECK(mqc_synctoken_decode("alice", tok, &q) == MQC_OK);
    CHECK(q.tie && q.t == p.t && q.seq == 42);
    CHECK_STR(q.conv, "g-3f.6a");
    /* bound to the user */
    CHECK(mqc_synctoken_decode("bob", tok, &q) == MQC_EBADREQ);
}

TEST(legacy_and_garbage)
{
    struct mqc_syncpos p = {.t = 5}, q;
    char tok[MQC_SYNCTOKEN_MAX], v1[64];
    CHECK(mqc_synctoken_encode("alice", &p, tok, sizeof tok) == MQC_OK);
    const char *fp = strrchr(tok, '.') + 1;
    snprintf(v1, sizeof v1, "t1.1764294000123-0.%s", fp);
    CHECK(mqc_synctoken_decode("alice", v1, &q) == MQC_OK);
    CHECK(q.legacy);
    CHECK(mqc_synctoken_decode("bob", v1, &q) == MQC_EBADREQ);
    const char *bad[] = {"",
                         "t2",
                         "t2..",
                         "t1.1-0.00000000",
                         "t3.5.aaaaaaaa",
                         "t2.05.x",
                         "t2.-5.aaaaaaaa",
                         "t2.5.x.c.aaaaaaaa"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(mqc_synctoken_decode("alice", bad[i], &q) == MQC_EBADREQ);
    char lead0[64];
    snprintf(lead0, sizeof lead0, "t2.05.%s", fp);
    CHECK(mqc_synctoken_decode("alice", lead0, &q) == MQC_EBADREQ);
    char badconv[80];
    snprintf(badconv, sizeof badconv, "t2.5.1.a b.%s", fp);
    CHECK(mqc_synctoken_decode("alice", badconv, &q) == MQC_EBADREQ);
    p.t = -1;
    CHECK(mqc_synctoken_encode("alice", &p, tok, sizeof tok) == MQC_EBADREQ);
}

int main(void)
{
    if (mqc_password_init() != MQC_OK)
        return 1;
    RUN(round_trip);
    RUN(legacy_and_garbage);
    return test_finish();
}
