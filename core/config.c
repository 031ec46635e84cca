/* Plugin option table and its parser. Adding an option = one row here plus a
 * field in struct mqc_config, and a line in docs/CONFIG.md. */
#include "core/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/id.h"
#include "core/metrics.h"

enum opt_type { OPT_STR, OPT_INT, OPT_BOOL };

struct opt {
    const char *name;
    enum opt_type type;
    size_t offset;
    long min, max;   /* OPT_INT bounds; OPT_STR length bounds */
    const char *def; /* NULL = unset */
    /* Extra check for the value; returns NULL if fine, else a reason. */
    const char *(*validate)(const char *value);
    const char *help;
};

/* Options whose values are never echoed in errors or logs. */
static bool is_secret(const struct opt *o)
{
    return !strcmp(o->name, "redis_password") || !strcmp(o->name, "jwt_secret");
}

static const char *v_prefix(const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == ' ' || *p == '{' || *p == '}' || *p < 0x21 || *p > 0x7e)
            return "must be printable ASCII without spaces or braces";
    }
    return NULL;
}

static const char *v_id(const char *v)
{
    return mqc_id_valid_str(v) ? NULL : "must be 1-64 characters of [A-Za-z0-9_.-]";
}

static const char *v_listen(const char *v)
{
    char host[256];
    int port;
    return mqc_metrics_parse_listen(v, host, sizeof host, &port) == MQC_OK
               ? NULL
               : "must be host:port or [v6 address]:port";
}

#define F(field) offsetof(struct mqc_config, field)
static const struct opt opts[] = {
    {"redis_host", OPT_STR, F(redis_host), 1, 255, "127.0.0.1", NULL, "Redis host"},
    {"redis_port", OPT_INT, F(redis_port), 1, 65535, "6379", NULL, "Redis TCP port"},
    {"redis_unix", OPT_STR, F(redis_unix), 1, 107, NULL, NULL,
     "Redis unix socket path (wins over host/port)"},
    {"redis_password", OPT_STR, F(redis_password), 1, 512, NULL, NULL, "Redis AUTH password"},
    {"redis_db", OPT_INT, F(redis_db), 0, 1000000, "0", NULL, "Redis database number"},
    {"key_prefix", OPT_STR, F(key_prefix), 1, 64, "mqchat:", v_prefix, "prefix of every Redis key"},
    {"node_id", OPT_STR, F(node_id), 1, 64, NULL, v_id, "this broker's name (default: host name)"},
    {"max_message_bytes", OPT_INT, F(max_message_bytes), 256, 16777216, "65536", NULL,
     "largest send payload in bytes"},
    {"max_group_members", OPT_INT, F(max_group_members), 2, 100000, "5000", NULL,
     "largest group, creator included"},
    {"jwt_secret", OPT_STR, F(jwt_secret), 1, 4096, NULL, NULL,
     "HS256 secret for JWT passwords (32 bytes or more recommended)"},
    {"jwt_public_key", OPT_STR, F(jwt_public_key), 1, 4096, NULL, NULL,
     "RS256/ES256 PEM public key file for JWT passwords"},
    {"jwt_issuer", OPT_STR, F(jwt_issuer), 1, 1024, NULL, NULL,
     "when set, JWTs must carry this iss"},
    {"jwt_audience", OPT_STR, F(jwt_audience), 1, 1024, NULL, NULL,
     "when set, JWTs must carry this aud (or an aud array holding it)"},
    {"jwt_leeway_seconds", OPT_INT, F(jwt_leeway_seconds), 0, 3600, "30", NULL,
     "clock skew allowed on a JWT's exp and nbf"},
    {"retention_days", OPT_INT, F(retention_days), 1, 36500, "30", NULL,
     "how long logs and timelines are kept"},
    {"rate_msgs", OPT_INT, F(rate_msgs), 0, 1000000, "200", NULL,
     "sends per second per user (0 = no limit)"},
    {"rate_bytes", OPT_INT, F(rate_bytes), 0, 1073741824, "4194304", NULL,
     "send payload bytes per second per user (0 = no limit)"},
    {"rate_reqs", OPT_INT, F(rate_reqs), 0, 1000000, "100", NULL,
     "requests and receipts per second per user (0 = no limit)"},
    {"retention_seconds", OPT_INT, F(retention_seconds), 0, 3153600000L, "0", NULL,
     "retention in seconds, overriding retention_days when set (0 = use days)"},
    {"timeline_max", OPT_INT, F(timeline_max), 100, 100000000, "100000", NULL,
     "entries kept per user timeline (oldest dropped first)"},
    {"push_preview", OPT_BOOL, F(push_preview), 0, 1, "true", NULL,
     "put a preview of the body in pushes"},
    {"other_topics", OPT_STR, F(other_topics), 1, 8192, NULL, NULL,
     "space-separated filters outside chat/ that users may use; %u = user id"},
    {"auth_cache_seconds", OPT_INT, F(auth_cache_seconds), 0, 86400, "300", NULL,
     "how long a verified password is remembered (0 = always verify)"},
    {"auth_threads", OPT_INT, F(auth_threads), 0, 16, "1", NULL,
     "threads verifying passwords off the broker thread (0 = verify on it)"},
    {"redis_timeout_ms", OPT_INT, F(redis_timeout_ms), 10, 60000, "1000", NULL,
     "connect and command timeout for Redis"},
    {"presence_grace_ms", OPT_INT, F(presence_grace_ms), 0, 600000, "3000", NULL,
     "how long a user whose last device left stays shown online (reconnects within it publish "
     "nothing)"},
    {"node_timeout_ms", OPT_INT, F(node_timeout_ms), 300, 600000, "30000", NULL,
     "a node whose heartbeat is this old is dead: its users are shown offline (heartbeat every "
     "third of it)"},
    {"redis_retry_ms", OPT_INT, F(redis_retry_ms), 10, 60000, "500", NULL,
     "least time between two reconnect attempts while Redis is down"},
    {"metrics_listen", OPT_STR, F(metrics_listen), 3, 300, NULL, v_listen,
     "host:port serving Prometheus metrics at GET /metrics (unset = off)"},
};
#undef F
#define NOPTS (sizeof opts / sizeof opts[0])

static const struct opt *find(const char *key)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (strcmp(opts[i].name, key) == 0)
            return &opts[i];
    }
    return NULL;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"))
        *out = true;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off"))
        *out = false;
    else
        return MQC_EBADREQ;
    return MQC_OK;
}

static int apply(struct mqc_config *cfg, const struct opt *o, const char *value, char *err,
                 size_t errlen)
{
    char *field = (char *)cfg + o->offset;
    const char *why = NULL;

    if (o->type == OPT_INT) {
        char *end;
        errno = 0;
        long n = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0' || n < o->min || n > o->max) {
            snprintf(err, errlen, "plugin_opt_%s: '%s' is not a whole number from %ld to %ld",
                     o->name, value, o->min, o->max);
            return MQC_EBADREQ;
        }
        *(long *)field = n;
        return MQC_OK;
    }
    if (o->type == OPT_BOOL) {
        if (parse_bool(value, (bool *)field) != MQC_OK) {
            snprintf(err, errlen, "plugin_opt_%s: '%s' is not true or false", o->name, value);
            return MQC_EBADREQ;
        }
        return MQC_OK;
    }
    size_t len = strlen(value);
    if ((long)len < o->min || (long)len > o->max)
        why = "has the wrong length";
    else if (o->validate)
        why = o->validate(value);
    if (why) {
        snprintf(err, errlen, "plugin_opt_%s: '%s' %s", o->name, is_secret(o) ? "(hidden)" : value,
                 why);
        return MQC_EBADREQ;
    }
    char *copy = strdup(value);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return MQC_ENOMEM;
    }
    free(*(char **)field);
    *(char **)field = copy;
    return MQC_OK;
}

int mqc_config_init(struct mqc_config *cfg)
{
    char err[256];
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].def) {
            int rc = apply(cfg, &opts[i], opts[i].def, err, sizeof err);
            if (rc != MQC_OK) {
                mqc_config_cleanup(cfg);
                return rc;
            }
        }
    }
    return MQC_OK;
}

int mqc_config_set(struct mqc_config *cfg, const char *key, const char *value, char *err,
                   size_t errlen)
{
    const struct opt *o = key ? find(key) : NULL;
    if (!o) {
        snprintf(err, errlen, "plugin_opt_%s: unknown option", key ? key : "(null)");
        return MQC_EBADREQ;
    }
    if (!value) {
        snprintf(err, errlen, "plugin_opt_%s: missing value", key);
        return MQC_EBADREQ;
    }
    return apply(cfg, o, value, err, errlen);
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
    return MQC_OK;
}

void mqc_config_cleanup(struct mqc_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].type == OPT_STR) {
            char **field = (char **)((char *)cfg + opts[i].offset);
            free(*field);
            *field = NULL;
        }
    }
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
