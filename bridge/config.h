/* The push bridge's configuration file: `key value` lines, `#` comment lines
 * and blank lines, read against one option table (name, type, bounds,
 * default, validator) in config.c. Every value is checked when the file is
 * read; a bad one is refused naming the line, the key and the value (never
 * the value of an option that may hold a secret, such as a redis_url with a
 * password). The table is a core/opt.h table, like the plugin's. Pure apart
 * from mqc_bridge_config_load() reading the file. */
#ifndef MQC_BRIDGE_CONFIG_H
#define MQC_BRIDGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* Room for the option table's rows (checked when config.c is built). */
#define MQC_BRIDGE_MAX_OPTS 32

struct mqc_bridge_config {
    char *redis_url, *key_prefix, *apns_base_url, *apns_sandbox_base_url, *apns_key_file,
        *apns_key_id, *apns_team_id, *fcm_base_url, *fcm_service_account_file, *ca_file, *consumer,
        *metrics_listen, *redis_cluster_nodes;
    long max_in_flight, max_attempts, job_ttl_seconds, request_timeout_ms, stats_interval_seconds,
        apns_token_refresh_seconds, jobs_sweep_seconds, jobs_reclaim_seconds, redis_wait_replicas;
    bool expand_by_slot;
    /* Where the options came from, for errors found later (a key file that
     * cannot be read): the file load() read (owned, NULL if none) and the
     * line each option was set on, by table row (0 = default or not set). */
    char *path;
    long line[MQC_BRIDGE_MAX_OPTS];
};

/* Fill *c (borrowed, overwritten) with the defaults. Options without a
 * default are NULL; consumer stays NULL until mqc_bridge_config_finish().
 * Returns MQC_OK or MQC_ENOMEM (then *c holds nothing to clean up). */
int mqc_bridge_config_init(struct mqc_bridge_config *c);

/* Apply the whole config file text (borrowed, NUL-terminated) to *c
 * (borrowed, initialised). Lines end in \n or \r\n; the key is the first
 * word, the value the rest of the line without surrounding blanks. Unknown
 * keys, missing or bad values and a key given twice return MQC_EBADREQ with
 * "line N: key: ..." in err (borrowed, errlen bytes, always terminated);
 * MQC_ENOMEM when out of memory. Options already applied stay applied. */
int mqc_bridge_config_parse(struct mqc_bridge_config *c, const char *text, char *err,
                            size_t errlen);

/* Read the file at path (borrowed) and parse it. A file that cannot be read
 * returns MQC_ENOTFOUND with the path and the reason in err. */
int mqc_bridge_config_load(struct mqc_bridge_config *c, const char *path, char *err, size_t errlen);

/* Cross-option checks, once everything is set: apns_key_file, apns_key_id
 * and apns_team_id all set or none; every *_base_url starts with https://
 * (trailing slashes are removed); consumer defaults to "<host name>-<pid>";
 * with redis_cluster_nodes, redis_url must be TCP and database 0 (it gives
 * the password only) and expand_by_slot is forced on.
 * Returns MQC_OK, MQC_EBADREQ (reason in err) or MQC_ENOMEM. */
int mqc_bridge_config_finish(struct mqc_bridge_config *c, char *err, size_t errlen);

/* Is APNs (FCM) configured? c borrowed; meaningful after finish(). */
bool mqc_bridge_apns_enabled(const struct mqc_bridge_config *c);
bool mqc_bridge_fcm_enabled(const struct mqc_bridge_config *c);

/* Where option key (borrowed) of c (borrowed) was set, for an error about
 * its value found after parsing: "<path>: line N: key", or just "key" when
 * it was not set from a file. Written to buf (borrowed, len bytes, always
 * terminated when len > 0); returns buf. */
const char *mqc_bridge_config_where(const struct mqc_bridge_config *c, const char *key, char *buf,
                                    size_t len);

/* Free every string of *c (borrowed) and set it to NULL. NULL is fine. */
void mqc_bridge_config_cleanup(struct mqc_bridge_config *c);

/* For docs and `--help`: the option table as "name default description". */
struct mqc_bridge_config_doc {
    const char *name, *def, *help;
};
/* Returns a static array (borrowed); *count (borrowed) gets its length. */
const struct mqc_bridge_config_doc *mqc_bridge_config_docs(size_t *count);

#endif
