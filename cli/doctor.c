/* `mqchat doctor --config FILE [--push-config FILE]`: checks a deployment
 * the way the broker and the push bridge will see it and prints one line per
 * check, "ok: ...", "warn: ..." or "FAIL: what, and the fix"; exits 0 only
 * when nothing failed. FILE is the mosquitto.conf that loads the plugin
 * (include_dir followed); the plugin's options are checked with the plugin's
 * own option table, Redis through store/probe.h (read-only: the doctor never
 * loads the function library or writes a key). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bridge/config.h"
#include "bridge/jwt.h"
#include "cli/cli.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "core/mosqconf.h"
#include "core/redis_url.h"
#include "store/probe.h"

/* Most clock difference between this machine and Redis that passes. */
#define SKEW_MAX_MS 1000
/* Bytes a packet may carry besides a payload of plugin_opt_max_message_bytes
 * (topic, header, MQTT 5 properties, a CONNECT with a JWT): docs/CONFIG.md
 * "Packet size". */
#define PACKET_OVERHEAD 16384
/* The user the packaged mqchat-push.service runs as. */
#define PUSH_USER "mosquitto"

struct doctor {
    int fails, warns;
};

static void say(struct doctor *d, const char *tag, const char *fmt, va_list ap)
{
    (void)d;
    printf("%s: ", tag);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
}

__attribute__((format(printf, 2, 3))) static void ok(struct doctor *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(d, "ok", fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void warn(struct doctor *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(d, "warn", fmt, ap);
    va_end(ap);
    d->warns++;
}

__attribute__((format(printf, 2, 3))) static void fail(struct doctor *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(d, "FAIL", fmt, ap);
    va_end(ap);
    d->fails++;
}

/* ---- files ---- */

/* The whole file at path (borrowed), NUL-terminated, owned by the caller;
 * NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
        if (n + 1 == cap) {
            char *bigger = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!bigger) {
                free(buf);
                buf = NULL;
                errno = EFBIG;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        if (bad)
            errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Can user (borrowed) open path (borrowed) for reading? 0 when it can, else
 * the errno it gets. Tried for real in a child process that takes on the
 * user's uid, gid and groups, so directory permissions and ACLs count. */
static int readable_as(const char *path, const char *user)
{
    struct passwd *pw = getpwnam(user);
    if (!pw)
        return ENOENT;
    pid_t pid = fork();
    if (pid < 0)
        return errno;
    if (pid == 0) {
        if (initgroups(user, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
            _exit(EPERM);
        int fd = open(path, O_RDONLY);
        _exit(fd < 0 ? (errno & 0x7f) : 0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return errno;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : EIO;
}

/* Check that path (borrowed) is readable by us and, when we are root and
 * the service drops to user (borrowed, may be NULL), by that user. what
 * names the file in messages, fix says which option points at it. Returns
 * true when readable. */
static bool check_readable(struct doctor *d, const char *what, const char *path, const char *user,
                           const char *fix)
{
    if (access(path, R_OK) != 0) {
        fail(d, "cannot read %s '%s': %s; fix the path (%s) or the file's permissions", what, path,
             strerror(errno), fix);
        return false;
    }
    if (geteuid() == 0 && user && strcmp(user, "root") != 0) {
        int e = readable_as(path, user);
        if (e == ENOENT && !getpwnam(user)) {
            warn(d, "%s '%s': user '%s' does not exist, readability not checked", what, path, user);
            return true;
        }
        if (e) {
            fail(d,
                 "%s '%s' is not readable by user '%s' (%s), the user the service runs "
                 "as; chown/chmod it (and its directories) so that '%s' can read it",
                 what, path, user, strerror(e), user);
            return false;
        }
        ok(d, "%s '%s' readable by user '%s'", what, path, user);
        return true;
    }
    ok(d, "%s '%s' readable", what, path);
    return true;
}

/* ---- mosquitto.conf ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_conf(struct doctor *d, struct mqc_mosqconf *c, const char *path, int depth);

/* include_dir: every *.conf in dir, in name order, as mosquitto 2.0 does. */
static int load_dir(struct doctor *d, struct mqc_mosqconf *c, const char *dir, int depth)
{
    DIR *dh = opendir(dir);
    if (!dh) {
        fail(d, "include_dir '%s': %s; fix the include_dir line or create the directory", dir,
             strerror(errno));
        return MQC_ENOTFOUND;
    }
    char **names = NULL;
    size_t n = 0;
    int rc = MQC_OK;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".conf"))
            continue;
        char **more = realloc(names, (n + 1) * sizeof *names);
        char *copy = strdup(e->d_name);
        if (!more || !copy) {
            free(copy);
            if (more)
                names = more;
            rc = MQC_ENOMEM;
            break;
        }
        names = more;
        names[n++] = copy;
    }
    closedir(dh);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (rc == MQC_OK)
            rc = load_conf(d, c, path, depth + 1);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Append the directives of path to c, include_dir followed in place. */
static int load_conf(struct doctor *d, struct mqc_mosqconf *c, const char *path, int depth)
{
    if (depth > 8) {
        fail(d, "include_dir nested too deeply at '%s'; remove the include loop", path);
        return MQC_EBADREQ;
    }
    char *text = read_file(path, NULL);
    if (!text) {
        fail(d, "cannot read config '%s': %s; pass the mosquitto.conf the broker runs with", path,
             strerror(errno));
        return MQC_ENOTFOUND;
    }
    struct mqc_mosqconf one = {0};
    int rc = mqc_mosqconf_parse(&one, text, path);
    free(text);
    for (size_t i = 0; rc == MQC_OK && i < one.n; i++) {
        const struct mqc_mosqconf_line *l = &one.v[i];
        if (!strcmp(l->key, "include_dir"))
            rc = load_dir(d, c, l->value, depth);
        else
            rc = mqc_mosqconf_add(c, l->key, l->value, l->file, l->line);
    }
    mqc_mosqconf_cleanup(&one);
    return rc;
}

/* Index of the plugin line loading mqchat (the one whose path names
 * mqchat, else the only plugin), and the end of its options; -1 if none. */
static long find_plugin(const struct mqc_mosqconf *c, size_t *opts_end)
{
    long found = -1, only = -1;
    int plugins = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->v[i].key, "plugin") && strcmp(c->v[i].key, "auth_plugin"))
            continue;
        plugins++;
        only = (long)i;
        const char *base = strrchr(c->v[i].value, '/');
        if (strstr(base ? base : c->v[i].value, "mqchat") && found < 0)
            found = (long)i;
    }
    if (found < 0 && plugins == 1)
        found = only;
    if (found < 0)
        return -1;
    size_t end = (size_t)found + 1;
    while (end < c->n && strcmp(c->v[end].key, "plugin") && strcmp(c->v[end].key, "auth_plugin"))
        end++;
    *opts_end = end;
    return found;
}

static bool is_elf(const char *path)
{
    unsigned char m[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(m, 1, 4, f);
    fclose(f);
    return n == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' && m[3] == 'F';
}

/* The installed mosquitto's "major.minor.patch" as a number, 0 unknown. */
static long mosquitto_version(void)
{
    FILE *p = popen("mosquitto -h 2>&1", "r");
    if (!p)
        return 0;
    char line[256];
    long v = 0;
    while (fgets(line, sizeof line, p)) {
        int a, b, c;
        const char *s = strstr(line, "version ");
        if (s && sscanf(s, "version %d.%d.%d", &a, &b, &c) == 3) {
            v = a * 10000L + b * 100L + c;
            break;
        }
    }
    pclose(p);
    return v;
}

/* Broker-wide settings: per_listener_settings, max_packet_size, and the
 * exposure of websockets listeners. */
static void check_broker(struct doctor *d, const struct mqc_mosqconf *c, long max_message_bytes)
{
    const char *pls = mqc_mosqconf_get(c, "per_listener_settings", 0, c->n);
    if (pls && !strcmp(pls, "true"))
        fail(d, "per_listener_settings is true: mosquitto 2.0.11 then never runs the plugin's "
                "tick, so nothing is stored or delivered; set per_listener_settings false");
    else
        ok(d, "per_listener_settings false");

    const char *mps = mqc_mosqconf_get(c, "max_packet_size", 0, c->n);
    long want = max_message_bytes + PACKET_OVERHEAD;
    if (!mps)
        fail(d,
             "max_packet_size is not set: any client may send 256 MB packets the broker "
             "buffers whole; set max_packet_size %ld (plugin_opt_max_message_bytes + %d)",
             want, PACKET_OVERHEAD);
    else if (atol(mps) < want)
        fail(d,
             "max_packet_size %s is below plugin_opt_max_message_bytes %ld + %d: largest "
             "allowed sends would be cut off; set max_packet_size %ld",
             mps, max_message_bytes, PACKET_OVERHEAD, want);
    else
        ok(d, "max_packet_size %s", mps);

    long version = -1;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->v[i].key, "listener"))
            continue;
        size_t end = i + 1;
        while (end < c->n && strcmp(c->v[end].key, "listener"))
            end++;
        const char *proto = mqc_mosqconf_get(c, "protocol", i + 1, end);
        if (!proto || strcmp(proto, "websockets"))
            continue;
        char port[16] = "", addr[256] = "";
        sscanf(c->v[i].value, "%15s %255s", port, addr);
        bool tls = mqc_mosqconf_get(c, "certfile", i + 1, end) != NULL;
        /* socket_domain ipv4: libwebsockets opens an IPv4 socket, which binds
         * to the address as given (docs/CONFIG.md, "Listeners"). */
        const char *domain = mqc_mosqconf_get(c, "socket_domain", i + 1, end);
        bool ipv4 = domain && !strcmp(domain, "ipv4");
        if (version < 0)
            version = mosquitto_version();
        if (addr[0] && strcmp(addr, "0.0.0.0") && strcmp(addr, "::") && ipv4)
            ok(d, "websockets listener %s bound to %s (socket_domain ipv4), %s", port, addr,
               tls ? "TLS" : "plain HTTP: put TLS in front of it for browsers");
        else if (addr[0] && strcmp(addr, "0.0.0.0") && strcmp(addr, "::") &&
                 (version == 0 || version <= 20011))
            fail(d,
                 "websockets listener %s is bound to %s, but mosquitto 2.0.11 ignores the "
                 "address of websockets listeners and listens on every interface; add "
                 "socket_domain ipv4 to the listener (an IPv4 address), or firewall port %s",
                 port, addr, port);
        else
            ok(d, "websockets listener %s on every interface, %s", port,
               tls ? "TLS" : "plain HTTP: put TLS in front of it for browsers");
    }
}

/* ---- Redis ---- */

struct prefixes {
    const char *ours;
    char other[256];
    long long users;
};

static void on_prefix(const char *prefix, long long users, void *ctx)
{
    struct prefixes *p = ctx;
    if (!strcmp(prefix, p->ours) || users <= p->users)
        return;
    snprintf(p->other, sizeof p->other, "%s", prefix);
    p->users = users;
}

/* One primary of a Redis Cluster: reachable, cluster_state ok, the
 * function library loaded (and this build's code). */
struct cluster_check {
    struct doctor *d;
    const struct mqc_config *cfg;
    int primaries;
};

static void check_primary(const char *host, int port, void *ctx)
{
    struct cluster_check *c = ctx;
    struct doctor *d = c->d;
    char err[256], v[256];
    c->primaries++;
    struct mqc_store_probe *p =
        mqc_store_probe_new(host, port, NULL, c->cfg->redis_password, 0,
                            (int)c->cfg->redis_timeout_ms, NULL, err, sizeof err);
    if (!p) {
        fail(d,
             "Redis Cluster primary %s:%d unreachable: %s; start it or wait for its "
             "replica to take over",
             host, port, err);
        return;
    }
    if (mqc_store_probe_cluster_state(p, v, sizeof v) == MQC_OK && !strcmp(v, "ok"))
        ok(d, "Redis Cluster primary %s:%d reachable, cluster state ok", host, port);
    else
        fail(d,
             "Redis Cluster primary %s:%d: cluster state is '%s': some slots are not served; "
             "fix the cluster (redis-cli --cluster check)",
             host, port, v);
    int rc = mqc_store_probe_library(p, v, sizeof v);
    if (rc == MQC_OK)
        ok(d, "function library %s loaded on %s:%d", v, host, port);
    else if (rc == MQC_EEXIST)
        fail(d, "function library on %s:%d is another mqchat's code; upgrade every node together",
             host, port);
    else
        fail(d,
             "function library not loaded on %s:%d; a broker loads it on every primary when it "
             "connects (start one)",
             host, port);
    mqc_store_probe_free(p);
}

/* A Redis Cluster config: the map from the seeds, then every primary. */
static void check_redis_cluster(struct doctor *d, const struct mqc_config *cfg)
{
    char err[256];
    struct cluster_check c = {d, cfg, 0};
    int down = 0;
    int rc = mqc_store_probe_cluster_primaries(cfg->redis_cluster_nodes, cfg->redis_password,
                                               (int)cfg->redis_timeout_ms, check_primary, &c, &down,
                                               err, sizeof err);
    if (rc != MQC_OK && !c.primaries)
        fail(d,
             "cannot load the Redis Cluster's slot map from %s: %s; start the nodes or fix "
             "plugin_opt_redis_cluster_nodes",
             cfg->redis_cluster_nodes, err);
    else
        ok(d, "Redis Cluster map loaded from the seeds: %d primaries", c.primaries);
}

/* Redis as the plugin will use it: reachable, version, function library,
 * AOF, clock, cluster state, users under the key prefix. */
static void check_redis(struct doctor *d, const struct mqc_config *cfg)
{
    char where[300], err[256], v[256];
    if (cfg->redis_cluster_nodes) {
        check_redis_cluster(d, cfg);
        return;
    }
    if (cfg->redis_unix)
        snprintf(where, sizeof where, "unix:%s", cfg->redis_unix);
    else
        snprintf(where, sizeof where, "%s:%ld", cfg->redis_host, cfg->redis_port);
    int auth_failed = 0;
    struct mqc_store_probe *p = mqc_store_probe_new(
        cfg->redis_host, (int)cfg->redis_port, cfg->redis_unix, cfg->redis_password,
        (int)cfg->redis_db, (int)cfg->redis_timeout_ms, &auth_failed, err, sizeof err);
    if (!p) {
        if (auth_failed)
            fail(d,
                 "Redis at %s refused the login: %s; fix plugin_opt_redis_password (or "
                 "plugin_opt_redis_db)",
                 where, err);
        else
            fail(d,
                 "cannot reach Redis at %s: %s; start redis-server or fix "
                 "plugin_opt_redis_host/port/unix",
                 where, err);
        return;
    }
    ok(d, "Redis at %s reachable%s", where, cfg->redis_password ? " (AUTH ok)" : "");

    if (mqc_store_probe_info(p, "server", "redis_version", v, sizeof v) != MQC_OK)
        fail(d, "Redis at %s did not tell its version (INFO server): %s; mqchat needs Redis 7",
             where, v);
    else if (atoi(v) < 7)
        fail(d, "Redis %s at %s: mqchat needs Redis 7 or later (functions); upgrade Redis", v,
             where);
    else
        ok(d, "Redis version %s", v);

    char lib[64];
    int rc = mqc_store_probe_library(p, lib, sizeof lib);
    if (rc == MQC_OK)
        ok(d, "function library %s loaded, this build's code", lib);
    else if (rc == MQC_ENOTFOUND)
        fail(d,
             "function library %s is not loaded in Redis: every send and request fails; "
             "restart mosquitto (the plugin loads it when it connects) and look for "
             "'cannot load functions' in its log",
             lib);
    else if (rc == MQC_EEXIST)
        fail(d,
             "function library %s in Redis differs from this build's: a broker of another "
             "mqchat version loaded it; run one version on every broker (restart them after "
             "the upgrade)",
             lib);
    else
        fail(d, "cannot list Redis functions (FUNCTION LIST) at %s; mqchat needs Redis 7", where);

    rc = mqc_store_probe_config(p, "appendonly", v, sizeof v);
    if (rc == MQC_OK && strcmp(v, "yes"))
        fail(d,
             "Redis appendonly is '%s': a Redis crash loses stored messages; set "
             "appendonly yes in redis.conf (and CONFIG SET appendonly yes)",
             v);
    else if (rc == MQC_OK) {
        char fsync[64] = "";
        mqc_store_probe_config(p, "appendfsync", fsync, sizeof fsync);
        if (!strcmp(fsync, "no"))
            warn(d, "Redis appendfsync no: the last ~30 s of messages can be lost in a power "
                    "failure; appendfsync everysec (1 s) or always (none) is safer");
        else
            ok(d, "Redis appendonly yes, appendfsync %s", fsync);
    } else
        warn(d, "cannot read Redis' AOF settings (CONFIG GET: %s); make sure appendonly is yes", v);

    int64_t rms, rtt;
    if (mqc_store_probe_time(p, &rms, &rtt) == MQC_OK) {
        int64_t skew = mqc_clock_wall_ms() - rtt / 2 - rms;
        int64_t abs_skew = skew < 0 ? -skew : skew;
        if (abs_skew > SKEW_MAX_MS + rtt / 2)
            fail(d,
                 "this machine's clock is %lld ms %s Redis': presence, retention and JWT "
                 "times go wrong; run NTP (chrony or systemd-timesyncd) on both machines",
                 (long long)abs_skew, skew > 0 ? "ahead of" : "behind");
        else
            ok(d, "clock within %lld ms of Redis'", (long long)abs_skew);
    } else
        fail(d, "Redis at %s did not answer TIME; check the server", where);

    if (mqc_store_probe_info(p, "cluster", "cluster_enabled", v, sizeof v) == MQC_OK &&
        !strcmp(v, "1")) {
        if (mqc_store_probe_cluster_state(p, v, sizeof v) == MQC_OK && !strcmp(v, "ok"))
            ok(d, "Redis cluster state ok");
        else
            fail(d,
                 "Redis cluster state is '%s': some slots are not served; fix the cluster "
                 "(redis-cli --cluster check)",
                 v);
    }

    long long users = 0;
    struct prefixes other = {.ours = cfg->key_prefix};
    if (mqc_store_probe_users(p, cfg->key_prefix, &users) != MQC_OK)
        fail(d, "cannot count the users under key prefix '%s'", cfg->key_prefix);
    else if (users > 0)
        ok(d, "%lld users under key prefix '%s'", users, cfg->key_prefix);
    else if (mqc_store_probe_prefixes(p, 1000000, on_prefix, &other) == MQC_OK && other.users)
        fail(d,
             "no users under key prefix '%s' but %lld under '%s': nobody can log in; set "
             "plugin_opt_key_prefix %s (or create users with mqchat --prefix %s user add)",
             cfg->key_prefix, other.users, other.other, other.other, cfg->key_prefix);
    else
        ok(d, "no users yet under key prefix '%s' (create them with mqchat user add)",
           cfg->key_prefix);
    char ver[32];
    if (mqc_store_probe_version(p, cfg->key_prefix, ver, sizeof ver) != MQC_OK)
        fail(d, "cannot read the store's layout version (GET %sversion)", cfg->key_prefix);
    else if (!strcmp(ver, "2"))
        ok(d, "store layout version %s (lazy fan-out)", ver);
    else if (users > 0)
        fail(d,
             "the store under key prefix '%s' was written by an older mqchat (layout version "
             "'%s'): brokers refuse it; stop them and mqchat-push, run mqchat store upgrade",
             cfg->key_prefix, ver[0] ? ver : "1");
    mqc_store_probe_free(p);
}

/* ---- the push bridge ---- */

static void check_apns(struct doctor *d, const struct mqc_bridge_config *b)
{
    if (!check_readable(d, "apns_key_file", b->apns_key_file, PUSH_USER, "apns_key_file"))
        return;
    EVP_PKEY *key = NULL;
    int rc = mqc_jwt_load_key_file(b->apns_key_file, &key);
    if (rc != MQC_OK || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
        fail(d,
             "apns_key_file '%s' is not an EC P-256 private key (PKCS#8 .p8); download the "
             "auth key from the Apple developer account again",
             b->apns_key_file);
    else
        ok(d, "apns_key_file is an EC P-256 key (key id %s, team %s)", b->apns_key_id,
           b->apns_team_id);
    EVP_PKEY_free(key);
}

static const char *json_str(const cJSON *j, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static void check_fcm(struct doctor *d, const struct mqc_bridge_config *b)
{
    const char *path = b->fcm_service_account_file;
    if (!check_readable(d, "fcm_service_account_file", path, PUSH_USER, "fcm_service_account_file"))
        return;
    size_t len = 0;
    char *text = read_file(path, &len);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    const char *pem = j ? json_str(j, "private_key") : NULL;
    const char *uri = j ? json_str(j, "token_uri") : NULL;
    EVP_PKEY *key = NULL;
    if (!j)
        fail(d,
             "fcm_service_account_file '%s' is not JSON; download the service account key "
             "from the Google Cloud console again",
             path);
    else if (!json_str(j, "project_id") || !json_str(j, "client_email") || !pem || !uri ||
             strncmp(uri, "https://", 8))
        fail(d,
             "fcm_service_account_file '%s' lacks project_id, client_email, private_key or "
             "an https token_uri; use the service account's JSON key file",
             path);
    else if (mqc_jwt_load_key_pem(pem, strlen(pem), &key) != MQC_OK ||
             EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
        fail(d,
             "fcm_service_account_file '%s': private_key is not a usable RSA key; create a "
             "new key for the service account",
             path);
    else
        ok(d, "fcm_service_account_file valid (project %s)", json_str(j, "project_id"));
    EVP_PKEY_free(key);
    cJSON_Delete(j);
    if (text) {
        memset(text, 0, len);
        free(text);
    }
}

static void check_push(struct doctor *d, const char *path, const struct mqc_config *cfg)
{
    struct mqc_bridge_config b;
    char err[512];
    if (mqc_bridge_config_init(&b) != MQC_OK) {
        fail(d, "out of memory");
        return;
    }
    if (mqc_bridge_config_load(&b, path, err, sizeof err) != MQC_OK ||
        mqc_bridge_config_finish(&b, err, sizeof err) != MQC_OK) {
        fail(d, "push config '%s': %s; fix that line", path, err);
        mqc_bridge_config_cleanup(&b);
        return;
    }
    ok(d, "push config '%s' parses", path);

    struct mqc_redis_url u;
    if (mqc_redis_url_parse(b.redis_url, &u) != MQC_OK) {
        fail(d, "push config: redis_url is not redis://host:port/db or unix:///path");
    } else {
        int auth_failed = 0;
        struct mqc_store_probe *p = mqc_store_probe_new(u.host, u.port, u.unix_path, u.password,
                                                        u.db, 2000, &auth_failed, err, sizeof err);
        if (p)
            ok(d, "push bridge's Redis reachable");
        else
            fail(d, "push bridge cannot %s Redis: %s; fix redis_url in '%s'",
                 auth_failed ? "log in to" : "reach", err, path);
        mqc_store_probe_free(p);
        mqc_redis_url_cleanup(&u);
    }
    if (strcmp(b.key_prefix, cfg->key_prefix))
        fail(d,
             "push config key_prefix '%s' differs from plugin_opt_key_prefix '%s': no push "
             "job reaches the bridge; set key_prefix %s",
             b.key_prefix, cfg->key_prefix, cfg->key_prefix);
    else
        ok(d, "push bridge key_prefix matches the plugin's");

    if (mqc_bridge_apns_enabled(&b))
        check_apns(d, &b);
    if (mqc_bridge_fcm_enabled(&b))
        check_fcm(d, &b);
    if (!mqc_bridge_apns_enabled(&b) && !mqc_bridge_fcm_enabled(&b))
        warn(d, "push config: neither APNs nor FCM is configured: no pushes are sent");
    mqc_bridge_config_cleanup(&b);
}

/* ---- the command ---- */

/* The plugin line, its file and its options. cfg is filled when true. */
static bool check_plugin(struct doctor *d, const struct mqc_mosqconf *c, struct mqc_config *cfg)
{
    size_t end = 0;
    long at = find_plugin(c, &end);
    if (at < 0) {
        fail(d, "no 'plugin' line loading mqchat_plugin.so; add plugin "
                "/usr/lib/mqchat/mqchat_plugin.so to the config");
        return false;
    }
    const struct mqc_mosqconf_line *pl = &c->v[at];
    /* Started as root, mosquitto drops to `user` (default mosquitto) before
     * it loads plugins. */
    const char *user = mqc_mosqconf_get(c, "user", 0, c->n);
    if (check_readable(d, "plugin", pl->value, user ? user : "mosquitto", "the plugin line") &&
        !is_elf(pl->value))
        fail(d,
             "plugin '%s' is not a shared library; point the plugin line at "
             "mqchat_plugin.so",
             pl->value);

    char err[512];
    if (mqc_config_init(cfg) != MQC_OK) {
        fail(d, "out of memory");
        return false;
    }
    int n = 0, bad = 0;
    for (size_t i = (size_t)at + 1; i < end; i++) {
        const struct mqc_mosqconf_line *l = &c->v[i];
        if (strncmp(l->key, "plugin_opt_", 11))
            continue;
        n++;
        if (mqc_config_set(cfg, l->key + 11, l->value, err, sizeof err) != MQC_OK) {
            fail(d, "%s:%d: %s; fix the value (see docs/CONFIG.md)", l->file, l->line, err);
            bad++;
        }
    }
    if (!bad && mqc_config_finish(cfg, err, sizeof err) != MQC_OK) {
        fail(d, "plugin options: %s; fix the value (see docs/CONFIG.md)", err);
        bad++;
    }
    if (bad) {
        mqc_config_cleanup(cfg);
        return false;
    }
    ok(d, "plugin options valid (%d set)", n);
    return true;
}

/* ---- attachments ---- */

/* The object store options: all of them or none (config finish checked
 * that), and a secret key file the broker's user can read and that holds a
 * line. The store itself is not contacted. */
static void check_attach(struct doctor *d, const struct mqc_mosqconf *c,
                         const struct mqc_config *cfg)
{
    if (!cfg->s3_endpoint) {
        ok(d, "attachments off (no plugin_opt_s3_endpoint): upload/download answer unavailable");
        return;
    }
    const char *user = mqc_mosqconf_get(c, "user", 0, c->n);
    if (!check_readable(d, "s3 secret key file", cfg->s3_secret_key_file, user ? user : "mosquitto",
                        "plugin_opt_s3_secret_key_file"))
        return;
    size_t len = 0;
    char *text = read_file(cfg->s3_secret_key_file, &len);
    bool empty = !text || strspn(text, " \t\r\n") == len;
    if (text)
        OPENSSL_cleanse(text, len);
    free(text);
    if (empty) {
        fail(d, "s3 secret key file '%s' is empty; put the store's secret access key in it",
             cfg->s3_secret_key_file);
        return;
    }
    ok(d, "attachments in %s (bucket %s, %s-style, URLs valid %lds, at most %ld bytes)",
       cfg->s3_endpoint, cfg->s3_bucket, cfg->s3_path_style ? "path" : "virtual-host",
       cfg->url_seconds, cfg->max_upload_bytes);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mqchat doctor --config MOSQUITTO_CONF [--push-config PUSH_CONF]\n");
}

int mqc_cli_doctor(const struct mqc_cli *cli, int argc, char **argv)
{
    (void)cli; /* Redis and the prefix come from the config, not the options */
    const char *conf = NULL, *push = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            conf = argv[++i];
        else if (!strcmp(argv[i], "--push-config") && i + 1 < argc)
            push = argv[++i];
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mqchat doctor: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!conf) {
        usage(stderr);
        return 2;
    }
    struct doctor d = {0};
    struct mqc_mosqconf c = {0};
    struct mqc_config cfg;
    bool have_cfg = false;
    if (load_conf(&d, &c, conf, 0) == MQC_OK) {
        ok(&d, "config '%s' parses (%zu directives)", conf, c.n);
        have_cfg = check_plugin(&d, &c, &cfg);
        check_broker(&d, &c, have_cfg ? cfg.max_message_bytes : 65536);
        if (have_cfg)
            check_attach(&d, &c, &cfg);
        if (have_cfg)
            check_redis(&d, &cfg);
        if (have_cfg && push)
            check_push(&d, push, &cfg);
    }
    if (have_cfg)
        mqc_config_cleanup(&cfg);
    mqc_mosqconf_cleanup(&c);
    printf("%d failed, %d warnings\n", d.fails, d.warns);
    return d.fails ? 1 : 0;
}
