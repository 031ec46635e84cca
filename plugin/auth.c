/* MOSQ_EVT_BASIC_AUTH: username = user id; password = the user's password,
 * checked against the argon2id hash in Redis, a device session token
 * (plugin/session_auth.c), or (when a JWT option is set) a signed token
 * whose sub is the user id. 2.0.11 has no connect event and no
 * deferred auth, so this answers synchronously on the broker thread: one
 * short Redis call per connect, and argon2id only when the (user, hash,
 * password) triple was not verified recently; under a login storm argon2id
 * moves to worker threads (core/authwork.h) and the client is told to retry.
 * Redis down or busy = refused without a CONNACK (fail closed), so clients
 * retry rather than report a wrong password. Logins are paced per loop pass
 * (plugin/login_pace.c): over the pass's budget, or while Redis is behind,
 * the same busy answer. */
#include <stdint.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "core/jwtauth.h"
#include "core/log.h"
#include "core/password.h"
#include "core/session_token.h"
#include "plugin/metrics.h"
#include "plugin/plugin.h"

/* Redis reachable and this node's stale presence cleared: the precondition of
 * every login. MQC_OK or MQC_EUNAVAIL. */
static int store_ready(struct mqc_plugin *p, int64_t now)
{
    int rc = mqc_store_ensure(p->store, now);
    if (rc == MQC_OK && !p->node_reset_done) {
        /* Nobody may be shown present by this node before its stale records
         * are cleared; otherwise the reset could wipe a fresh login. */
        mqc_plugin__presence_node_reset(p);
        if (!p->node_reset_done)
            rc = MQC_EUNAVAIL;
    }
    return rc;
}

/* A token for user: its signature and claims, then the user record it
 * vouches for (created when missing). */
static int check_token(struct mqc_plugin *p, const char *user, const char *token)
{
    const char *why = "";
    int rc = mqc_jwtauth_verify(p->jwt, token, user, mqc_clock_wall_ms() / 1000, &why);
    if (rc != MQC_OK) {
        mqc_log(MQC_LOG_INFO, "auth: refused: token %s (user=%s)", why ? why : "", user);
        return rc;
    }
    return mqc_store_user_ensure(p->store, user, mqc_clock_wall_ms());
}

/* Checks on the broker thread per pass while workers are idle: a lone login
 * is answered at once; beyond that, checks go to the workers. */
#define SYNC_VERIFIES_PER_PASS 1

/* Count user's checks queued for the workers (the map's values are counts
 * stored as pointers). */
static void pending_add(struct mqc_plugin *p, const char *user, intptr_t delta)
{
    if (!p->auth_pending)
        return;
    intptr_t n = (intptr_t)mqc_map_get(p->auth_pending, user) + delta;
    if (n <= 0)
        mqc_map_del(p->auth_pending, user);
    else if (mqc_map_put(p->auth_pending, user, (void *)n) != MQC_OK)
        mqc_log(MQC_LOG_ERR, "auth: out of memory counting queued checks");
}

/* Whether this password check may run on the broker thread now. */
static bool verify_here(const struct mqc_plugin *p)
{
    /* A SIGHUP re-check must answer now: "busy" would drop the session. */
    if (!p->authwork || p->reloading)
        return true;
    return p->sync_verifies < SYNC_VERIFIES_PER_PASS && mqc_authwork_pending(p->authwork) == 0;
}

/* A password for user against the stored hash: through the caches, then on
 * the broker thread or, under load, handed to the workers (MQC_EUNAVAIL: the
 * client is closed without a CONNACK and its retry finds the verdict). */
static int check_password(struct mqc_plugin *p, const char *user, const char *pw)
{
    /* A retry while the user's check is still queued: busy again, without
     * asking Redis (clients retrying in a storm must cost next to nothing). */
    if (p->auth_pending && mqc_map_get(p->auth_pending, user)) {
        mqc_plugin__metric_busy("password_check");
        return MQC_EBUSY;
    }
    char hash[MQC_PASSWORD_HASH_MAX];
    int rc = mqc_store_user_hash(p->store, user, hash, sizeof hash);
    if (rc == MQC_ENOTFOUND) {
        mqc_log(MQC_LOG_INFO, "auth: refused: unknown user or no password set (user=%s)", user);
        return MQC_EAUTH;
    }
    if (rc != MQC_OK)
        return rc;
    size_t pwlen = strlen(pw);
    int64_t now = mqc_clock_mono_ms();
    if (mqc_authcache_check(p->auth, user, hash, pw, pwlen, now))
        return MQC_OK;
    if (mqc_authcache_check(p->auth_fresh, user, hash, pw, pwlen, now)) {
        mqc_authcache_forget(p->auth_fresh, user); /* one-shot */
        return MQC_OK;
    }
    if (mqc_authcache_check(p->auth_bad, user, hash, pw, pwlen, now)) {
        mqc_log(MQC_LOG_INFO, "auth: refused: wrong password (user=%s)", user);
        return MQC_EAUTH;
    }
    if (!verify_here(p)) {
        rc = mqc_authwork_submit(p->authwork, user, hash, pw, pwlen);
        if (rc == MQC_OK)
            pending_add(p, user, 1);
        mqc_plugin__metric_busy("password_check");
        mqc_log(MQC_LOG_DEBUG, "auth: busy: password check %s (user=%s)",
                rc == MQC_OK || rc == MQC_EEXIST ? "queued for a worker" : "queue full", user);
        return MQC_EBUSY;
    }
    p->sync_verifies++;
    /* The one inline argon2id of a pass (~12 ms) is bounded by
     * SYNC_VERIFIES_PER_PASS, not by the login budget: charged, it would
     * spend the budget at once and pace every other login of the pass. */
    int64_t v0 = mqc_plugin__login_clock_ns();
    bool good = mqc_password_verify(hash, pw, pwlen);
    p->login_uncharged_ns += mqc_plugin__login_clock_ns() - v0;
    if (!good) {
        mqc_log(MQC_LOG_INFO, "auth: refused: wrong password (user=%s)", user);
        return MQC_EAUTH;
    }
    mqc_authcache_remember(p->auth, user, hash, pw, pwlen, mqc_clock_mono_ms());
    return MQC_OK;
}

static void take_verdict(void *ctx, const char *user, const char *stored, const char *pw,
                         size_t pwlen, bool ok)
{
    struct mqc_plugin *p = ctx;
    pending_add(p, user, -1);
    int64_t now = mqc_clock_mono_ms();
    if (ok) {
        mqc_authcache_remember(p->auth, user, stored, pw, pwlen, now);
        mqc_authcache_remember(p->auth_fresh, user, stored, pw, pwlen, now);
    } else {
        mqc_authcache_remember(p->auth_bad, user, stored, pw, pwlen, now);
    }
}

void mqc_plugin__auth_tick(struct mqc_plugin *p)
{
    p->sync_verifies = 0;
    mqc_plugin__login_pace_tick(p);
    mqc_plugin__session_prefetch_tick(p, mqc_clock_mono_ms(), false);
    if (p->authwork)
        mqc_authwork_drain(p->authwork, take_verdict, p);
}

static int basic_auth(int event, void *event_data, void *userdata)
{
    (void)event;
    struct mosquitto_evt_basic_auth *ed = event_data;
    struct mqc_plugin *p = userdata;
    const char *user = ed->username, *pw = ed->password;
    const char *cid = mosquitto_client_id(ed->client);

    if (!mqc_id_valid_str(user) || !pw || !*pw) {
        mqc_log(MQC_LOG_INFO, "auth: refused: missing or invalid username or password (client=%s)",
                cid ? cid : "");
        return MOSQ_ERR_AUTH;
    }
    if (!mqc_plugin__client_id_free_for(p, ed->client, cid, user)) {
        mqc_log(MQC_LOG_NOTICE,
                "auth: refused: client id in use by another user's connection "
                "(user=%s client=%s)",
                user, cid);
        return MOSQ_ERR_AUTH;
    }
    /* Pacing: before any Redis call, so a refused login costs next to
     * nothing (plugin/login_pace.c). */
    if (!mqc_plugin__login_admit(p))
        return MOSQ_ERR_UNKNOWN; /* closed without CONNACK: the client retries */
    char sess[MQC_SESS_DEVICE_LEN + 1] = "";
    int rc = store_ready(p, mqc_clock_mono_ms());
    if (rc == MQC_OK && mqc_sess_is_token(pw, strlen(pw)))
        rc = mqc_plugin__session_check(p, user, pw, sess);
    else if (rc == MQC_OK)
        rc = p->jwt && mqc_jwtauth_is_token(pw) ? check_token(p, user, pw)
                                                : check_password(p, user, pw);
    if (rc == MQC_EBUSY)
        return MOSQ_ERR_UNKNOWN; /* closed without CONNACK: the client retries */
    if (rc == MQC_EUNAVAIL) {
        mqc_log(MQC_LOG_WARNING, "auth: refused: redis unavailable: %s (user=%s client=%s)",
                mqc_store_last_error(p->store), user, cid ? cid : "");
        return MOSQ_ERR_UNKNOWN;
    }
    if (rc != MQC_OK)
        return MOSQ_ERR_AUTH;
    /* Success is the connect: 2.0.11 has no connect event. */
    mqc_plugin__client_id_hold(p, ed->client, cid, user, sess);
    mqc_plugin__presence_connected(p, ed->client, user);
    mqc_plugin__wake_client(ed->client, true);
    return MOSQ_ERR_SUCCESS;
}

/* The login counters wrap the decision (a SIGHUP's re-checks are not
 * logins). */
int mqc_plugin_on_basic_auth(int event, void *event_data, void *userdata)
{
    struct mosquitto_evt_basic_auth *ed = event_data;
    struct mqc_plugin *p = userdata;
    int64_t t0 = mqc_plugin__login_clock_ns();
    int rc = basic_auth(event, event_data, userdata);
    mqc_plugin__login_charge(p, mqc_plugin__login_clock_ns() - t0 - p->login_uncharged_ns);
    p->login_uncharged_ns = 0;
    const char *pw = ed->password;
    bool sess = pw && mqc_sess_is_token(pw, strlen(pw));
    bool jwt = !sess && p->jwt && pw && mqc_jwtauth_is_token(pw);
    if (!p->reloading)
        mqc_plugin__metric_login(sess ? "token" : jwt ? "jwt" : "password", rc);
    return rc;
}
