/* Unit tests for core/config.h: defaults, good and bad values for each kind
 * of option, the error text naming option and value, finish() and cleanup. */
#include <string.h>

#include "core/config.h"
#include "core/err.h"
#include "core/id.h"
#include "tests/unit/test.h"

TEST(defaults)
{
    struct mqc_config c;
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    CHECK_STR(c.redis_host, "127.0.0.1");
    CHECK_EQ_INT(c.redis_port, 6379);
    CHECK(c.redis_unix == NULL);
    CHECK(c.redis_password == NULL);
    CHECK_EQ_INT(c.redis_db, 0);
    CHECK_STR(c.key_prefix, "mqchat:");
    CHECK(c.node_id == NULL);
    CHECK_EQ_INT(c.max_message_bytes, 65536);
    CHECK(c.jwt_secret == NULL);
    CHECK(c.jwt_public_key == NULL);
    CHECK_EQ_INT(c.retention_days, 30);
    CHECK(c.push_preview);
    CHECK(c.other_topics == NULL);
    CHECK_EQ_INT(c.auth_cache_seconds, 300);
    CHECK_EQ_INT(c.redis_timeout_ms, 1000);
    CHECK_EQ_INT(c.redis_retry_ms, 500);
    CHECK_EQ_INT(c.other_filters.count, 0);
    mqc_config_cleanup(&c);
}

TEST(set_good_values)
{
    struct mqc_config c;
    char err[256] = "";
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    CHECK_EQ_INT(mqc_config_set(&c, "redis_host", "redis.example", err, sizeof err), MQC_OK);
    CHECK_STR(c.redis_host, "redis.example");
    CHECK_EQ_INT(mqc_config_set(&c, "redis_port", "1", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(c.redis_port, 1);
    CHECK_EQ_INT(mqc_config_set(&c, "redis_port", "65535", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(c.redis_port, 65535);
    CHECK_EQ_INT(mqc_config_set(&c, "redis_unix", "/run/redis.sock", err, sizeof err), MQC_OK);
    CHECK_STR(c.redis_unix, "/run/redis.sock");
    CHECK_EQ_INT(mqc_config_set(&c, "redis_password", "s3cret", err, sizeof err), MQC_OK);
    CHECK_STR(c.redis_password, "s3cret");
    CHECK_EQ_INT(mqc_config_set(&c, "redis_db", "7", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(c.redis_db, 7);
    CHECK_EQ_INT(mqc_config_set(&c, "key_prefix", "app:chat:", err, sizeof err), MQC_OK);
    CHECK_STR(c.key_prefix, "app:chat:");
    CHECK_EQ_INT(mqc_config_set(&c, "node_id", "broker-1.eu", err, sizeof err), MQC_OK);
    CHECK_STR(c.node_id, "broker-1.eu");
    CHECK_EQ_INT(mqc_config_set(&c, "max_message_bytes", "1024", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(c.max_message_bytes, 1024);
    CHECK_EQ_INT(mqc_config_set(&c, "retention_days", "365", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(c.retention_days, 365);
    CHECK_EQ_INT(mqc_config_set(&c, "other_topics", "devices/%u/# public/#", err, sizeof err),
                 MQC_OK);
    CHECK_STR(c.other_topics, "devices/%u/# public/#");
    CHECK_EQ_INT(mqc_config_set(&c, "auth_cache_seconds", "0", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(c.auth_cache_seconds, 0);
    CHECK_EQ_INT(mqc_config_set(&c, "redis_timeout_ms", "250", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(c.redis_timeout_ms, 250);
    CHECK_EQ_INT(mqc_config_set(&c, "redis_retry_ms", "2000", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(c.redis_retry_ms, 2000);
    mqc_config_cleanup(&c);
}

TEST(set_bool_spellings)
{
    static const char *yes[] = {"true", "1", "yes", "on"};
    static const char *no[] = {"false", "0", "no", "off"};
    struct mqc_config c;
    char err[256] = "";
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    for (size_t i = 0; i < 4; i++) {
        CHECK_EQ_INT(mqc_config_set(&c, "push_preview", no[i], err, sizeof err), MQC_OK);
        CHECK(!c.push_preview);
        CHECK_EQ_INT(mqc_config_set(&c, "push_preview", yes[i], err, sizeof err), MQC_OK);
        CHECK(c.push_preview);
    }
    mqc_config_cleanup(&c);
}

/* Setting key=value must fail with MQC_EBADREQ, naming the option (as
 * plugin_opt_<key>) and, if name_value, the value; the old value stays. */
static void expect_bad(struct mqc_config *c, const char *key, const char *value, bool name_value)
{
    char err[512] = "", opt[128];
    snprintf(opt, sizeof opt, "plugin_opt_%s", key);
    int rc = mqc_config_set(c, key, value, err, sizeof err);
    if (!CHECK_EQ_INT(rc, MQC_EBADREQ))
        fprintf(stderr, "  %s = '%s'\n", key, value);
    if (!CHECK(test_contains(err, opt)))
        fprintf(stderr, "  err for %s = '%s': \"%s\"\n", key, value, err);
    if (name_value && !CHECK(test_contains(err, value)))
        fprintf(stderr, "  err for %s = '%s': \"%s\"\n", key, value, err);
}

TEST(bad_port)
{
    struct mqc_config c;
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    expect_bad(&c, "redis_port", "0", true);
    expect_bad(&c, "redis_port", "70000", true);
    expect_bad(&c, "redis_port", "65536", true);
    expect_bad(&c, "redis_port", "-1", true);
    expect_bad(&c, "redis_port", "abc", true);
    expect_bad(&c, "redis_port", "12x", true);
    expect_bad(&c, "redis_port", "99999999999999999999999", true);
    /* An empty value names no value, but is still refused with the option. */
    expect_bad(&c, "redis_port", "", false);
    CHECK_EQ_INT(c.redis_port, 6379); /* unchanged by the refusals */
    mqc_config_cleanup(&c);
}

TEST(bad_ints_other_options)
{
    struct mqc_config c;
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    expect_bad(&c, "max_message_bytes", "255", true);
    expect_bad(&c, "max_message_bytes", "16777217", true);
    expect_bad(&c, "retention_days", "0", true);
    expect_bad(&c, "redis_db", "-1", true);
    expect_bad(&c, "auth_cache_seconds", "86401", true);
    expect_bad(&c, "redis_timeout_ms", "9", true);
    expect_bad(&c, "redis_retry_ms", "1.5", true);
    CHECK_EQ_INT(c.max_message_bytes, 65536);
    CHECK_EQ_INT(c.retention_days, 30);
    mqc_config_cleanup(&c);
}

TEST(redis_cluster_options)
{
    struct mqc_config c;
    char err[256] = "";
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    CHECK(c.redis_cluster_nodes == NULL);
    CHECK_EQ_INT(c.redis_wait_replicas, 0);
    expect_bad(&c, "redis_cluster_nodes", "nohostport", true);
    expect_bad(&c, "redis_cluster_nodes", "h:0", true);
    expect_bad(&c, "redis_cluster_nodes", "h:65536", true);
    expect_bad(&c, "redis_cluster_nodes", ":7000", true);
    expect_bad(&c, "redis_cluster_nodes", "h:70x", true);
    expect_bad(&c, "redis_cluster_nodes", " , ", true);
    expect_bad(&c, "redis_wait_replicas", "-1", true);
    expect_bad(&c, "redis_wait_replicas", "17", true);
    CHECK_EQ_INT(
        mqc_config_set(&c, "redis_cluster_nodes", "10.0.0.1:7000 h2:7001,h3:7002", err, sizeof err),
        MQC_OK);
    CHECK_EQ_INT(mqc_config_set(&c, "redis_wait_replicas", "1", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(c.redis_wait_replicas, 1);
    CHECK_EQ_INT(mqc_config_finish(&c, err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_set(&c, "redis_db", "2", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_finish(&c, err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "redis_db"));
    CHECK_EQ_INT(mqc_config_set(&c, "redis_db", "0", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_set(&c, "redis_unix", "/tmp/r.sock", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_finish(&c, err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "redis_unix"));
    mqc_config_cleanup(&c);
}

TEST(bad_bool)
{
    struct mqc_config c;
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    expect_bad(&c, "push_preview", "maybe", true);
    expect_bad(&c, "push_preview", "TRUE!", true);
    expect_bad(&c, "push_preview", "2", true);
    CHECK(c.push_preview);
    mqc_config_cleanup(&c);
}

TEST(unknown_key)
{
    struct mqc_config c;
    char err[256] = "";
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    /* The value is not what is wrong here: the message names the key. */
    expect_bad(&c, "redis_hots", "localhost", false);
    expect_bad(&c, "plugin_opt_redis_host", "localhost", false);
    CHECK_EQ_INT(mqc_config_set(&c, NULL, "x", err, sizeof err), MQC_EBADREQ);
    CHECK(err[0] != '\0');
    mqc_config_cleanup(&c);
}

TEST(missing_value)
{
    struct mqc_config c;
    char err[256] = "";
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    CHECK_EQ_INT(mqc_config_set(&c, "redis_host", NULL, err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "plugin_opt_redis_host"));
    CHECK_STR(c.redis_host, "127.0.0.1");
    mqc_config_cleanup(&c);
}

TEST(bad_node_id)
{
    struct mqc_config c;
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    expect_bad(&c, "node_id", "a/b", true);
    expect_bad(&c, "node_id", "node 1", true);
    expect_bad(&c, "node_id", "+", true);
    CHECK(c.node_id == NULL);
    mqc_config_cleanup(&c);
}

TEST(bad_key_prefix)
{
    struct mqc_config c;
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    expect_bad(&c, "key_prefix", "my prefix:", true);
    expect_bad(&c, "key_prefix", "mq{chat}:", true);
    expect_bad(&c, "key_prefix", "mq}", true);
    expect_bad(&c, "key_prefix", "tab\there", true);
    expect_bad(&c, "key_prefix", "caf\xc3\xa9:", true);
    CHECK_STR(c.key_prefix, "mqchat:");
    mqc_config_cleanup(&c);
}

TEST(bad_string_lengths)
{
    struct mqc_config c;
    char big[300];
    memset(big, 'h', sizeof big - 1);
    big[sizeof big - 1] = '\0'; /* 299 > redis_host's 255 */
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    expect_bad(&c, "redis_host", "", false);
    expect_bad(&c, "redis_host", big, true);
    CHECK_STR(c.redis_host, "127.0.0.1");
    mqc_config_cleanup(&c);
}

TEST(jwt_options)
{
    struct mqc_config c;
    char err[512] = "";
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    CHECK_EQ_INT(c.jwt_leeway_seconds, 30);
    CHECK_EQ_INT(mqc_config_set(&c, "jwt_secret", "hunter2hunter2", err, sizeof err), MQC_OK);
    CHECK_STR(c.jwt_secret, "hunter2hunter2");
    CHECK_EQ_INT(mqc_config_set(&c, "jwt_public_key", "/etc/mqchat/jwt.pem", err, sizeof err),
                 MQC_OK);
    CHECK_EQ_INT(mqc_config_set(&c, "jwt_issuer", "https://auth.example", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_set(&c, "jwt_audience", "mqchat", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_set(&c, "jwt_leeway_seconds", "3601", err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "plugin_opt_jwt_leeway_seconds"));
    CHECK_EQ_INT(mqc_config_set(&c, "jwt_secret", "", err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "plugin_opt_jwt_secret"));
    CHECK_STR(c.jwt_secret, "hunter2hunter2");
    mqc_config_cleanup(&c);
}

TEST(finish_bad_other_topics)
{
    static const char *bad[] = {"#", "chat/#", "+/x", "$SYS/#", "a/#/b", "ok/%u #"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mqc_config c;
        char err[512] = "";
        if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
            return;
        /* set only stores the text; the list is checked by finish(). */
        CHECK_EQ_INT(mqc_config_set(&c, "other_topics", bad[i], err, sizeof err), MQC_OK);
        int rc = mqc_config_finish(&c, err, sizeof err);
        if (!CHECK_EQ_INT(rc, MQC_EBADREQ))
            fprintf(stderr, "  other_topics = '%s'\n", bad[i]);
        if (!CHECK(test_contains(err, "plugin_opt_other_topics")))
            fprintf(stderr, "  err: \"%s\"\n", err);
        CHECK_EQ_INT(c.other_filters.count, 0);
        mqc_config_cleanup(&c);
    }
}

TEST(finish_parses_other_topics)
{
    struct mqc_config c;
    char err[512] = "";
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    CHECK_EQ_INT(mqc_config_set(&c, "other_topics", "devices/%u/# public/#", err, sizeof err),
                 MQC_OK);
    CHECK_EQ_INT(mqc_config_finish(&c, err, sizeof err), MQC_OK);
    CHECK_EQ_INT(c.other_filters.count, 2);
    CHECK(mqc_filter_list_allows_topic(&c.other_filters, "alice", "devices/alice/x"));
    /* finish() twice (e.g. on reload) replaces the list instead of leaking it. */
    CHECK_EQ_INT(mqc_config_set(&c, "other_topics", "public/#", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_finish(&c, err, sizeof err), MQC_OK);
    CHECK_EQ_INT(c.other_filters.count, 1);
    mqc_config_cleanup(&c);
}

TEST(finish_sets_node_id)
{
    struct mqc_config c;
    char err[256] = "";
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    CHECK(c.node_id == NULL);
    CHECK_EQ_INT(mqc_config_finish(&c, err, sizeof err), MQC_OK);
    CHECK(c.node_id != NULL);
    CHECK(mqc_id_valid_str(c.node_id));
    mqc_config_cleanup(&c);
}

TEST(finish_keeps_node_id)
{
    struct mqc_config c;
    char err[256] = "";
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    CHECK_EQ_INT(mqc_config_set(&c, "node_id", "n7", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_finish(&c, err, sizeof err), MQC_OK);
    CHECK_STR(c.node_id, "n7");
    mqc_config_cleanup(&c);
}

TEST(cleanup_used_config)
{
    /* Every string set, some twice, plus a parsed list: ASan/LSan runs of this
     * test catch anything cleanup leaves behind. */
    struct mqc_config c;
    char err[256] = "";
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    CHECK_EQ_INT(mqc_config_set(&c, "redis_host", "h1", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_set(&c, "redis_host", "h2", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_set(&c, "redis_unix", "/tmp/r.sock", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_set(&c, "redis_password", "pw", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_set(&c, "key_prefix", "p:", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_set(&c, "other_topics", "a/%u b/#", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_finish(&c, err, sizeof err), MQC_OK);
    mqc_config_cleanup(&c);
    CHECK(c.redis_host == NULL);
    CHECK(c.redis_unix == NULL);
    CHECK(c.redis_password == NULL);
    CHECK(c.key_prefix == NULL);
    CHECK(c.node_id == NULL);
    CHECK(c.other_topics == NULL);
    CHECK_EQ_INT(c.other_filters.count, 0);
    CHECK(c.other_filters.items == NULL);
    mqc_config_cleanup(NULL); /* must be a no-op */
}

TEST(docs_defaults_are_accepted)
{
    /* Every option in the table documents a default that set() accepts. */
    size_t n = 0;
    const struct mqc_config_doc *d = mqc_config_docs(&n);
    struct mqc_config c;
    char err[512] = "";
    CHECK(n >= 16);
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    for (size_t i = 0; i < n; i++) {
        CHECK(d[i].name && d[i].def && d[i].help);
        if (strcmp(d[i].def, "unset") == 0)
            continue;
        if (!CHECK_EQ_INT(mqc_config_set(&c, d[i].name, d[i].def, err, sizeof err), MQC_OK))
            fprintf(stderr, "  %s: %s\n", d[i].name, err);
    }
    mqc_config_cleanup(&c);
}

TEST(attachment_store_options)
{
    struct mqc_config c;
    char err[512] = "";
    if (!CHECK_EQ_INT(mqc_config_init(&c), MQC_OK))
        return;
    CHECK(c.s3_endpoint == NULL);
    CHECK_STR(c.s3_region, "us-east-1");
    CHECK(!c.s3_path_style);
    CHECK_EQ_INT(c.max_upload_bytes, 104857600);
    CHECK_EQ_INT(c.url_seconds, 900);
    expect_bad(&c, "s3_endpoint", "ftp://x", true);
    expect_bad(&c, "s3_endpoint", "http://u@x", true);
    expect_bad(&c, "s3_bucket", "Bad_Bucket", true);
    expect_bad(&c, "s3_region", "us east", true);
    expect_bad(&c, "url_seconds", "604801", true);
    expect_bad(&c, "max_upload_bytes", "0", true);
    CHECK_EQ_INT(mqc_config_set(&c, "s3_endpoint", "http://127.0.0.1:9000", err, sizeof err),
                 MQC_OK);
    /* endpoint alone: the others are missing, named */
    CHECK_EQ_INT(mqc_config_finish(&c, err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "plugin_opt_s3_bucket: missing"));
    CHECK_EQ_INT(mqc_config_set(&c, "s3_bucket", "chat-files", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_set(&c, "s3_access_key", "AKIAIOSFODNN7EXAMPLE", err, sizeof err),
                 MQC_OK);
    CHECK_EQ_INT(mqc_config_finish(&c, err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "plugin_opt_s3_secret_key_file: missing"));
    CHECK_EQ_INT(mqc_config_set(&c, "s3_secret_key_file", "/etc/mqchat/s3.secret", err, sizeof err),
                 MQC_OK);
    CHECK_EQ_INT(mqc_config_set(&c, "s3_path_style", "true", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(mqc_config_finish(&c, err, sizeof err), MQC_OK);
    CHECK(c.s3_path_style);
    mqc_config_cleanup(&c);
}

int main(void)
{
    RUN(defaults);
    RUN(set_good_values);
    RUN(set_bool_spellings);
    RUN(bad_port);
    RUN(bad_ints_other_options);
    RUN(bad_bool);
    RUN(unknown_key);
    RUN(missing_value);
    RUN(bad_node_id);
    RUN(bad_key_prefix);
    RUN(bad_string_lengths);
    RUN(jwt_options);
    RUN(finish_bad_other_topics);
    RUN(finish_parses_other_topics);
    RUN(finish_sets_node_id);
    RUN(finish_keeps_node_id);
    RUN(cleanup_used_config);
    RUN(docs_defaults_are_accepted);
    RUN(attachment_store_options);
    RUN(redis_cluster_options);
    return test_finish();
}
