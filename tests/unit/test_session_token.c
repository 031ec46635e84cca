/* Unit tests for core/session_token.h: new tokens parse back to their parts,
 * rotation keeps the device, malformed and over-long tokens are refused, the
 * keyed hash depends on the key, the user, the device and the secret, labels
 * are bounded, and records round-trip and refuse damage. */
#include <string.h>

#include "core/err.h"
#include "core/password.h"
#include "core/session_token.h"
#include "tests/unit/test.h"

static const unsigned char *key_of(const char *text, unsigned char *buf)
{
    mqc_sess_key(text, buf);
    return buf;
}

TEST(new_parses_back)
{
    struct mqc_sess_token t, back;
    char buf[MQC_SESS_TOKEN_LEN + 1];
    if (!CHECK_EQ_INT(mqc_sess_new(NULL, &t, buf, sizeof buf), MQC_OK))
        return;
    CHECK_EQ_INT(strlen(buf), 58);
    CHECK(strlen(buf) <= MQC_SESS_TOKEN_MAX);
    CHECK(mqc_sess_is_token(buf, strlen(buf)));
    CHECK_EQ_INT(mqc_sess_parse(buf, strlen(buf), &back), MQC_OK);
    CHECK_STR(back.device, t.device);
    CHECK_STR(back.secret, t.secret);
    CHECK(mqc_sess_device_valid(t.device));
    struct mqc_sess_token t2;
    char buf2[MQC_SESS_TOKEN_LEN + 1];
    CHECK_EQ_INT(mqc_sess_new(NULL, &t2, buf2, sizeof buf2), MQC_OK);
    CHECK(strcmp(t.device, t2.device) != 0);
    CHECK(strcmp(t.secret, t2.secret) != 0);
}

TEST(rotation_keeps_device)
{
    struct mqc_sess_token t, r;
    char buf[MQC_SESS_TOKEN_LEN + 1], buf2[MQC_SESS_TOKEN_LEN + 1];
    CHECK_EQ_INT(mqc_sess_new(NULL, &t, buf, sizeof buf), MQC_OK);
    CHECK_EQ_INT(mqc_sess_new(t.device, &r, buf2, sizeof buf2), MQC_OK);
    CHECK_STR(r.device, t.device);
    CHECK(strcmp(r.secret, t.secret) != 0);
    CHECK_EQ_INT(mqc_sess_new("bad", &r, buf2, sizeof buf2), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_sess_new(NULL, &r, buf2, 10), MQC_EBADREQ);
}

TEST(malformed_refused)
{
    struct mqc_sess_token t;
    char good[MQC_SESS_TOKEN_LEN + 1];
    CHECK_EQ_INT(mqc_sess_new(NULL, &t, good, sizeof good), MQC_OK);
    char bad[300];
    const char *cases[] = {"", "s1.", "hunter2",
                           "s2.AAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK_EQ_INT(mqc_sess_parse(cases[i], strlen(cases[i]), &t), MQC_EBADREQ);
    memcpy(bad, good, sizeof good);
    bad[14] = '-'; /* the dot between device and secret */
    CHECK_EQ_INT(mqc_sess_parse(bad, strlen(bad), &t), MQC_EBADREQ);
    memcpy(bad, good, sizeof good);
    bad[20] = '+'; /* not base64url */
    CHECK_EQ_INT(mqc_sess_parse(bad, strlen(bad), &t), MQC_EBADREQ);
    memcpy(bad, good, sizeof good);
    bad[30] = '\0';
    CHECK_EQ_INT(mqc_sess_parse(bad, sizeof good - 1, &t), MQC_EBADREQ);
    memset(bad, 'A', sizeof bad);
    memcpy(bad, good, 3);
    CHECK_EQ_INT(mqc_sess_parse(bad, sizeof bad, &t), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_sess_parse(good, strlen(good) - 1, &t), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_sess_parse(NULL, 0, &t), MQC_EBADREQ);
}

TEST(hash_binds_everything)
{
    unsigned char k1[MQC_SESS_KEY_BYTES], k2[MQC_SESS_KEY_BYTES];
    key_of("one", k1);
    key_of("two", k2);
    struct mqc_sess_token t, u;
    char buf[MQC_SESS_TOKEN_LEN + 1];
    CHECK_EQ_INT(mqc_sess_new(NULL, &t, buf, sizeof buf), MQC_OK);
    u = t;
    char h[MQC_SESS_HASH_LEN + 1], h2[MQC_SESS_HASH_LEN + 1];
    mqc_sess_hash(k1, "alice", &t, h);
    CHECK_EQ_INT(strlen(h), MQC_SESS_HASH_LEN);
    mqc_sess_hash(k1, "alice", &u, h2);
    CHECK(mqc_sess_hash_equal(h, h2));
    mqc_sess_hash(k2, "alice", &t, h2);
    CHECK(!mqc_sess_hash_equal(h, h2));
    mqc_sess_hash(k1, "bob", &t, h2);
    CHECK(!mqc_sess_hash_equal(h, h2));
    u.secret[0] = u.secret[0] == 'A' ? 'B' : 'A';
    mqc_sess_hash(k1, "alice", &u, h2);
    CHECK(!mqc_sess_hash_equal(h, h2));
    u = t;
    u.device[0] = u.device[0] == 'A' ? 'B' : 'A';
    mqc_sess_hash(k1, "alice", &u, h2);
    CHECK(!mqc_sess_hash_equal(h, h2));
    char kt[MQC_SESS_SECRET_LEN + 1], kt2[MQC_SESS_SECRET_LEN + 1];
    mqc_sess_key_text_new(kt);
    mqc_sess_key_text_new(kt2);
    CHECK_EQ_INT(strlen(kt), MQC_SESS_SECRET_LEN);
    CHECK(strcmp(kt, kt2) != 0);
}

TEST(labels)
{
    CHECK(mqc_sess_label_valid(""));
    CHECK(mqc_sess_label_valid("Pixel 8"));
    CHECK(mqc_sess_label_valid("T\xc3\xa9l\xc3\xa9phone \xf0\x9f\x93\xb1"));
    char l[300];
    memset(l, 'x', 64);
    l[64] = '\0';
    CHECK(mqc_sess_label_valid(l));
    l[64] = 'x';
    l[65] = '\0';
    CHECK(!mqc_sess_label_valid(l));
    /* 64 characters of 4 bytes each are fine. */
    for (int i = 0; i < 64; i++)
        memcpy(l + 4 * i, "\xf0\x9f\x93\xb1", 4);
    l[256] = '\0';
    CHECK(mqc_sess_label_valid(l));
    CHECK(!mqc_sess_label_valid("tab\there"));
    CHECK(!mqc_sess_label_valid("nl\n"));
    CHECK(!mqc_sess_label_valid("\xff"));
    CHECK(!mqc_sess_label_valid(NULL));
}

TEST(record_round_trip)
{
    struct mqc_sess_record r = {
        .created = 1700000000000, .last_used = 1700000001000, .expires = 1707776000000};
    memset(r.hash, 'h', MQC_SESS_HASH_LEN);
    r.hash[MQC_SESS_HASH_LEN] = '\0';
    strcpy(r.label, "Pixel 8");
    char buf[MQC_SESS_RECORD_MAX];
    if (!CHECK_EQ_INT(mqc_sess_record_format(&r, buf, sizeof buf), MQC_OK))
        return;
    struct mqc_sess_record b;
    CHECK_EQ_INT(mqc_sess_record_parse(buf, strlen(buf), &b), MQC_OK);
    CHECK_STR(b.hash, r.hash);
    CHECK_STR(b.label, "Pixel 8");
    CHECK(b.created == r.created && b.last_used == r.last_used && b.expires == r.expires);
    strcpy(r.label, "");
    CHECK_EQ_INT(mqc_sess_record_format(&r, buf, sizeof buf), MQC_OK);
    CHECK_EQ_INT(mqc_sess_record_parse(buf, strlen(buf), &b), MQC_OK);
    CHECK_STR(b.label, "");
    CHECK_EQ_INT(mqc_sess_record_format(&r, buf, 20), MQC_EBADREQ);
    const char *damaged[] = {"", "short", "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh\t1\t2\t",
                             "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh\tx\t2\t3\tl",
                             "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh\t1\t2\t3\tbad\x01"};
    for (size_t i = 0; i < sizeof damaged / sizeof *damaged; i++)
        CHECK_EQ_INT(mqc_sess_record_parse(damaged[i], strlen(damaged[i]), &b), MQC_EBADREQ);
}

int main(void)
{
    if (mqc_password_init() != MQC_OK)
        return 1;
    RUN(new_parses_back);
    RUN(rotation_keeps_device);
    RUN(malformed_refused);
    RUN(hash_binds_everything);
    RUN(labels);
    RUN(record_round_trip);
    return test_finish();
}
