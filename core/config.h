/* The plugin's configuration: one table of options (name, type, bounds,
 * default, validator), parsed from mosquitto's plugin_opt_* pairs. Every
 * value is checked at start; a bad one names the option and the value. */
#ifndef MQC_CONFIG_H
#define MQC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/filter.h"

struct mqc_config {
    char *redis_host;
    long redis_port;
    char *redis_unix;     /* NULL = use host/port */
    char *redis_password; /* NULL = no AUTH */
    long redis_db;
    char *redis_cluster_nodes; /* NULL = one Redis (host/port/unix/db) */
    long redis_wait_replicas;  /* 0 = acknowledge without WAIT */
    char *key_prefix;
    char *node_id; /* default: host name */
    long max_message_bytes;
    long max_group_members;
    char *jwt_secret;
    char *jwt_public_key;
    char *jwt_issuer;
    char *jwt_audience;
    long jwt_leeway_seconds;
    long retention_days;
    bool push_preview;
    char *other_topics;
    long auth_cache_seconds;
    long auth_threads;
    long login_budget_ms;        /* login pacing: broker-thread ms of logins per loop pass */
    long login_lag_ms;           /* login pacing: logins wait while Redis is this far behind */
    long login_reads_per_pass;   /* blocking session reads per loop pass (0 = no limit) */
    long login_storm_per_second; /* record reads per second that make a storm (0 = always) */
    long session_days;           /* device session lifetime */
    char *session_secret;        /* NULL = the key Redis keeps */
    long redis_timeout_ms;
    long redis_retry_ms;
    long presence_grace_ms;
    long node_timeout_ms;
    long retention_seconds;
    long rate_msgs;
    long rate_bytes;
    long rate_reqs;
    long timeline_max;
    long test_crash_after_sends;        /* tests: SIGKILL after the Nth stored send (0 = off) */
    long test_crash_after_member_steps; /* tests: SIGKILL between membership steps (0 = off) */
    long test_bus_delay_ms;             /* tests: act on bus on/off this much later (0 = at once) */
    long test_contacts_delay_ms;        /* tests: apply the login's contacts read this much later */
    char *metrics_listen;               /* host:port serving metrics, NULL = off */
    /* Attachments (PROTOCOL.md "Attachments"): the object store; unset
     * endpoint = upload/download answer unavailable. */
    char *s3_endpoint;
    char *s3_bucket;
    char *s3_region;
    char *s3_access_key;
    char *s3_secret_key_file;
    bool s3_path_style;
    long max_upload_bytes;
    long url_seconds;
    struct mqc_filter_list other_filters; /* parsed other_topics */
};

/* Fill *cfg with defaults. Returns MQC_OK or MQC_ENOMEM. */
int mqc_config_init(struct mqc_config *cfg);
/* Set option key (without the plugin_opt_ prefix) to value (both borrowed).
 * Unknown keys and bad values return MQC_EBADREQ with a reason in err. */
int mqc_config_set(struct mqc_config *cfg, const char *key, const char *value, char *err,
                   size_t errlen);
/* Cross-option checks and derived values, once all options are set. */
int mqc_config_finish(struct mqc_config *cfg, char *err, size_t errlen);
void mqc_config_cleanup(struct mqc_config *cfg);

/* For docs and `--help`: the option table as "name default description" rows. */
struct mqc_config_doc {
    const char *name, *def, *help;
};
const struct mqc_config_doc *mqc_config_docs(size_t *count);

#endif
