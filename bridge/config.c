/* The bridge's option table and its file parser. Adding an option = one row
 * in opts[] plus a field in struct mqc_bridge_config (and a line in the
 * example config). Values are validated as they are read, so an error names
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
#include "core/redis_url.h"

enum opt_type { OPT_STR, OPT_INT };

struct opt {
    const char *name;
    enum opt_type type;
    size_t offset;
    long min, max;   /* OPT_INT bounds; OPT_STR length bounds */
    const char *def; /* NULL = unset */
    bool secret;     /* never echo the value (it may hold a password) */
    /* Extra check of a string value; NULL if fine, else a reason. */
    const char *(*validate)(const char *value);
    const char *help;
};

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

static const char *v_prefix(const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == ' ' || *p == '{' || *p == '}' || *p < 0x21 || *p > 0x7e)
            return "must be printable ASCII without spaces or braces";
    }
    return NULL;
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

static const char *v_path(const char *v)
{
    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return "must be a file path without control characters";
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

#define F(field) offsetof(struct mqc_bridge_config, field)
static const struct opt opts[] = {
    {"redis_url", OPT_STR, F(redis_url), 1, 4096, "redis://127.0.0.1:6379/0", true, v_redis_url,
     "Redis to read push jobs from"},
    {"key_prefix", OPT_STR, F(key_prefix), 1, 64, "mqchat:", false, v_prefix,
     "prefix of every Redis key (as the plugin's key_prefix)"},
    {"apns_base_url", OPT_STR, F(apns_base_url), 9, 1024, "https://api.push.apple.com", false,
     v_https, "APNs production endpoint"},
    {"apns_sandbox_base_url", OPT_STR, F(apns_sandbox_base_url), 9, 1024,
     "https://api.sandbox.push.apple.com", false, v_https,
     "APNs endpoint for devices registered with sandbox true"},
    {"apns_key_file", OPT_STR, F(apns_key_file), 1, 4095, NULL, false, v_path,
     "APNs auth key (.p8, PKCS#8 PEM); unset = no APNs"},
    {"apns_key_id", OPT_STR, F(apns_key_id), 1, 64, NULL, false, v_alnum,
     "the auth key's key id (10 characters)"},
    {"apns_team_id", OPT_STR, F(apns_team_id), 1, 64, NULL, false, v_alnum,
     "the Apple developer team id (10 characters)"},
    {"fcm_base_url", OPT_STR, F(fcm_base_url), 9, 1024, "https://fcm.googleapis.com", false,
     v_https, "FCM HTTP v1 endpoint"},
    {"fcm_service_account_file", OPT_STR, F(fcm_service_account_file), 1, 4095, NULL, false, v_path,
     "Google service-account JSON; unset = no FCM"},
    {"ca_file", OPT_STR, F(ca_file), 1, 4095, NULL, false, v_path,
     "extra CA bundle for private or test endpoints (verification stays on)"},
    {"consumer", OPT_STR, F(consumer), 1, 64, NULL, false, v_id,
     "this daemon's name in the Redis consumer group (default: host name)"},
    {"max_in_flight", OPT_INT, F(max_in_flight), 1, 10000, "100", false, NULL,
     "most requests outstanding at once"},
    {"max_attempts", OPT_INT, F(max_attempts), 1, 100, "8", false, NULL,
     "tries per job and device before it is dead-lettered"},
    {"job_ttl_seconds", OPT_INT, F(job_ttl_seconds), 1, 604800, "86400", false, NULL,
     "a job older than this is dropped instead of sent or retried"},
    {"request_timeout_ms", OPT_INT, F(request_timeout_ms), 100, 120000, "10000", false, NULL,
     "time allowed for one push request"},
    {"stats_interval_seconds", OPT_INT, F(stats_interval_seconds), 0, 86400, "60", false, NULL,
     "how often counters are logged (0 = never)"},
    {"apns_token_refresh_seconds", OPT_INT, F(apns_token_refresh_seconds), 1200, 3500, "2700",
     false, NULL, "age at which the APNs provider token is replaced (20-58 min)"},
    {"metrics_listen", OPT_STR, F(metrics_listen), 3, 300, NULL, false, v_listen,
     "host:port serving Prometheus metrics at GET /metrics (unset = off)"},
};
#undef F
#define NOPTS (sizeof opts / sizeof opts[0])

static const struct opt *find(const char *key, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (strlen(opts[i].name) == len && memcmp(opts[i].name, key, len) == 0)
            return &opts[i];
    }
    return NULL;
}

/* Set option o of c to value (borrowed). where = "line N: " or "". */
static int apply(struct mqc_bridge_config *c, const struct opt *o, const char *value,
                 const char *where, char *err, size_t errlen)
{
    char *field = (char *)c + o->offset;
    const char *shown = o->secret ? "(hidden)" : value;

    if (o->type == OPT_INT) {
        char *end;
        errno = 0;
        long n = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0' || n < o->min || n > o->max) {
            snprintf(err, errlen, "%s%s: '%.200s' is not a whole number from %ld to %ld", where,
                     o->name, shown, o->min, o->max);
            return MQC_EBADREQ;
        }
        *(long *)field = n;
        return MQC_OK;
    }
    const char *why = NULL;
    size_t len = strlen(value);
    if ((long)len < o->min || (long)len > o->max)
        why = "has the wrong length";
    else if (o->validate)
        why = o->validate(value);
    if (why) {
        snprintf(err, errlen, "%s%s: '%.200s' %s", where, o->name, shown, why);
        return MQC_EBADREQ;
    }
    char *copy = strdup(value);
    if (!copy) {
        snprintf(err, errlen, "%sout of memory", where);
        return MQC_ENOMEM;
    }
    free(*(char **)field);
    *(char **)field = copy;
    return MQC_OK;
}

int mqc_bridge_config_init(struct mqc_bridge_config *c)
{
    char err[256];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NOPTS; i++) {
        if (!opts[i].def)
            continue;
        int rc = apply(c, &opts[i], opts[i].def, "", err, sizeof err);
        if (rc != MQC_OK) {
            mqc_bridge_config_cleanup(c);
            return rc;
        }
    }
    return MQC_OK;
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
    const struct opt *o = find(line + k0, klen);
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
    int rc = apply(c, o, value, where, err, errlen);
    free(value);
    if (rc == MQC_OK)
        seen[idx] = lineno;
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
        const struct opt *o = find(urls[i], strlen(urls[i]));
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
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].type == OPT_STR) {
            char **field = (char **)((char *)c + opts[i].offset);
            free(*field);
            *field = NULL;
        }
    }
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
