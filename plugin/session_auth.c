/* Device session token logins at CONNECT (PROTOCOL.md "Device sessions"):
 * no password hash, one Redis read and a keyed hash compare. The read is the
 * same short blocking HGET the password path makes for the user's argon2id
 * hash (2.0.11 has no deferred auth); what the broker thread spends on it is
 * measured in docs/BENCHMARKS.md. last_used is written back at most once an
 * hour per session, queued with the next pipeline. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/session_token.h"
#include "plugin/plugin.h"

/* How stale last_used may be before a login writes it back. */
#define TOUCH_EVERY_MS (3600 * 1000LL)

int mqc_plugin__session_key_load(struct mqc_plugin *p)
{
    if (p->sess_key_ok)
        return MQC_OK;
    if (p->cfg.session_secret) {
        mqc_sess_key(p->cfg.session_secret, p->sess_key);
        p->sess_key_ok = true;
        return MQC_OK;
    }
    char fresh[MQC_SESS_SECRET_LEN + 1], kept[512];
    mqc_sess_key_text_new(fresh);
    int rc = mqc_store_session_secret(p->store, fresh, kept, sizeof kept);
    sodium_memzero(fresh, sizeof fresh);
    if (rc != MQC_OK)
        return rc;
    mqc_sess_key(kept, p->sess_key);
    sodium_memzero(kept, sizeof kept);
    p->sess_key_ok = true;
    return MQC_OK;
}

int mqc_plugin__session_check(struct mqc_plugin *p, const char *user, const char *token,
                              char *device)
{
    struct mqc_sess_token t;
    if (mqc_sess_parse(token, strlen(token), &t) != MQC_OK) {
        mqc_log(MQC_LOG_INFO, "auth: refused: malformed session token (user=%s)", user);
        return MQC_EAUTH;
    }
    int rc = mqc_plugin__session_key_load(p);
    char text[MQC_SESS_RECORD_MAX];
    if (rc == MQC_OK)
        rc = mqc_plugin__session_record(p, user, t.device, text, sizeof text);
    if (rc == MQC_ENOTFOUND) {
        mqc_log(MQC_LOG_INFO, "auth: refused: no such session (user=%s device=%s)", user, t.device);
        return MQC_EAUTH;
    }
    if (rc != MQC_OK)
        return rc;
    struct mqc_sess_record r;
    char hash[MQC_SESS_HASH_LEN + 1];
    if (mqc_sess_record_parse(text, strlen(text), &r) != MQC_OK) {
        mqc_log(MQC_LOG_WARNING, "auth: refused: damaged session record (user=%s device=%s)", user,
                t.device);
        return MQC_EAUTH;
    }
    mqc_sess_hash(p->sess_key, user, &t, hash);
    sodium_memzero(&t.secret, sizeof t.secret);
    if (!mqc_sess_hash_equal(hash, r.hash)) {
        mqc_log(MQC_LOG_INFO, "auth: refused: wrong session token (user=%s device=%s)", user,
                t.device);
        return MQC_EAUTH;
    }
    int64_t now = mqc_clock_wall_ms();
    if (r.expires <= now) {
        mqc_log(MQC_LOG_INFO, "auth: refused: session expired (user=%s device=%s)", user, t.device);
        return MQC_EAUTH;
    }
    if (now - r.last_used >= TOUCH_EVERY_MS && !p->reloading &&
        mqc_store_session_touch(p->store, user, t.device, r.hash, now) != MQC_OK)
        mqc_log(MQC_LOG_WARNING, "auth: cannot queue last_used (user=%s)", user);
    memcpy(device, t.device, sizeof t.device);
    return MQC_OK;
}
