/* The plugin's option table (rows as core/opt.h describes them) and the
 * checks that need several options. Adding an option = one row here plus a
 * field in struct mqc_config, and a line in docs/CONFIG.md. */
#include "core/config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/attach.h"
#include "core/err.h"
#include "core/id.h"
#include "core/metrics.h"
#include "core/opt.h"

#define STR mqc_opt_set_str
#define LONG mqc_opt_set_long
#define BOOL mqc_opt_set_bool
#define SECRET MQC_OPT_SECRET

/* Regions and access key ids: letters, digits and '-' / '_' only (they
 * go into URLs and the signed scope as they are). */
static const char *check_word(const char *v)
{
    for (const char *p = v; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return "must be letters, digits, '-' and '_'";
    }
    return NULL;
}
static const char *check_region(const char *v)
{
    return check_word(v);
}
static const char *check_access_key(const char *v)
{
    return check_word(v);
}

#define F(field) offsetof(struct mqc_config, field)
static const struct mqc_opt opts[] = {
    {"redis_host", STR, F(redis_host), 1, 255, "127.0.0.1", 0, NULL, "Redis host"},
    {"redis_port", LONG, F(redis_port), 1, 65535, "6379", 0, NULL, "Redis TCP port"},
    {"redis_unix", STR, F(redis_unix), 1, 107, NULL, 0, NULL,
     "Redis unix socket path (wins over host/port)"},
    {"redis_password", STR, F(redis_password), 1, 512, NULL, SECRET, NULL, "Redis AUTH password"},
    {"redis_db", LONG, F(redis_db), 0, 1000000, "0", 0, NULL, "Redis database number"},
    {"redis_cluster_nodes", STR, F(redis_cluster_nodes), 3, 4096, NULL, 0, mqc_opt_check_seeds,
     "Redis Cluster seed nodes host:port, separated by spaces (unset = one Redis; set: "
     "redis_host, redis_port, redis_unix and redis_db are ignored)"},
    {"redis_wait_replicas", LONG, F(redis_wait_replicas), 0, 16, "0", 0, NULL,
     "acknowledge a message only after this many replicas hold it (WAIT; fewer within "
     "redis_timeout_ms/2: unavailable, the retry is deduplicated)"},
    {"key_prefix", STR, F(key_prefix), 1, 64, "mqchat:", 0, mqc_opt_check_prefix,
     "prefix of every Redis key"},
    {"node_id", STR, F(node_id), 1, 64, NULL, 0, mqc_opt_check_id,
     "this broker's name (default: host name)"},
    {"max_message_bytes", LONG, F(max_message_bytes), 256, 16777216, "65536", 0, NULL,
     "largest send payload in bytes"},
    {"max_group_members", LONG, F(max_group_members), 2, 100000, "5000", 0, NULL,
     "largest group, creator included"},
    {"jwt_secret", STR, F(jwt_secret), 1, 4096, NULL, SECRET, NULL,
     "HS256 secret for JWT passwords (32 bytes or more recommended)"},
    {"jwt_public_key", STR, F(jwt_public_key), 1, 4096, NULL, 0, NULL,
     "RS256/ES256 PEM public key file for JWT passwords"},
    {"jwt_issuer", STR, F(jwt_issuer), 1, 1024, NULL, 0, NULL,
     "when set, JWTs must carry this iss"},
    {"jwt_audience", STR, F(jwt_audience), 1, 1024, NULL, 0, NULL,
     "when set, JWTs must carry this aud (or an aud array holding it)"},
    {"jwt_leeway_seconds", LONG, F(jwt_leeway_seconds), 0, 3600, "30", 0, NULL,
     "clock skew allowed on a JWT's exp and nbf"},
    {"retention_days", LONG, F(retention_days), 1, 36500, "30", 0, NULL,
     "how long logs and timelines are kept"},
    {"rate_msgs", LONG, F(rate_msgs), 0, 1000000, "200", 0, NULL,
     "sends per second per user (0 = no limit)"},
    {"rate_bytes", LONG, F(rate_bytes), 0, 1073741824, "4194304", 0, NULL,
     "send payload bytes per second per user (0 = no limit)"},
    {"rate_reqs", LONG, F(rate_reqs), 0, 1000000, "100", 0, NULL,
     "requests and receipts per second per user (0 = no limit)"},
    {"retention_seconds", LONG, F(retention_seconds), 0, 3153600000L, "0", 0, NULL,
     "retention in seconds, overriding retention_days when set (0 = use days)"},
    {"timeline_max", LONG, F(timeline_max), 100, 100000000, "100000", 0, NULL,
     "ignored since lazy fan-out (no per-user timelines); kept so old configs load"},
    {"test_crash_after_sends", LONG, F(test_crash_after_sends), 0, 1000000000, "0", 0, NULL,
     "tests only: the broker kills itself (SIGKILL) right after Redis answers this many "
     "stored sends, before delivering the last one (0 = never)"},
    {"test_crash_after_member_steps", LONG, F(test_crash_after_member_steps), 0, 1000000000, "0", 0,
     NULL,
     "tests only: the broker kills itself (SIGKILL) right after Redis answers the conversation "
     "step of this many membership changes, before the users' index steps (0 = never)"},
    {"test_bus_delay_ms", LONG, F(test_bus_delay_ms), 0, 60000, "0", 0, NULL,
     "tests only: act on other nodes' on/off announcements this many ms late (the replay "
     "test; 0 = at once)"},
    {"test_contacts_delay_ms", LONG, F(test_contacts_delay_ms), 0, 60000, "0", 0, NULL,
     "tests only: take in the contacts read queued at a user's first login this many ms late "
     "(the presence visibility tests; 0 = at once)"},
    {"push_preview", BOOL, F(push_preview), 0, 1, "true", 0, NULL,
     "put a preview of the body in pushes"},
    {"other_topics", STR, F(other_topics), 1, 8192, NULL, 0, NULL,
     "space-separated filters outside chat/ that users may use; %u = user id"},
    {"auth_cache_seconds", LONG, F(auth_cache_seconds), 0, 86400, "300", 0, NULL,
     "how long a verified password is remembered (0 = always verify)"},
    {"session_days", LONG, F(session_days), 1, 36500, "90", 0, NULL,
     "lifetime of a device session token in days"},
    {"session_secret", STR, F(session_secret), 16, 4096, NULL, SECRET, NULL,
     "key of the device session token hashes (default: generated once, kept in Redis)"},
    {"auth_threads", LONG, F(auth_threads), 0, 16, "1", 0, NULL,
     "threads verifying passwords off the broker thread (0 = verify on it)"},
    {"login_budget_ms", LONG, F(login_budget_ms), 0, 1000, "0", 0, NULL,
     "broker-thread time logins may take per loop pass; later logins that pass are closed "
     "busy for a client retry (0 = no budget)"},
    {"login_lag_ms", LONG, F(login_lag_ms), 0, 60000, "0", 0, NULL,
     "logins beyond the first of a loop pass are closed busy while Redis' oldest unanswered "
     "request is older than this (0 = off)"},
    {"login_reads_per_pass", LONG, F(login_reads_per_pass), 0, 1000, "1", 0, NULL,
     "in a reconnect storm, blocking session record reads per broker loop pass; a later token "
     "login of the pass is closed busy and its record fetched with the pipeline for its retry "
     "(0 = no limit)"},
    {"login_storm_per_second", LONG, F(login_storm_per_second), 0, 1000000, "100", 0, NULL,
     "token logins needing a session record read per second above which login_reads_per_pass "
     "applies (0 = always)"},
    {"redis_timeout_ms", LONG, F(redis_timeout_ms), 10, 60000, "1000", 0, NULL,
     "connect and command timeout for Redis"},
    {"presence_grace_ms", LONG, F(presence_grace_ms), 0, 600000, "3000", 0, NULL,
     "how long a user whose last device left stays shown online (reconnects within it publish "
     "nothing)"},
    {"node_timeout_ms", LONG, F(node_timeout_ms), 300, 600000, "30000", 0, NULL,
     "a node whose heartbeat is this old is dead: its users are shown offline (heartbeat every "
     "third of it)"},
    {"redis_retry_ms", LONG, F(redis_retry_ms), 10, 60000, "500", 0, NULL,
     "least time between two reconnect attempts while Redis is down"},
    {"metrics_listen", STR, F(metrics_listen), 3, 300, NULL, 0, mqc_metrics_check_listen,
     "host:port serving Prometheus metrics at GET /metrics (unset = off)"},
    {"s3_endpoint", STR, F(s3_endpoint), 8, 1024, NULL, 0, mqc_attach_check_endpoint,
     "object store for attachments, http[s]://host[:port] (unset = attachments unavailable)"},
    {"s3_bucket", STR, F(s3_bucket), 3, 63, NULL, 0, mqc_attach_check_bucket,
     "bucket holding the attachments"},
    {"s3_region", STR, F(s3_region), 1, 64, "us-east-1", 0, check_region,
     "region the URLs are signed for"},
    {"s3_access_key", STR, F(s3_access_key), 1, 128, NULL, 0, check_access_key,
     "access key id signing the URLs"},
    {"s3_secret_key_file", STR, F(s3_secret_key_file), 1, 4096, NULL, 0, mqc_opt_check_path,
     "file holding the secret access key (one line)"},
    {"s3_path_style", BOOL, F(s3_path_style), 0, 1, "false", 0, NULL,
     "URLs as endpoint/bucket/key (MinIO and the like); else bucket.host/key"},
    {"max_upload_bytes", LONG, F(max_upload_bytes), 1, 5368709120L, "104857600", 0, NULL,
     "largest attachment in bytes (larger uploads are too_large)"},
    {"url_seconds", LONG, F(url_seconds), 1, 604800, "900", 0, NULL,
     "how long an upload or download URL stays valid"},
};
#undef F
#undef STR
#undef LONG
#undef BOOL
#undef SECRET
#define NOPTS (sizeof opts / sizeof opts[0])

int mqc_config_init(struct mqc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    return mqc_opt_defaults(opts, NOPTS, cfg);
}

int mqc_config_set(struct mqc_config *cfg, const char *key, const char *value, char *err,
                   size_t errlen)
{
    const struct mqc_opt *o = key ? mqc_opt_find(opts, NOPTS, key, strlen(key)) : NULL;
    if (!o) {
        snprintf(err, errlen, "plugin_opt_%s: unknown option", key ? key : "(null)");
        return MQC_EBADREQ;
    }
    if (!value) {
        snprintf(err, errlen, "plugin_opt_%s: missing value", key);
        return MQC_EBADREQ;
    }
    return mqc_opt_apply(o, cfg, value, "plugin_opt_", err, errlen);
}

int mqc_config_finish(struct mqc_config *cfg, char *err, size_t errlen)
{
    if (!cfg->node_id) {
        char host[256] = "";
        if (gethostname(host, sizeof host - 1) != 0 || !mqc_id_valid_str(host))
            snprintf(host, sizeof host, "node1");
        if (!(cfg->node_id = strdup(host))) {
            snprintf(err, errlen, "out of memory");
            return MQC_ENOMEM;
        }
    }
    char why[200] = "";
    mqc_filter_list_cleanup(&cfg->other_filters);
    if (mqc_filter_list_parse(cfg->other_topics, &cfg->other_filters, why, sizeof why) != MQC_OK) {
        snprintf(err, errlen, "plugin_opt_other_topics: %s", why);
        return MQC_EBADREQ;
    }
    if (cfg->redis_cluster_nodes && cfg->redis_unix) {
        snprintf(err, errlen,
                 "plugin_opt_redis_unix: cannot be used with "
                 "plugin_opt_redis_cluster_nodes (a cluster is reached over TCP)");
        return MQC_EBADREQ;
    }
    if (cfg->redis_cluster_nodes && cfg->redis_db != 0) {
        snprintf(err, errlen,
                 "plugin_opt_redis_db: a Redis Cluster has only database 0 "
                 "(unset it with plugin_opt_redis_cluster_nodes)");
        return MQC_EBADREQ;
    }
    /* Attachments: all four of endpoint, bucket, key and secret, or none. */
    const char *s3[] = {cfg->s3_endpoint, cfg->s3_bucket, cfg->s3_access_key,
                        cfg->s3_secret_key_file};
    const char *s3n[] = {"s3_endpoint", "s3_bucket", "s3_access_key", "s3_secret_key_file"};
    size_t set = 0;
    for (size_t i = 0; i < 4; i++)
        set += s3[i] != NULL;
    for (size_t i = 0; set > 0 && set < 4 && i < 4; i++) {
        if (!s3[i]) {
            snprintf(err, errlen,
                     "plugin_opt_%s: missing (attachments need s3_endpoint, s3_bucket, "
                     "s3_access_key and s3_secret_key_file together)",
                     s3n[i]);
            return MQC_EBADREQ;
        }
    }
    return MQC_OK;
}

void mqc_config_cleanup(struct mqc_config *cfg)
{
    if (!cfg)
        return;
    mqc_opt_cleanup(opts, NOPTS, cfg);
    mqc_filter_list_cleanup(&cfg->other_filters);
}

const struct mqc_config_doc *mqc_config_docs(size_t *count)
{
    static struct mqc_config_doc docs[NOPTS];
    for (size_t i = 0; i < NOPTS; i++) {
        docs[i].name = opts[i].name;
        docs[i].def = opts[i].def ? opts[i].def : "unset";
        docs[i].help = opts[i].help;
    }
    *count = NOPTS;
    return docs;
}
