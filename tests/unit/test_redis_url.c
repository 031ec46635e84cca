/* Unit tests for core/redis_url.h: the redis:// and unix:// forms, their
 * defaults, and the addresses that must be refused. */
#include <string.h>

#include "core/err.h"
#include "core/redis_url.h"
#include "tests/unit/test.h"

TEST(host_only)
{
    struct mqc_redis_url u;
    if (!CHECK_EQ_INT(mqc_redis_url_parse("redis://h", &u), MQC_OK))
        return;
    CHECK_STR(u.host, "h");
    CHECK_EQ_INT(u.port, 6379);
    CHECK_EQ_INT(u.db, 0);
    CHECK(u.password == NULL);
    CHECK(u.unix_path == NULL);
    mqc_redis_url_cleanup(&u);
}

TEST(host_port_db)
{
    struct mqc_redis_url u;
    if (!CHECK_EQ_INT(mqc_redis_url_parse("redis://h:1234/5", &u), MQC_OK))
        return;
    CHECK_STR(u.host, "h");
    CHECK_EQ_INT(u.port, 1234);
    CHECK_EQ_INT(u.db, 5);
    CHECK(u.password == NULL);
    CHECK(u.unix_path == NULL);
    mqc_redis_url_cleanup(&u);
}

TEST(host_trailing_slash)
{
    struct mqc_redis_url u;
    if (!CHECK_EQ_INT(mqc_redis_url_parse("redis://redis.example.com/", &u), MQC_OK))
        return;
    CHECK_STR(u.host, "redis.example.com");
    CHECK_EQ_INT(u.port, 6379);
    CHECK_EQ_INT(u.db, 0);
    mqc_redis_url_cleanup(&u);
}

TEST(password_only)
{
    struct mqc_redis_url u;
    if (!CHECK_EQ_INT(mqc_redis_url_parse("redis://:pw@h:1/0", &u), MQC_OK))
        return;
    CHECK_STR(u.password, "pw");
    CHECK_STR(u.host, "h");
    CHECK_EQ_INT(u.port, 1);
    CHECK_EQ_INT(u.db, 0);
    mqc_redis_url_cleanup(&u);
}

TEST(user_and_password)
{
    struct mqc_redis_url u;
    if (!CHECK_EQ_INT(mqc_redis_url_parse("redis://user:pw@h", &u), MQC_OK))
        return;
    CHECK_STR(u.password, "pw");
    CHECK_STR(u.host, "h");
    CHECK_EQ_INT(u.port, 6379);
    CHECK_EQ_INT(u.db, 0);
    mqc_redis_url_cleanup(&u);
}

TEST(password_with_at_sign)
{
    /* The last '@' ends the credentials. */
    struct mqc_redis_url u;
    if (!CHECK_EQ_INT(mqc_redis_url_parse("redis://:p@ss@h:6380", &u), MQC_OK))
        return;
    CHECK_STR(u.password, "p@ss");
    CHECK_STR(u.host, "h");
    CHECK_EQ_INT(u.port, 6380);
    mqc_redis_url_cleanup(&u);
}

TEST(unix_socket)
{
    struct mqc_redis_url u;
    if (!CHECK_EQ_INT(mqc_redis_url_parse("unix:///tmp/r.sock", &u), MQC_OK))
        return;
    CHECK_STR(u.unix_path, "/tmp/r.sock");
    CHECK(u.host == NULL);
    CHECK(u.password == NULL);
    CHECK_EQ_INT(u.db, 0);
    mqc_redis_url_cleanup(&u);
}

TEST(unix_socket_db)
{
    struct mqc_redis_url u;
    if (!CHECK_EQ_INT(mqc_redis_url_parse("unix:///tmp/r.sock?db=3", &u), MQC_OK))
        return;
    CHECK_STR(u.unix_path, "/tmp/r.sock");
    CHECK(u.host == NULL);
    CHECK_EQ_INT(u.db, 3);
    mqc_redis_url_cleanup(&u);
}

/* url must be refused, leaving nothing allocated. */
static void expect_bad(const char *url)
{
    struct mqc_redis_url u;
    int rc = mqc_redis_url_parse(url, &u);
    if (!CHECK_EQ_INT(rc, MQC_EBADREQ))
        fprintf(stderr, "  url: \"%s\"\n", url ? url : "(null)");
    CHECK(u.host == NULL);
    CHECK(u.unix_path == NULL);
    CHECK(u.password == NULL);
    mqc_redis_url_cleanup(&u);
}

TEST(bad_urls)
{
    expect_bad("");
    expect_bad(NULL);
    expect_bad("http://x");
    expect_bad("h:6379");
    expect_bad("redis://");
    expect_bad("redis://h:0");
    expect_bad("redis://h:99999");
    expect_bad("redis://h:65536");
    expect_bad("redis://h:-1");
    expect_bad("redis://h:");
    expect_bad("redis://h:abc");
    expect_bad("redis://h:12/abc");
    expect_bad("redis://h:12/-1");
    expect_bad("redis://h/1/2");
    expect_bad("redis://:pw@");
    expect_bad("redis://:pw@:6379");
    expect_bad("unix://relative");
    expect_bad("unix://");
    expect_bad("unix:///tmp/r.sock?db=x");
    expect_bad("unix:///tmp/r.sock?db=");
    expect_bad("unix:///tmp/r.sock?foo=1");
}

TEST(cleanup_is_idempotent)
{
    struct mqc_redis_url u;
    if (!CHECK_EQ_INT(mqc_redis_url_parse("redis://:pw@h:1/0", &u), MQC_OK))
        return;
    mqc_redis_url_cleanup(&u);
    CHECK(u.host == NULL && u.password == NULL && u.unix_path == NULL);
    mqc_redis_url_cleanup(&u);
    mqc_redis_url_cleanup(NULL);
    CHECK(true); /* reaching here: a second cleanup and cleanup(NULL) are no-ops */
}

TEST(describe_hides_the_password)
{
    struct mqc_redis_url u;
    char buf[128];
    if (!CHECK_EQ_INT(mqc_redis_url_parse("redis://:s3cret@h.example:6380/2", &u), MQC_OK))
        return;
    CHECK_STR(mqc_redis_url_describe(&u, buf, sizeof buf), "redis://:***@h.example:6380/2");
    CHECK(strstr(buf, "s3cret") == NULL);
    mqc_redis_url_cleanup(&u);
    if (!CHECK_EQ_INT(mqc_redis_url_parse("redis://127.0.0.1", &u), MQC_OK))
        return;
    CHECK_STR(mqc_redis_url_describe(&u, buf, sizeof buf), "redis://127.0.0.1:6379/0");
    CHECK_STR(mqc_redis_url_describe(&u, buf, 8), "redis:/");
    mqc_redis_url_cleanup(&u);
    if (!CHECK_EQ_INT(mqc_redis_url_parse("unix:///run/r.sock?db=3", &u), MQC_OK))
        return;
    CHECK_STR(mqc_redis_url_describe(&u, buf, sizeof buf), "unix:///run/r.sock?db=3");
    mqc_redis_url_cleanup(&u);
}

int main(void)
{
    RUN(host_only);
    RUN(host_port_db);
    RUN(host_trailing_slash);
    RUN(password_only);
    RUN(user_and_password);
    RUN(password_with_at_sign);
    RUN(unix_socket);
    RUN(unix_socket_db);
    RUN(bad_urls);
    RUN(cleanup_is_idempotent);
    RUN(describe_hides_the_password);
    return test_finish();
}
