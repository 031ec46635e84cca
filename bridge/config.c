/* The bridge's option table (core/opt.h rows, the same setters and checks as
 * the plugin's) and its file parser. Adding an option = one row in opts[]
 * plus a field in struct mqc_bridge_config (and a line in the example
 * config and docs/CONFIG.md). Values are validated as they are read, so an error names
 * the line; finish() adds the checks that need several options. */
#include "bridge/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/id.h"
#include "core/metrics.h"
#include "core/opt.h"
#include "core/redis_url.h"

/* Config files are small; anything bigger is a mistake, not a config. */
#define MAX_FILE_BYTES (1024 * 1024)

static const char *v_redis_url(const char *v)
{
    struct mqc_redis_url u;
    if (mqc_redis_url_parse(v, &u) != MQC_OK)
        return "is not redis://[:password@]host[:port][/db] or unix:///path[?db=N]";
    mqc_redis_url_cleanup(&u);
    return NULL;
}

/* Redis Cluster seeds: "host:port" words separated by spaces or commas,
 * at least one; host without spaces, port 1-65535. */
static const char *v_seeds(const char *v)
{
    size_t n = 0;
    for (const char *p = v; *p;) {
        size_t w = strcspn(p, " ,\t");
        if (w > 0) {
            const char *colon = NULL;
            for (size_t i = 0; i < w; i++)
                if (p[i] == ':')
                    colon = p + i;
            if (!colon || colon == p || (size_t)(colon - p) >= 255)
                return "must be host:port words separated by spaces or commas";
            long port = 0;
            const char *d = colon + 1;
            if (d == p + w)
                return "must be host:port words (a port after each host)";
            for (; d < p + w; d++) {
                if (*d < '0' || *d > '9')
                    return "must be host:port words (the port a number)";
                port = port * 10 + (*d - '0');
                if (port > 65535)
                    break;
            }
            if (port < 1 || port > 65535)
                return "must be host:port words (port 1-65535)";
            n++;
        }
        p += w;
        p += strspn(p, " ,\t");
    }
    return n ? NULL : "must name at least one host:port";
}

static const char *v_https(const char *v)
{
    if (strncmp(v, "https://", 8) != 0 || v[8] == '\0' || v[8] == '/')
        return "must be an https:// URL";
    for (const char *p = v; *p; p++) {
        if (*p < 0x21 || *p > 0x7e || *p == '?' || *p == '#')
            return "must be an https:// URL without spaces, query or fragment";
    }
    return NULL;
}

/* APNs key ids and team ids are 10 upper-case letters and digits; accept
 * any short run of letters and digits (test setups make up their own). */
static const char *v_alnum(const char *v)
{
    for (const char *p = v; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            return "must be letters and digits only";
    }
    return NULL;
}

#define STR mqc_opt_set_str
#define LONG mqc_opt_set_long
#define SECRET MQC_OPT_SECRET

#define F(field) offsetof(struct mqc_bridge_config, field)
static const struct mqc_opt opts[] = {
    {"redis_url", STR, F(redis_url), 1, 4096, "redis://127.0.0.1:6379/0", SECRET, v_redis_url,
     "Redis to read push jobs from"},
    {"key_prefix", STR, F(key_prefix), 1, 64, "mqchat:", 0, mqc_opt_check_prefix,
     "prefix of every Redis key (as the plugin's key_prefix)"},
    {"apns_base_url", STR, F(apns_base_url), 9, 1024, "https://api.push.apple.com", 0, v_https,
     "APNs production endpoint"},
    {"apns_sandbox_base_url", STR, F(apns_sandbox_base_url), 9, 1024,
     "https://api.sandbox.push.apple.com", 0, v_https,
     "APNs endpoint for devices registered with sandbox true"},
    {"apns_key_file", STR, F(apns_key_file), 1, 4095, NULL, 0, mqc_opt_check_path,
     "APNs auth key (.p8, PKCS#8 PEM); unset = no APNs"},
    {"apns_key_id", STR, F(apns_key_id), 1, 64, NULL, 0, v_alnum,
     "the auth key's key id (10 characters)"},
    {"apns_team_id", STR, F(apns_team_id), 1, 64, NULL, 0, v_alnum,
     "the Apple developer team id (10 characters)"},
    {"fcm_base_url", STR, F(fcm_base_url), 9, 1024, "https://fcm.googleapis.com", 0, v_https,
     "FCM HTTP v1 endpoint"},
    {"fcm_service_account_file", STR, F(fcm_service_account_file), 1, 4095, NULL, 0,
     mqc_opt_check_path, "Google service-account JSON; unset = no FCM"},
    {"ca_file", STR, F(ca_file), 1, 4095, NULL, 0, mqc_opt_check_path,
     "extra CA bundle for private or test endpoints (verification stays on)"},
    {"consumer", STR, F(consumer), 1, 64, NULL, 0, mqc_opt_check_id,
     "this daemon's name in the Redis consumer group (default: host name)"},
    {"max_in_flight", LONG, F(max_in_flight), 1, 10000, "100", 0, NULL,
     "most requests outstanding at once"},
    {"max_attempts", LONG, F(max_attempts), 1, 100, "8", 0, NULL,
     "tries per job and device before it is dead-lettered"},
    {"job_ttl_seconds", LONG, F(job_ttl_seconds), 1, 604800, "86400", 0, NULL,
     "a job older than this is dropped instead of sent or retried"},
    {"request_timeout_ms", LONG, F(request_timeout_ms), 100, 120000, "10000", 0, NULL,
     "time allowed for one push request"},
    {"stats_interval_seconds", LONG, F(stats_interval_seconds), 0, 86400, "60", 0, NULL,
     "how often counters are logged (0 = never)"},
    {"apns_token_refresh_seconds", LONG, F(apns_token_refresh_seconds), 1200, 3500, "2700", 0, NULL,
     "age at which the APNs provider token is replaced (20-58 min)"},
    {"metrics_listen", STR, F(metrics_listen), 3, 300, NULL, 0, mqc_metrics_check_listen,
     "host:port serving Prometheus metrics at GET /metrics (unset = off)"},
    {"jobs_sweep_seconds", LONG, F(jobs_sweep_seconds), 1, 3600, "30", 0, NULL,
     "how often every slot job stream is checked (hints are not durable)"},
    {"jobs_reclaim_seconds", LONG, F(jobs_reclaim_seconds), 1, 86400, "60", 0, NULL,
     "idle time after which another daemon's unfinished slot jobs are taken over"},
    {"expand_by_slot", mqc_opt_set_bool, F(expand_by_slot), 0, 0, "false", 0, NULL,
     "one expand call per user key slot (Redis Cluster) instead of one per job"},
    {"redis_cluster_nodes", STR, F(redis_cluster_nodes), 3, 4096, NULL, 0, v_seeds,
     "Redis Cluster seeds host:port (spaces or commas); unset = the one Redis of redis_url"},
    {"redis_wait_replicas", LONG, F(redis_wait_replicas), 0, 16, "0", 0, NULL,
     "replicas that must confirm (WAIT) a push job, retry or dead letter before its source is "
     "acknowledged (0 = no WAIT)"},
};
#undef F
#undef STR
#undef LONG
#undef SECRET
#define NOPTS (sizeof opts / sizeof opts[0])
_Static_assert(NOPTS <= MQC_BRIDGE_MAX_OPTS, "raise MQC_BRIDGE_MAX_OPTS");

static const struct mqc_opt *find(const char *key, size_t len)
{
    return mqc_opt_find(opts, NOPTS, key, len);
}

int mqc_bridge_config_init(struct mqc_bridge_config *c)
{
    memset(c, 0, sizeof *c);
    return mqc_opt_defaults(opts, NOPTS, c);
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* One line (not NUL-terminated: line, len), number lineno. seen[] holds the
 * line each option was first set on (0 = not yet). */
static int parse_line(struct mqc_bridge_config *c, const char *line, size_t len, long lineno,
                      long seen[NOPTS], char *err, size_t errlen)
{
    while (len > 0 && (is_blank(line[len - 1]) || line[len - 1] == '\r'))
        len--;
    size_t i = 0;
    while (i < len && is_blank(line[i]))
        i++;
    if (i == len || line[i] == '#')
        return MQC_OK;
    size_t k0 = i;
    while (i < len && !is_blank(line[i]))
        i++;
    size_t klen = i - k0;
    while (i < len && is_blank(line[i]))
        i++;

    char where[32];
    snprintf(where, sizeof where, "line %ld: ", lineno);
    const struct mqc_opt *o = find(line + k0, klen);
    if (!o) {
        snprintf(err, errlen, "%sunknown option '%.*s'", where, (int)(klen > 64 ? 64 : klen),
                 line + k0);
        return MQC_EBADREQ;
    }
    if (i == len) {
        snprintf(err, errlen, "%s%s: missing value", where, o->name);
        return MQC_EBADREQ;
    }
    size_t idx = (size_t)(o - opts);
    if (seen[idx]) {
        snprintf(err, errlen, "%s%s: already set on line %ld", where, o->name, seen[idx]);
        return MQC_EBADREQ;
    }
    for (size_t j = i; j < len; j++) {
        if ((unsigned char)line[j] < 0x20 && line[j] != '\t') {
            snprintf(err, errlen, "%s%s: the value holds a control character", where, o->name);
            return MQC_EBADREQ;
        }
    }
    char *value = strndup(line + i, len - i);
    if (!value) {
        snprintf(err, errlen, "%sout of memory", where);
        return MQC_ENOMEM;
    }
    int rc = mqc_opt_apply(o, c, value, where, err, errlen);
    free(value);
    if (rc == MQC_OK)
        seen[idx] = c->line[idx] = lineno;
    return rc;
}

int mqc_bridge_config_parse(struct mqc_bridge_config *c, const char *text, char *err, size_t errlen)
{
    long seen[NOPTS] = {0};
    long lineno = 0;
    const char *p = text;
    if (errlen)
        err[0] = '\0';
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        int rc = parse_line(c, p, len, ++lineno, seen, err, errlen);
        if (rc != MQC_OK)
            return rc;
        if (!nl)
            break;
        p = nl + 1;
    }
    return MQC_OK;
}

int mqc_bridge_config_load(struct mqc_bridge_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return MQC_ENOTFOUND;
    }
    int rc = MQC_OK;
    char *buf = malloc(MAX_FILE_BYTES + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = MQC_ENOMEM;
        goto out;
    }
    size_t n = fread(buf, 1, MAX_FILE_BYTES + 1, f);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        rc = MQC_ENOTFOUND;
        goto out;
    }
    if (n > MAX_FILE_BYTES) {
        snprintf(err, errlen, "%s: larger than %d bytes", path, MAX_FILE_BYTES);
        rc = MQC_EBADREQ;
        goto out;
    }
    if (memchr(buf, '\0', n)) {
        snprintf(err, errlen, "%s: holds a NUL byte (not a text file)", path);
        rc = MQC_EBADREQ;
        goto out;
    }
    buf[n] = '\0';
    free(c->path);
    if (!(c->path = strdup(path))) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = MQC_ENOMEM;
        goto out;
    }
    char why[300] = "";
    rc = mqc_bridge_config_parse(c, buf, why, sizeof why);
    if (rc != MQC_OK)
        snprintf(err, errlen, "%s: %s", path, why);
out:
    free(buf);
    if (fclose(f) != 0 && rc == MQC_OK) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        rc = MQC_ENOTFOUND;
    }
    return rc;
}

/* The default consumer name is the host name: stable across restarts, so a
 * restarted daemon picks up its own pending jobs at once. Two daemons on one
 * host must set `consumer` to different names. */
static int set_default_consumer(struct mqc_bridge_config *c, char *err, size_t errlen)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !mqc_id_valid_str(host))
        snprintf(host, sizeof host, "mqchat-push");
    if (!(c->consumer = strdup(host))) {
        snprintf(err, errlen, "out of memory");
        return MQC_ENOMEM;
    }
    return MQC_OK;
}

int mqc_bridge_config_finish(struct mqc_bridge_config *c, char *err, size_t errlen)
{
    /* The table validators ran on parsed values; fields set by a caller
     * directly are checked here again. */
    static const char *const urls[] = {"apns_base_url", "apns_sandbox_base_url", "fcm_base_url"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        const struct mqc_opt *o = find(urls[i], strlen(urls[i]));
        char *url = *(char **)((char *)c + o->offset);
        const char *why = url ? v_https(url) : "must be set";
        if (why) {
            snprintf(err, errlen, "%s: '%.200s' %s", o->name, url ? url : "", why);
            return MQC_EBADREQ;
        }
        size_t n = strlen(url);
        while (n > 9 && url[n - 1] == '/')
            url[--n] = '\0';
    }
    if (!c->redis_url || !c->key_prefix) {
        snprintf(err, errlen, "%s: must be set", c->redis_url ? "key_prefix" : "redis_url");
        return MQC_EBADREQ;
    }
    int napns = !!c->apns_key_file + !!c->apns_key_id + !!c->apns_team_id;
    if (napns != 0 && napns != 3) {
        snprintf(
            err, errlen,
            "apns_key_file, apns_key_id and apns_team_id: set all three or none (missing:%s%s%s)",
            c->apns_key_file ? "" : " apns_key_file", c->apns_key_id ? "" : " apns_key_id",
            c->apns_team_id ? "" : " apns_team_id");
        return MQC_EBADREQ;
    }
    if (c->redis_cluster_nodes) {
        /* redis_url then gives only the password: a database other than 0
         * or a unix socket would be silently ignored, so refuse them. */
        struct mqc_redis_url u;
        if (mqc_redis_url_parse(c->redis_url, &u) != MQC_OK) {
            snprintf(err, errlen, "redis_url: is not a Redis URL");
            return MQC_EBADREQ;
        }
        const char *why = u.db ? "names a database other than 0 (a Redis Cluster has only 0)"
                          : u.unix_path ? "is a unix socket (a Redis Cluster is reached over TCP)"
                                        : NULL;
        mqc_redis_url_cleanup(&u);
        if (why) {
            snprintf(err, errlen,
                     "redis_url: %s; with redis_cluster_nodes it only gives the password", why);
            return MQC_EBADREQ;
        }
        c->expand_by_slot = true; /* a cluster refuses cross-slot calls */
    }
    if (!c->consumer)
        return set_default_consumer(c, err, errlen);
    return MQC_OK;
}

bool mqc_bridge_apns_enabled(const struct mqc_bridge_config *c)
{
    return c->apns_key_file && c->apns_key_id && c->apns_team_id;
}

bool mqc_bridge_fcm_enabled(const struct mqc_bridge_config *c)
{
    return c->fcm_service_account_file != NULL;
}

void mqc_bridge_config_cleanup(struct mqc_bridge_config *c)
{
    if (!c)
        return;
    mqc_opt_cleanup(opts, NOPTS, c);
    free(c->path);
    c->path = NULL;
}

const char *mqc_bridge_config_where(const struct mqc_bridge_config *c, const char *key, char *buf,
                                    size_t len)
{
    const struct mqc_opt *o = find(key, strlen(key));
    long line = o ? c->line[o - opts] : 0;
    if (line > 0)
        snprintf(buf, len, "%s%sline %ld: %s", c->path ? c->path : "", c->path ? ": " : "", line,
                 key);
    else
        snprintf(buf, len, "%s", key);
    return buf;
}

const struct mqc_bridge_config_doc *mqc_bridge_config_docs(size_t *count)
{
    static struct mqc_bridge_config_doc docs[NOPTS];
    for (size_t i = 0; i < NOPTS; i++) {
        docs[i].name = opts[i].name;
        docs[i].def = opts[i].def ? opts[i].def : "unset";
        docs[i].help = opts[i].help;
    }
    *count = NOPTS;
    return docs;
}
