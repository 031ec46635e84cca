/* MOSQ_EVT_BASIC_AUTH: username = user id, password checked against the
 * argon2id hash in Redis. 2.0.11 has no connect event and no deferred auth, so
 * this runs synchronously on the broker thread: one short Redis read per
 * connect, and argon2id only when the (user, hash, password) triple was not
 * verified recently. Redis down = refused (fail closed) without a CONNACK, so
 * clients retry rather than report a wrong password. */
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/password.h"
#include "plugin/plugin.h"

int mqc_plugin_on_basic_auth(int event, void *event_data, void *userdata)
{
    (void)event;
    struct mosquitto_evt_basic_auth *ed = event_data;
    struct mqc_plugin *p = userdata;
    const char *user = ed->username, *pw = ed->password;
    const char *cid = mosquitto_client_id(ed->client);
    char hash[MQC_PASSWORD_HASH_MAX];

    if (!mqc_id_valid_str(user) || !pw || !*pw) {
        mqc_log(MQC_LOG_INFO, "auth: refused: missing or invalid username or password (client=%s)",
                cid ? cid : "");
        return MOSQ_ERR_AUTH;
    }
    size_t pwlen = strlen(pw);
    int64_t now = mqc_clock_mono_ms();
    int rc = mqc_store_ensure(p->store, now);
    if (rc == MQC_OK && !p->node_reset_done) {
        /* Nobody may be shown present by this node before its stale records
         * are cleared; otherwise the reset could wipe a fresh login. */
        mqc_plugin__presence_node_reset(p);
        if (!p->node_reset_done)
            rc = MQC_EUNAVAIL;
    }
    if (rc == MQC_OK)
        rc = mqc_store_user_hash(p->store, user, hash, sizeof hash);
    if (rc == MQC_EUNAVAIL) {
        mqc_log(MQC_LOG_WARNING, "auth: refused: redis unavailable: %s (user=%s client=%s)",
                mqc_store_last_error(p->store), user, cid ? cid : "");
        return MOSQ_ERR_UNKNOWN;
    }
    if (rc != MQC_OK) {
        mqc_log(MQC_LOG_INFO, "auth: refused: unknown user (user=%s client=%s)", user,
                cid ? cid : "");
        return MOSQ_ERR_AUTH;
    }
    if (!mqc_authcache_check(p->auth, user, hash, pw, pwlen, now)) {
        if (!mqc_password_verify(hash, pw, pwlen)) {
            mqc_log(MQC_LOG_INFO, "auth: refused: wrong password (user=%s client=%s)", user,
                    cid ? cid : "");
            return MOSQ_ERR_AUTH;
        }
        mqc_authcache_remember(p->auth, user, hash, pw, pwlen, mqc_clock_mono_ms());
    }
    /* Success is the connect: 2.0.11 has no connect event. */
    mqc_plugin__presence_connected(p, ed->client, user);
    return MOSQ_ERR_SUCCESS;
}
