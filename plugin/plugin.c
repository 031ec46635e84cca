/* Plugin entry points: version negotiation, init (options -> config table,
 * store, caches, callbacks) and cleanup. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/password.h"
#include "plugin/metrics.h"
#include "plugin/plugin.h"

#define AUTH_CACHE_SLOTS 32768
#define AUTH_VERDICT_SLOTS 4096
#define AUTH_VERDICT_MS 60000
#define AUTH_QUEUE_MAX 4096
#define TYPING_SLOTS 65536
#define TYPING_PER_SECOND 4
#define RATE_SLOTS 65536

static void log_sink(enum mqc_log_level level, const char *line)
{
    static const int map[] = {MOSQ_LOG_DEBUG, MOSQ_LOG_INFO, MOSQ_LOG_NOTICE, MOSQ_LOG_WARNING,
                              MOSQ_LOG_ERR};
    mosquitto_log_printf(map[level], "mqchat: %s", line);
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
    for (int i = 0; i < supported_version_count; i++) {
        if (supported_versions[i] == 5)
            return 5;
    }
    return -1;
}

/* The JWT verifier, when a JWT option is set. */
static int load_jwt(struct mqc_plugin *p)
{
    const struct mqc_config *c = &p->cfg;
    if (!c->jwt_secret && !c->jwt_public_key) {
        if (c->jwt_issuer || c->jwt_audience)
            mqc_log(MQC_LOG_WARNING, "config: plugin_opt_jwt_issuer/audience set without "
                                     "plugin_opt_jwt_secret or plugin_opt_jwt_public_key: "
                                     "JWT passwords stay off");
        return MQC_OK;
    }
    struct mqc_jwtauth_opts jo = {
        .secret = c->jwt_secret,
        .public_key_path = c->jwt_public_key,
        .issuer = c->jwt_issuer,
        .audience = c->jwt_audience,
        .leeway_s = c->jwt_leeway_seconds,
    };
    char err[512];
    int rc = mqc_jwtauth_new(&jo, &p->jwt, err, sizeof err);
    if (rc != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "config: %s", err);
        return rc;
    }
    if (c->jwt_secret && strlen(c->jwt_secret) < 32)
        mqc_log(MQC_LOG_WARNING, "config: plugin_opt_jwt_secret is shorter than 32 bytes: "
                                 "HS256 tokens signed with it can be brute-forced");
    mqc_log(MQC_LOG_NOTICE, "auth: JWT passwords accepted (%s%s%s)", c->jwt_secret ? "HS256" : "",
            c->jwt_secret && c->jwt_public_key ? ", " : "", c->jwt_public_key ? "public key" : "");
    return MQC_OK;
}

static int load_config(struct mqc_plugin *p, struct mosquitto_opt *opts, int count)
{
    char err[512];
    if (mqc_config_init(&p->cfg) != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "config: out of memory");
        return MQC_ENOMEM;
    }
    for (int i = 0; i < count; i++) {
        if (mqc_config_set(&p->cfg, opts[i].key, opts[i].value, err, sizeof err) != MQC_OK) {
            mqc_log(MQC_LOG_ERR, "config: %s", err);
            return MQC_EBADREQ;
        }
    }
    if (mqc_config_finish(&p->cfg, err, sizeof err) != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "config: %s", err);
        return MQC_EBADREQ;
    }
    return load_jwt(p);
}

static void plugin_free(struct mqc_plugin *p)
{
    if (!p)
        return;
    mqc_plugin__metrics_stop();
    mqc_store_free(p->store);
    mqc_plugin__cluster_cleanup(p); /* first: joins the bus thread */
    mqc_authwork_free(p->authwork); /* joins the workers */
    mqc_authcache_free(p->auth);
    mqc_authcache_free(p->auth_fresh);
    mqc_authcache_free(p->auth_bad);
    mqc_plugin__replies_free(p);
    mqc_plugin__client_ids_free(p);
    mqc_map_free(p->auth_pending);
    mqc_jwtauth_free(p->jwt);
    mqc_members_free(p->members);
    mqc_ratelimit_free(p->typing);
    mqc_ratelimit_free(p->rate_msgs);
    mqc_ratelimit_free(p->rate_bytes);
    mqc_ratelimit_free(p->rate_reqs);
    mqc_presence_free(p->presence);
    mqc_contacts_free(p->contacts);
    mqc_plugin__contacts_tick(p, true);
    mqc_plugin__session_prefetch_tick(p, 0, true);
    mqc_map_free(p->sess_prefetch);
    mqc_map_free(p->contacts_loading); /* after the store: failing its jobs frees the loads */
    while (p->startup_offline) {
        struct mqc_node_offline *o = p->startup_offline;
        p->startup_offline = o->next;
        free(o);
    }
    mqc_plugin__attach_cleanup(p);
    mqc_config_cleanup(&p->cfg);
    free(p);
}

static int register_all(struct mqc_plugin *p)
{
    int rc =
        mosquitto_callback_register(p->id, MOSQ_EVT_BASIC_AUTH, mqc_plugin_on_basic_auth, NULL, p);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_callback_register(p->id, MOSQ_EVT_ACL_CHECK, mqc_plugin_on_acl_check, NULL,
                                         p);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_callback_register(p->id, MOSQ_EVT_MESSAGE, mqc_plugin_on_message, NULL, p);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_callback_register(p->id, MOSQ_EVT_TICK, mqc_plugin_on_tick, NULL, p);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_callback_register(p->id, MOSQ_EVT_DISCONNECT, mqc_plugin_on_disconnect, NULL,
                                         p);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_callback_register(p->id, MOSQ_EVT_RELOAD, mqc_plugin_on_reload, NULL, p);
    return rc;
}

static void unregister_all(struct mqc_plugin *p)
{
    mosquitto_callback_unregister(p->id, MOSQ_EVT_BASIC_AUTH, mqc_plugin_on_basic_auth, NULL);
    mosquitto_callback_unregister(p->id, MOSQ_EVT_ACL_CHECK, mqc_plugin_on_acl_check, NULL);
    mosquitto_callback_unregister(p->id, MOSQ_EVT_MESSAGE, mqc_plugin_on_message, NULL);
    mosquitto_callback_unregister(p->id, MOSQ_EVT_TICK, mqc_plugin_on_tick, NULL);
    mosquitto_callback_unregister(p->id, MOSQ_EVT_DISCONNECT, mqc_plugin_on_disconnect, NULL);
    mosquitto_callback_unregister(p->id, MOSQ_EVT_RELOAD, mqc_plugin_on_reload, NULL);
}

/* What Mosquitto 2.0 hands a plugin as its identifier (struct
 * mosquitto_plugin_id_t in src/mosquitto_broker_internal.h, the same in every
 * 2.0.x release): the listener the plugin was loaded for, which is NULL
 * unless per_listener_settings is true (then the plugin is loaded once per
 * listener: src/security.c, mosquitto_security_module_init). */
struct mosq_plugin_id {
    const void *listener;
};

/* per_listener_settings true: 2.0.11 then never fires MOSQ_EVT_TICK (fixed
 * in 2.0.15), so nothing queued for Redis would ever be answered, and each
 * listener would load its own copy of the plugin. Refuse to start. */
static bool loaded_per_listener(const mosquitto_plugin_id_t *id)
{
    return id && ((const struct mosq_plugin_id *)(const void *)id)->listener != NULL;
}

/* Tests only (cfg.test_crash_after_member_steps): die between the
 * conversation step of a membership change and the users' index steps. */
static void crash_member_step(const char *conv, void *ctx)
{
    struct mqc_plugin *p = ctx;
    (void)conv;
    if (++p->test_member_steps >= p->cfg.test_crash_after_member_steps)
        raise(SIGKILL);
}

/* The store (and the cluster bus) as the config says. Returns a MOSQ_ERR_*. */
static int open_store(struct mqc_plugin *p)
{
    const struct mqc_config *c = &p->cfg;
    struct mqc_store_opts so = {
        .host = c->redis_host,
        .port = (int)c->redis_port,
        .unix_path = c->redis_unix,
        .password = c->redis_password,
        .db = (int)c->redis_db,
        .prefix = c->key_prefix,
        .timeout_ms = (int)c->redis_timeout_ms,
        .retry_ms = (int)c->redis_retry_ms,
        .timeline_cap = c->timeline_max,
        .retention_ms = c->retention_seconds > 0 ? (int64_t)c->retention_seconds * 1000
                                                 : (int64_t)c->retention_days * 24 * 3600 * 1000,
        .push_preview = c->push_preview,
        .node = c->node_id,
        .check_version = true,
        .cluster_nodes = c->redis_cluster_nodes,
        .wait_replicas = (int)c->redis_wait_replicas,
    };
    if (!(p->store = mqc_store_new(&so)))
        return MOSQ_ERR_NOMEM;
    if (c->test_crash_after_member_steps > 0)
        mqc_store_set_member_step_hook(p->store, crash_member_step, p);
    if (mqc_plugin__cluster_init(p, &so) != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "plugin: cannot start the cluster bus");
        return MOSQ_ERR_UNKNOWN;
    }
    return MOSQ_ERR_SUCCESS;
}

/* Password caches and the verification threads. Returns a MOSQ_ERR_*. */
static int start_auth(struct mqc_plugin *p)
{
    p->auth = mqc_authcache_new(AUTH_CACHE_SLOTS, p->cfg.auth_cache_seconds * 1000);
    p->auth_fresh = mqc_authcache_new(AUTH_VERDICT_SLOTS, AUTH_VERDICT_MS);
    p->auth_bad = mqc_authcache_new(AUTH_VERDICT_SLOTS, AUTH_VERDICT_MS);
    p->auth_pending = mqc_map_new();
    if (!p->auth || !p->auth_fresh || !p->auth_bad || !p->auth_pending)
        return MOSQ_ERR_NOMEM;
    if (p->cfg.auth_threads > 0 &&
        !(p->authwork = mqc_authwork_new((int)p->cfg.auth_threads, AUTH_QUEUE_MAX))) {
        mqc_log(MQC_LOG_ERR, "plugin: cannot start %ld password verification thread(s)",
                p->cfg.auth_threads);
        return MOSQ_ERR_UNKNOWN;
    }
    return MOSQ_ERR_SUCCESS;
}

/* The in-memory state of connections and conversations. Returns a
 * MOSQ_ERR_*. */
static int make_state(struct mqc_plugin *p)
{
    p->members = mqc_members_new();
    p->client_ids = mqc_map_new();
    p->typing = mqc_ratelimit_new(TYPING_SLOTS, TYPING_PER_SECOND, 1000);
    p->rate_msgs = mqc_ratelimit_new(RATE_SLOTS, (uint64_t)p->cfg.rate_msgs, 1000);
    p->rate_bytes = mqc_ratelimit_new(RATE_SLOTS, (uint64_t)p->cfg.rate_bytes, 1000);
    p->rate_reqs = mqc_ratelimit_new(RATE_SLOTS, (uint64_t)p->cfg.rate_reqs, 1000);
    p->presence = mqc_presence_new(p->cfg.presence_grace_ms);
    p->contacts = mqc_contacts_new();
    p->contacts_loading = mqc_map_new();
    p->sess_prefetch = mqc_map_new();
    if (!p->members || !p->client_ids || !p->typing || !p->presence || !p->contacts ||
        !p->contacts_loading || !p->sess_prefetch || !p->rate_msgs || !p->rate_bytes ||
        !p->rate_reqs)
        return MOSQ_ERR_NOMEM;
    p->acl.other = &p->cfg.other_filters;
    mqc_plugin__members_init(p);
    return MOSQ_ERR_SUCCESS;
}

/* Everything but the callbacks, in order. Returns a MOSQ_ERR_*; p is freed
 * by the caller on failure. */
static int plugin_start(struct mqc_plugin *p, struct mosquitto_opt *opts, int count)
{
    if (load_config(p, opts, count) != MQC_OK)
        return MOSQ_ERR_INVAL;
    int rc = open_store(p);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = start_auth(p);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = make_state(p);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mqc_plugin__attach_init(p);
    if (rc == MOSQ_ERR_SUCCESS)
        /* Redis may be down at start: the broker still starts, refuses
         * logins and reconnects when Redis returns. */
        mqc_plugin__presence_node_reset(p);
    if (rc == MOSQ_ERR_SUCCESS && mqc_store_needs_upgrade(p->store)) {
        /* A store written by an older mqchat: reading it with this code
         * would lose events (no message counts, timelines ignored). */
        mqc_log(MQC_LOG_ERR, "plugin: the Redis store was written by an older mqchat; stop "
                             "every broker and mqchat-push, run `mqchat store upgrade`, then "
                             "start them again");
        rc = MOSQ_ERR_INVAL;
    }
    return rc;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *id, void **userdata, struct mosquitto_opt *opts,
                          int count)
{
    mqc_log_set_sink(log_sink);
    if (loaded_per_listener(id)) {
        mqc_log(MQC_LOG_ERR, "config: per_listener_settings true is not supported: Mosquitto "
                             "2.0.11 never runs the plugin's tick then, so chat requests would "
                             "never be answered; set per_listener_settings false");
        return MOSQ_ERR_INVAL;
    }
    if (mqc_password_init() != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "plugin: libsodium failed to initialise");
        return MOSQ_ERR_UNKNOWN;
    }
    struct mqc_plugin *p = calloc(1, sizeof *p);
    if (!p)
        return MOSQ_ERR_NOMEM;
    p->id = id;
    int rc = plugin_start(p, opts, count);
    if (rc == MOSQ_ERR_SUCCESS && (rc = register_all(p)) != MOSQ_ERR_SUCCESS) {
        mqc_log(MQC_LOG_ERR, "plugin: cannot register callbacks");
        unregister_all(p);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        plugin_free(p);
        return rc;
    }
    mqc_log(MQC_LOG_NOTICE, "plugin: started (node=%s prefix=%s)", p->cfg.node_id,
            p->cfg.key_prefix);
    *userdata = p;
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int count)
{
    (void)opts;
    (void)count;
    struct mqc_plugin *p = userdata;
    if (p) {
        unregister_all(p);
        /* Finish what the last pass queued rather than drop it. */
        mqc_store_flush(p->store, mqc_clock_mono_ms());
        plugin_free(p);
    }
    return MOSQ_ERR_SUCCESS;
}
