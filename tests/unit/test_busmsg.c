/* Unit tests for core/busmsg.h: every kind of the cluster bus message parses
 * into its fields; built messages parse back; unordered events; recipient
 * lists skip bad ids; malformed input (unknown kind, bad ids, missing or
 * extra words, bad numbers, NUL bytes) is refused. */
#include <stdlib.h>
#include <string.h>

#include "core/busmsg.h"
#include "core/err.h"
#include "tests/unit/test.h"

static int parse(const char *s, struct mqc_busmsg *m)
{
    return mqc_busmsg_parse(s, strlen(s), m);
}

TEST(simple_kinds)
{
    struct mqc_busmsg m;
    CHECK_EQ_INT(parse("on n1 alice", &m), MQC_OK);
    CHECK_EQ_INT(m.kind, MQC_BUS_ON);
    CHECK_STR(m.node, "n1");
    CHECK_STR(m.arg, "alice");
    CHECK_EQ_INT(parse("off n2 bob", &m), MQC_OK);
    CHECK_EQ_INT(m.kind, MQC_BUS_OFF);
    CHECK_EQ_INT(parse("hello n3", &m), MQC_OK);
    CHECK_EQ_INT(m.kind, MQC_BUS_HELLO);
    CHECK_STR(m.node, "n3");
    CHECK_EQ_INT(parse("dead n3", &m), MQC_OK);
    CHECK_EQ_INT(m.kind, MQC_BUS_DEAD);
    CHECK_EQ_INT(parse("mv * g-1", &m), MQC_OK);
    CHECK_EQ_INT(m.kind, MQC_BUS_MV);
    CHECK_STR(m.node, "*");
    CHECK_STR(m.arg, "g-1");
    CHECK_EQ_INT(parse("skick * zed AbCdEfGhIjK", &m), MQC_OK);
    CHECK_EQ_INT(m.kind, MQC_BUS_SKICK);
    CHECK_STR(m.arg, "zed");
    CHECK_STR(m.dev, "AbCdEfGhIjK");
    CHECK_EQ_INT(parse("skick * zed *", &m), MQC_OK);
    CHECK_STR(m.dev, "*");
    CHECK_EQ_INT(parse("skick * zed", &m), MQC_EBADREQ);
    CHECK_EQ_INT(parse("skick * * x", &m), MQC_EBADREQ);
    CHECK_EQ_INT(parse("skick * zed a b", &m), MQC_EBADREQ);
    CHECK_EQ_INT(parse("kick * zed", &m), MQC_OK);
    CHECK_EQ_INT(m.kind, MQC_BUS_KICK);
    CHECK_EQ_INT(parse("pr n1 alice\n{\"state\":\"online\"}", &m), MQC_OK);
    CHECK_EQ_INT(m.kind, MQC_BUS_PR);
    CHECK_EQ_INT((long long)m.blen, 18);
    CHECK(memcmp(m.body, "{\"state\":\"online\"}", 18) == 0);
    CHECK_EQ_INT(parse("bc\n{\"t\":\"system\"}", &m), MQC_OK);
    CHECK_EQ_INT(m.kind, MQC_BUS_BC);
}

TEST(event_round_trip)
{
    char *head = mqc_busmsg_event_head(1, "g-1", 42, "alice,bob");
    if (!CHECK(head != NULL))
        return;
    CHECK_STR(head, "e 1 g-1 42 alice,bob");
    size_t len;
    char *msg = mqc_busmsg_build(head, "{\"t\":\"msg\"}", 11, &len);
    free(head);
    if (!CHECK(msg != NULL))
        return;
    struct mqc_busmsg m;
    CHECK_EQ_INT(mqc_busmsg_parse(msg, len, &m), MQC_OK);
    CHECK_EQ_INT(m.kind, MQC_BUS_EVENT);
    CHECK_EQ_INT(m.qos, 1);
    CHECK_STR(m.conv, "g-1");
    CHECK_EQ_INT(m.seq, 42);
    CHECK_EQ_INT((long long)m.blen, 11);
    char u[MQC_ID_MAX + 1];
    size_t pos = 0;
    CHECK(mqc_busmsg_next_user(&m, &pos, u) && strcmp(u, "alice") == 0);
    CHECK(mqc_busmsg_next_user(&m, &pos, u) && strcmp(u, "bob") == 0);
    CHECK(!mqc_busmsg_next_user(&m, &pos, u));
    free(msg);
}

TEST(unordered_event_and_bad_users_skipped)
{
    char *head = mqc_busmsg_event_head(0, NULL, 7, "a,,b/c,d");
    if (!CHECK(head != NULL))
        return;
    CHECK_STR(head, "e 0 - -1 a,,b/c,d");
    struct mqc_busmsg m;
    CHECK_EQ_INT(parse(head, &m), MQC_OK);
    CHECK_STR(m.conv, "");
    CHECK_EQ_INT(m.seq, -1);
    CHECK_EQ_INT((long long)m.blen, 0);
    char u[MQC_ID_MAX + 1];
    size_t pos = 0;
    CHECK(mqc_busmsg_next_user(&m, &pos, u) && strcmp(u, "a") == 0);
    CHECK(mqc_busmsg_next_user(&m, &pos, u) && strcmp(u, "d") == 0);
    CHECK(!mqc_busmsg_next_user(&m, &pos, u));
    free(head);
}

TEST(malformed_refused)
{
    static const char *bad[] = {
        "",          "x n1 a",     "on n1",       "on n1 a b", "on n/1 a", "on * a/b",
        "hello",     "hello n1 x", "mv n1 g#",    "bc",        "e",        "e 2 c 1 a",
        "e 1 c x a", "e 1 c 1",    "e 1 c 1 a b", "kick * *",  "on  n1 a", "pr n1",
    };
    struct mqc_busmsg m;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (!CHECK_EQ_INT(parse(bad[i], &m), MQC_EBADREQ))
            fprintf(stderr, "  input: '%s'\n", bad[i]);
    }
    CHECK_EQ_INT(mqc_busmsg_parse("on n1\0 a", 8, &m), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_busmsg_parse(NULL, 0, &m), MQC_EBADREQ);
}

int main(void)
{
    RUN(simple_kinds);
    RUN(event_round_trip);
    RUN(unordered_event_and_bad_users_skipped);
    RUN(malformed_refused);
    return test_finish();
}
