/* Unit tests for bridge/config.h: defaults, a full file, comments and blank
 * lines, every kind of error naming line, key and value (but never a
 * redis_url, which may hold a password), bounds, finish() cross checks,
 * load() from a file and its errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/config.h"
#include "core/err.h"
#include "core/id.h"
#include "tests/unit/test.h"

TEST(defaults)
{
    struct mqc_bridge_config c;
    if (!CHECK_EQ_INT(mqc_bridge_config_init(&c), MQC_OK))
        return;
    CHECK_STR(c.redis_url, "redis://127.0.0.1:6379/0");
    CHECK_STR(c.key_prefix, "mqchat:");
    CHECK_STR(c.apns_base_url, "https://api.push.apple.com");
    CHECK_STR(c.apns_sandbox_base_url, "https://api.sandbox.push.apple.com");
    CHECK_STR(c.fcm_base_url, "https://fcm.googleapis.com");
    CHECK(c.apns_key_file == NULL);
    CHECK(c.apns_key_id == NULL);
    CHECK(c.apns_team_id == NULL);
    CHECK(c.fcm_service_account_file == NULL);
    CHECK(c.ca_file == NULL);
    CHECK(c.consumer == NULL);
    CHECK_EQ_INT(c.max_in_flight, 100);
    CHECK_EQ_INT(c.max_attempts, 8);
    CHECK_EQ_INT(c.job_ttl_seconds, 86400);
    CHECK_EQ_INT(c.request_timeout_ms, 10000);
    CHECK_EQ_INT(c.stats_interval_seconds, 60);
    CHECK_EQ_INT(c.apns_token_refresh_seconds, 2700);
    CHECK_EQ_INT(c.jobs_sweep_seconds, 30);
    CHECK_EQ_INT(c.jobs_reclaim_seconds, 60);
    CHECK(!c.expand_by_slot);
    char err[256] = "";
    CHECK_EQ_INT(mqc_bridge_config_finish(&c, err, sizeof err), MQC_OK);
    CHECK(!mqc_bridge_apns_enabled(&c));
    CHECK(!mqc_bridge_fcm_enabled(&c));
    /* default consumer: the host name (stable across restarts), a valid id */
    CHECK(mqc_id_valid_str(c.consumer));
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) == 0 && mqc_id_valid_str(host))
        CHECK_STR(c.consumer, host);
    mqc_bridge_config_cleanup(&c);
    CHECK(c.redis_url == NULL && c.consumer == NULL);
    mqc_bridge_config_cleanup(&c); /* twice is fine */
    mqc_bridge_config_cleanup(NULL);
}

static const char full_file[] = "# mqchat-push configuration\n"
                                "\n"
                                "redis_url redis://:pw@redis.internal:6380/2\n"
                                "   key_prefix   app:chat:   \n"
                                "\tapns_base_url\thttps://127.0.0.1:8443/\n"
                                "apns_sandbox_base_url https://localhost:8444\n"
                                "apns_key_file /etc/mqchat/AuthKey ABC.p8\r\n"
                                "apns_key_id ABC123DEFG\n"
                                "apns_team_id TEAM123456\n"
                                "   # indented comment\n"
                                "fcm_base_url https://fcm.example:9443\n"
                                "fcm_service_account_file /etc/mqchat/sa.json\n"
                                "ca_file /tmp/ca.pem\n"
                                "consumer push-1\n"
                                "max_in_flight 10000\n"
                                "max_attempts 1\n"
                                "job_ttl_seconds 604800\n"
                                "request_timeout_ms 100\n"
                                "stats_interval_seconds 0\n"
                                "apns_token_refresh_seconds 1200"; /* no final newline */

TEST(full_file)
{
    struct mqc_bridge_config c;
    char err[256] = "";
    if (!CHECK_EQ_INT(mqc_bridge_config_init(&c), MQC_OK))
        return;
    if (!CHECK_EQ_INT(mqc_bridge_config_parse(&c, full_file, err, sizeof err), MQC_OK))
        fprintf(stderr, "  err: %s\n", err);
    CHECK_STR(c.redis_url, "redis://:pw@redis.internal:6380/2");
    CHECK_STR(c.key_prefix, "app:chat:");
    CHECK_STR(c.apns_base_url, "https://127.0.0.1:8443/");
    CHECK_STR(c.apns_sandbox_base_url, "https://localhost:8444");
    CHECK_STR(c.apns_key_file, "/etc/mqchat/AuthKey ABC.p8"); /* inner blank kept, \r gone */
    CHECK_STR(c.apns_key_id, "ABC123DEFG");
    CHECK_STR(c.apns_team_id, "TEAM123456");
    CHECK_STR(c.fcm_base_url, "https://fcm.example:9443");
    CHECK_STR(c.fcm_service_account_file, "/etc/mqchat/sa.json");
    CHECK_STR(c.ca_file, "/tmp/ca.pem");
    CHECK_STR(c.consumer, "push-1");
    CHECK_EQ_INT(c.max_in_flight, 10000);
    CHECK_EQ_INT(c.max_attempts, 1);
    CHECK_EQ_INT(c.job_ttl_seconds, 604800);
    CHECK_EQ_INT(c.request_timeout_ms, 100);
    CHECK_EQ_INT(c.stats_interval_seconds, 0);
    CHECK_EQ_INT(c.apns_token_refresh_seconds, 1200);
    CHECK_EQ_INT(mqc_bridge_config_finish(&c, err, sizeof err), MQC_OK);
    CHECK_STR(c.apns_base_url, "https://127.0.0.1:8443"); /* trailing slash removed */
    CHECK_STR(c.consumer, "push-1");                      /* not replaced */
    CHECK(mqc_bridge_apns_enabled(&c));
    CHECK(mqc_bridge_fcm_enabled(&c));
    mqc_bridge_config_cleanup(&c);
}

TEST(empty_and_comment_only)
{
    struct mqc_bridge_config c;
    char err[256] = "x";
    if (!CHECK_EQ_INT(mqc_bridge_config_init(&c), MQC_OK))
        return;
    CHECK_EQ_INT(mqc_bridge_config_parse(&c, "", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(
        mqc_bridge_config_parse(&c, "\n\n# only\r\n  \t \n#max_attempts 0\n", err, sizeof err),
        MQC_OK);
    CHECK_EQ_INT(c.max_attempts, 8);
    mqc_bridge_config_cleanup(&c);
}

/* Parse text into a fresh config; return the result, err filled. */
static int parse_one(const char *text, char *err, size_t errlen)
{
    struct mqc_bridge_config c;
    if (mqc_bridge_config_init(&c) != MQC_OK)
        return MQC_ENOMEM;
    err[0] = '\0';
    int rc = mqc_bridge_config_parse(&c, text, err, errlen);
    mqc_bridge_config_cleanup(&c);
    return rc;
}

TEST(errors_name_line_key_value)
{
    char err[256];
    CHECK_EQ_INT(parse_one("# c\n\nmax_in_flight 0\n", err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "line 3"));
    CHECK(test_contains(err, "max_in_flight"));
    CHECK(test_contains(err, "'0'"));
    CHECK(test_contains(err, "1 to 10000"));

    CHECK_EQ_INT(parse_one("max_in_flight 10001\n", err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "line 1") && test_contains(err, "'10001'"));
    CHECK_EQ_INT(parse_one("max_attempts 5x\n", err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "max_attempts") && test_contains(err, "'5x'"));
    CHECK_EQ_INT(parse_one("max_attempts -1\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("max_attempts 101\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("max_attempts 99999999999999999999999\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("job_ttl_seconds 604801\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("request_timeout_ms 99\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("request_timeout_ms 120001\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("stats_interval_seconds -1\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("stats_interval_seconds 86401\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("apns_token_refresh_seconds 1199\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("apns_token_refresh_seconds 3501\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("apns_token_refresh_seconds 3500\n", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(parse_one("jobs_sweep_seconds 0\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("jobs_sweep_seconds 3601\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("jobs_reclaim_seconds 0\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("expand_by_slot maybe\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("expand_by_slot true\n", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(parse_one("redis_wait_replicas 17\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("redis_wait_replicas 1\n", err, sizeof err), MQC_OK);

    CHECK_EQ_INT(parse_one("\nbogus_key 1\n", err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "line 2") && test_contains(err, "unknown option 'bogus_key'"));
    CHECK_EQ_INT(parse_one("Max_In_Flight 5\n", err, sizeof err), MQC_EBADREQ); /* exact case */

    CHECK_EQ_INT(parse_one("max_attempts\n", err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "line 1") && test_contains(err, "max_attempts: missing value"));
    CHECK_EQ_INT(parse_one("ca_file   \t \n", err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "ca_file: missing value"));

    CHECK_EQ_INT(parse_one("max_attempts 3\nmax_attempts 4\n", err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "line 2") && test_contains(err, "already set on line 1"));

    CHECK_EQ_INT(parse_one("key_prefix a{b}\n", err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "key_prefix") && test_contains(err, "'a{b}'"));
    CHECK_EQ_INT(parse_one("consumer a/b\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("apns_key_id ABC-123\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("ca_file a\x01"
                           "b\n",
                           err, sizeof err),
                 MQC_EBADREQ);
    CHECK(test_contains(err, "control character"));
}

TEST(urls_must_be_https)
{
    char err[256];
    CHECK_EQ_INT(parse_one("apns_base_url http://api.push.apple.com\n", err, sizeof err),
                 MQC_EBADREQ);
    CHECK(test_contains(err, "apns_base_url") && test_contains(err, "'http://api.push.apple.com'"));
    CHECK_EQ_INT(parse_one("fcm_base_url https://\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("fcm_base_url fcm.googleapis.com\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("apns_sandbox_base_url https://x/y?z=1\n", err, sizeof err),
                 MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("apns_sandbox_base_url HTTPS://x\n", err, sizeof err), MQC_EBADREQ);
    CHECK_EQ_INT(parse_one("fcm_base_url https://127.0.0.1:9443\n", err, sizeof err), MQC_OK);

    /* finish() checks fields set directly too */
    struct mqc_bridge_config c;
    if (!CHECK_EQ_INT(mqc_bridge_config_init(&c), MQC_OK))
        return;
    free(c.fcm_base_url);
    c.fcm_base_url = strdup("http://insecure.example");
    CHECK_EQ_INT(mqc_bridge_config_finish(&c, err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "fcm_base_url") && test_contains(err, "http://insecure.example"));
    mqc_bridge_config_cleanup(&c);
}

TEST(redis_url_never_echoed)
{
    char err[256];
    CHECK_EQ_INT(parse_one("redis_url ftp://:hunter2@host\n", err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "line 1") && test_contains(err, "redis_url"));
    CHECK(!test_contains(err, "hunter2"));
    CHECK(test_contains(err, "(hidden)"));
    CHECK_EQ_INT(parse_one("redis_url unix:///run/redis.sock\n", err, sizeof err), MQC_OK);
}

TEST(apns_all_or_none)
{
    static const char *const partial[] = {
        "apns_key_file /k.p8\n",
        "apns_key_id ABC123DEFG\n",
        "apns_team_id TEAM123456\n",
        "apns_key_file /k.p8\napns_key_id ABC123DEFG\n",
        "apns_key_id ABC123DEFG\napns_team_id TEAM123456\n",
    };
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++) {
        struct mqc_bridge_config c;
        char err[256] = "";
        if (!CHECK_EQ_INT(mqc_bridge_config_init(&c), MQC_OK))
            return;
        CHECK_EQ_INT(mqc_bridge_config_parse(&c, partial[i], err, sizeof err), MQC_OK);
        CHECK_EQ_INT(mqc_bridge_config_finish(&c, err, sizeof err), MQC_EBADREQ);
        CHECK(test_contains(err, "all three or none"));
        CHECK(!mqc_bridge_apns_enabled(&c));
        mqc_bridge_config_cleanup(&c);
    }
    struct mqc_bridge_config c;
    char err[256] = "";
    if (!CHECK_EQ_INT(mqc_bridge_config_init(&c), MQC_OK))
        return;
    CHECK_EQ_INT(
        mqc_bridge_config_parse(&c, "fcm_service_account_file /sa.json\n", err, sizeof err),
        MQC_OK);
    CHECK_EQ_INT(mqc_bridge_config_finish(&c, err, sizeof err), MQC_OK);
    CHECK(!mqc_bridge_apns_enabled(&c));
    CHECK(mqc_bridge_fcm_enabled(&c));
    mqc_bridge_config_cleanup(&c);
}

TEST(load_file)
{
    char path[] = "/tmp/mqc_bridge_config_XXXXXX";
    int fd = mkstemp(path);
    if (!CHECK(fd >= 0))
        return;
    FILE *f = fdopen(fd, "w");
    if (!CHECK(f != NULL)) {
        close(fd);
        unlink(path);
        return;
    }
    fputs("max_in_flight 7\nconsumer worker-9\n# end\n", f);
    CHECK_EQ_INT(fclose(f), 0);

    struct mqc_bridge_config c;
    char err[512] = "";
    if (CHECK_EQ_INT(mqc_bridge_config_init(&c), MQC_OK)) {
        CHECK_EQ_INT(mqc_bridge_config_load(&c, path, err, sizeof err), MQC_OK);
        CHECK_EQ_INT(c.max_in_flight, 7);
        CHECK_STR(c.consumer, "worker-9");
        /* where each option came from, for errors found after parsing */
        char where[600], want[600];
        snprintf(want, sizeof want, "%s: line 2: consumer", path);
        CHECK_STR(mqc_bridge_config_where(&c, "consumer", where, sizeof where), want);
        CHECK_STR(mqc_bridge_config_where(&c, "ca_file", where, sizeof where), "ca_file");
        mqc_bridge_config_cleanup(&c);
        CHECK(c.path == NULL);
    }

    /* an error inside the file names the path and the line */
    f = fopen(path, "w");
    if (CHECK(f != NULL)) {
        fputs("max_in_flight 7\nmax_attempts zero\n", f);
        CHECK_EQ_INT(fclose(f), 0);
    }
    if (CHECK_EQ_INT(mqc_bridge_config_init(&c), MQC_OK)) {
        CHECK_EQ_INT(mqc_bridge_config_load(&c, path, err, sizeof err), MQC_EBADREQ);
        CHECK(test_contains(err, path) && test_contains(err, "line 2") &&
              test_contains(err, "max_attempts") && test_contains(err, "'zero'"));
        mqc_bridge_config_cleanup(&c);
    }
    unlink(path);

    /* a missing file names the path */
    if (CHECK_EQ_INT(mqc_bridge_config_init(&c), MQC_OK)) {
        CHECK_EQ_INT(mqc_bridge_config_load(&c, path, err, sizeof err), MQC_ENOTFOUND);
        CHECK(test_contains(err, path) && test_contains(err, "cannot open"));
        mqc_bridge_config_cleanup(&c);
    }
}

/* finish() of text: the result, err filled; *by_slot: expand_by_slot after. */
static int finish_one(const char *text, char *err, size_t errlen, bool *by_slot)
{
    struct mqc_bridge_config c;
    if (mqc_bridge_config_init(&c) != MQC_OK)
        return MQC_ENOMEM;
    err[0] = '\0';
    int rc = mqc_bridge_config_parse(&c, text, err, errlen);
    if (rc == MQC_OK)
        rc = mqc_bridge_config_finish(&c, err, errlen);
    *by_slot = c.expand_by_slot;
    mqc_bridge_config_cleanup(&c);
    return rc;
}

TEST(redis_cluster_nodes)
{
    char err[256];
    bool by_slot = false;
    CHECK_EQ_INT(finish_one("redis_cluster_nodes 10.0.0.1:7000 10.0.0.2:7000,h3:7001\n", err,
                            sizeof err, &by_slot),
                 MQC_OK);
    CHECK(by_slot); /* a cluster refuses cross-slot calls: forced */
    CHECK_EQ_INT(finish_one("redis_url redis://:pw@x:1/0\nredis_cluster_nodes h:7000\n", err,
                            sizeof err, &by_slot),
                 MQC_OK);
    CHECK_EQ_INT(finish_one("max_attempts 3\n", err, sizeof err, &by_slot), MQC_OK);
    CHECK(!by_slot);
    static const char *const bad[] = {"h",     "h:",       ":7000", "h:0",    "h:65536",
                                      "h:70x", "h:7000 k", ", ,",   "h:7000:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "redis_cluster_nodes %s\n", bad[i]);
        CHECK_EQ_INT(finish_one(text, err, sizeof err, &by_slot), MQC_EBADREQ);
        CHECK(test_contains(err, "line 1") && test_contains(err, "redis_cluster_nodes"));
    }
    /* redis_url then gives only the password: no other database, no socket */
    CHECK_EQ_INT(finish_one("redis_url redis://x:1/3\nredis_cluster_nodes h:7000\n", err,
                            sizeof err, &by_slot),
                 MQC_EBADREQ);
    CHECK(test_contains(err, "redis_url") && test_contains(err, "database other than 0"));
    CHECK_EQ_INT(finish_one("redis_url unix:///tmp/r.sock\nredis_cluster_nodes h:7000\n", err,
                            sizeof err, &by_slot),
                 MQC_EBADREQ);
    CHECK(test_contains(err, "unix socket"));
}

TEST(docs_cover_every_option)
{
    size_t n = 0;
    const struct mqc_bridge_config_doc *d = mqc_bridge_config_docs(&n);
    CHECK_EQ_INT(n, 23);
    bool found_ttl = false;
    for (size_t i = 0; i < n; i++) {
        CHECK(d[i].name && d[i].def && d[i].help && *d[i].help);
        if (!strcmp(d[i].name, "job_ttl_seconds"))
            found_ttl = !strcmp(d[i].def, "86400");
    }
    CHECK(found_ttl);
}

int main(void)
{
    RUN(defaults);
    RUN(full_file);
    RUN(empty_and_comment_only);
    RUN(errors_name_line_key_value);
    RUN(urls_must_be_https);
    RUN(redis_url_never_echoed);
    RUN(apns_all_or_none);
    RUN(load_file);
    RUN(redis_cluster_nodes);
    RUN(docs_cover_every_option);
    return test_finish();
}
