/* APNs and FCM over HTTP/2 with libcurl (see sender.h). Every transfer,
 * the FCM OAuth token request included, runs on the one multi handle: the
 * loop never blocks on the network. FCM requests that need an access token
 * wait (parked) until the token request in flight answers; when it fails
 * they finish as retries carrying its reason. Failures are logged per class
 * at most once a minute (faillog.h), with the reason. */
#include "bridge/sender.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/faillog.h"
#include "bridge/fcm_auth.h"
#include "bridge/jwt.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#define PAYLOAD_MAX 4096
/* A failure class is logged at most this often (with a count of the rest). */
#define FAILLOG_INTERVAL_MS 60000
/* After a failed OAuth token request, FCM sends fail at once (with its
 * reason) for this long before the next token request is made. */
#define OAUTH_RETRY_MS 1000

struct growbuf {
    char *data;
    size_t len;
};

enum req_kind { REQ_APNS, REQ_FCM, REQ_OAUTH };

struct request {
    CURL *easy;
    struct curl_slist *headers;
    char *url, *body;
    struct growbuf resp;
    char retry_after[64];
    char errbuf[CURL_ERROR_SIZE];
    enum req_kind kind;
    bool auth_retried;
    mqc_sender_done cb;
    void *ctx;
    struct mqc_sender *s;
    char *apns_topic, *collapse; /* for rebuilding headers */
    int64_t expiration;
    struct request *next; /* in the parked list */
};

struct mqc_sender {
    const struct mqc_bridge_config *cfg;
    CURLM *multi;
    int in_flight; /* APNs and FCM requests, parked ones included */
    struct mqc_faillog faillog;
    /* APNs */
    EVP_PKEY *apns_key;
    char *apns_jwt;
    int64_t apns_jwt_at;
    /* FCM */
    bool fcm_on;
    struct mqc_fcm_account fcm;
    char *fcm_access;
    int64_t fcm_access_until; /* wall ms */
    struct request *oauth;    /* token request in flight, or NULL */
    struct request *parked;   /* FCM requests waiting for a token */
    int64_t oauth_retry_at;   /* mono ms: no new token request before */
    char oauth_err[256];      /* why the last token request failed */
};

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    struct growbuf *b = ud;
    size_t add = size * n;
    if (b->len + add > 65536)
        return add; /* error bodies are small; ignore the rest */
    char *p = realloc(b->data, b->len + add + 1);
    if (!p)
        return 0;
    memcpy(p + b->len, ptr, add);
    b->len += add;
    p[b->len] = '\0';
    b->data = p;
    return add;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    struct request *r = ud;
    size_t len = size * n;
    if (len > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
        size_t v = 12;
        while (v < len && buf[v] == ' ')
            v++;
        size_t end = len;
        while (end > v && (buf[end - 1] == '\r' || buf[end - 1] == '\n'))
            end--;
        snprintf(r->retry_after, sizeof r->retry_after, "%.*s", (int)(end - v), buf + v);
    }
    return len;
}

/* Log a failure of class cls (borrowed) unless one was logged in the last
 * interval; what and detail (borrowed) say what failed and why. */
static void log_failure(struct mqc_sender *s, const char *cls, const char *what, const char *detail)
{
    long quiet = 0;
    if (!mqc_faillog_note(&s->faillog, cls, mqc_clock_mono_ms(), &quiet))
        return;
    if (quiet > 0)
        mqc_log(MQC_LOG_ERR, "sender: %s: %s (and %ld more %s failures since the last report)",
                what, detail, quiet, cls);
    else
        mqc_log(MQC_LOG_ERR, "sender: %s: %s", what, detail);
}

/* Load the APNs key and the FCM service account; a file that cannot be
 * used is reported naming the config line and key. */
static int load_credentials(struct mqc_sender *s, char *err, size_t errlen)
{
    const struct mqc_bridge_config *cfg = s->cfg;
    char where[600];
    if (mqc_bridge_apns_enabled(cfg)) {
        errno = 0;
        int rc = mqc_jwt_load_key_file(cfg->apns_key_file, &s->apns_key);
        int e = errno;
        if (rc != MQC_OK) {
            mqc_bridge_config_where(cfg, "apns_key_file", where, sizeof where);
            if (rc == MQC_ENOTFOUND)
                snprintf(err, errlen, "%s: cannot read '%s': %s", where, cfg->apns_key_file,
                         e ? strerror(e) : "read error");
            else
                snprintf(err, errlen,
                         "%s: '%s' is not an EC P-256 private key in PEM (the .p8 file "
                         "from Apple)",
                         where, cfg->apns_key_file);
            return rc;
        }
        if (EVP_PKEY_get_base_id(s->apns_key) != EVP_PKEY_EC) {
            mqc_bridge_config_where(cfg, "apns_key_file", where, sizeof where);
            snprintf(err, errlen, "%s: '%s' is not an EC P-256 private key in PEM", where,
                     cfg->apns_key_file);
            return MQC_EBADREQ;
        }
    }
    if (mqc_bridge_fcm_enabled(cfg)) {
        char why[400] = "";
        int rc = mqc_fcm_account_load(cfg->fcm_service_account_file, &s->fcm, why, sizeof why);
        if (rc != MQC_OK) {
            mqc_bridge_config_where(cfg, "fcm_service_account_file", where, sizeof where);
            snprintf(err, errlen, "%s: %s", where, why);
            return rc;
        }
        s->fcm_on = true;
    }
    return MQC_OK;
}

struct mqc_sender *mqc_sender_new(const struct mqc_bridge_config *cfg, char *err, size_t errlen)
{
    struct mqc_sender *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    mqc_faillog_init(&s->faillog, FAILLOG_INTERVAL_MS);
    s->multi = curl_multi_init();
    if (!s->multi) {
        snprintf(err, errlen, "cannot initialise libcurl");
        goto fail;
    }
    curl_multi_setopt(s->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 4L);
    if (load_credentials(s, err, errlen) != MQC_OK)
        goto fail;
    return s;
fail:
    mqc_sender_free(s);
    return NULL;
}

static void request_free(struct request *r)
{
    if (!r)
        return;
    if (r->easy) {
        if (r->s)
            curl_multi_remove_handle(r->s->multi, r->easy); /* fine if not added */
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->headers);
    if (r->kind == REQ_OAUTH && r->body)
        sodium_memzero(r->body, strlen(r->body)); /* holds a signed assertion */
    free(r->url);
    free(r->body);
    if (r->resp.data)
        sodium_memzero(r->resp.data, r->resp.len); /* may hold an access token */
    free(r->resp.data);
    free(r->apns_topic);
    free(r->collapse);
    free(r);
}

void mqc_sender_free(struct mqc_sender *s)
{
    if (!s)
        return;
    /* Requests still in flight or parked at exit are simply dropped: their
     * jobs stay pending in Redis and are sent after a restart. */
    request_free(s->oauth);
    while (s->parked) {
        struct request *r = s->parked;
        s->parked = r->next;
        request_free(r);
    }
    if (s->multi)
        curl_multi_cleanup(s->multi);
    EVP_PKEY_free(s->apns_key);
    free(s->apns_jwt);
    mqc_fcm_account_cleanup(&s->fcm);
    if (s->fcm_access) {
        sodium_memzero(s->fcm_access, strlen(s->fcm_access));
        free(s->fcm_access);
    }
    free(s);
}

bool mqc_sender_apns(const struct mqc_sender *s)
{
    return s->apns_key != NULL;
}

bool mqc_sender_fcm(const struct mqc_sender *s)
{
    return s->fcm_on;
}

int mqc_sender_in_flight(const struct mqc_sender *s)
{
    return s->in_flight;
}

/* TLS: always verified; ca_file adds to the system store. */
static void tls_opts(const struct mqc_sender *s, CURL *e)
{
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (s->cfg->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, s->cfg->ca_file);
        curl_easy_setopt(e, CURLOPT_CAPATH, "/etc/ssl/certs");
    }
}

static const char *apns_jwt(struct mqc_sender *s, bool force)
{
    int64_t now = mqc_clock_mono_ms();
    int64_t age = now - s->apns_jwt_at;
    /* Forced refreshes (ExpiredProviderToken) of a token younger than a
     * minute reuse it: APNs refuses updates more often than every 20 min. */
    if (s->apns_jwt && (force ? age < 60000 : age < s->cfg->apns_token_refresh_seconds * 1000))
        return s->apns_jwt;
    char *jwt = NULL;
    if (mqc_jwt_es256(s->apns_key, s->cfg->apns_key_id, s->cfg->apns_team_id,
                      mqc_clock_wall_ms() / 1000, &jwt) != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "sender: cannot sign the APNs provider token");
        return s->apns_jwt;
    }
    free(s->apns_jwt);
    s->apns_jwt = jwt;
    s->apns_jwt_at = now;
    return jwt;
}

/* The FCM access token if it is still good, else NULL. */
static const char *fcm_token(const struct mqc_sender *s)
{
    return s->fcm_access && mqc_clock_wall_ms() < s->fcm_access_until ? s->fcm_access : NULL;
}

static void fcm_token_drop(struct mqc_sender *s)
{
    if (s->fcm_access) {
        sodium_memzero(s->fcm_access, strlen(s->fcm_access));
        free(s->fcm_access);
    }
    s->fcm_access = NULL;
    s->fcm_access_until = 0;
}

/* (Re)build the request headers with the current credentials (for FCM the
 * access token must be there: see fcm_token()). */
static int build_headers(struct request *r, bool force_auth)
{
    struct mqc_sender *s = r->s;
    char h[8192];
    curl_slist_free_all(r->headers);
    r->headers = NULL;
    struct curl_slist *l = NULL;
    if (r->kind == REQ_APNS) {
        const char *jwt = apns_jwt(s, force_auth);
        if (!jwt)
            return MQC_EUNAVAIL;
        unsigned char u[16];
        randombytes_buf(u, sizeof u);
        u[6] = (u[6] & 0x0f) | 0x40;
        u[8] = (u[8] & 0x3f) | 0x80;
        char hex[33];
        sodium_bin2hex(hex, sizeof hex, u, sizeof u);
        snprintf(h, sizeof h, "apns-id: %.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
                 hex + 16, hex + 20);
        l = curl_slist_append(l, h);
        snprintf(h, sizeof h, "authorization: bearer %s", jwt);
        l = curl_slist_append(l, h);
        snprintf(h, sizeof h, "apns-topic: %s", r->apns_topic);
        l = curl_slist_append(l, h);
        l = curl_slist_append(l, "apns-push-type: alert");
        l = curl_slist_append(l, "apns-priority: 10");
        snprintf(h, sizeof h, "apns-expiration: %lld", (long long)r->expiration);
        l = curl_slist_append(l, h);
        snprintf(h, sizeof h, "apns-collapse-id: %s", r->collapse);
        l = curl_slist_append(l, h);
        l = curl_slist_append(l, "content-type: application/json");
    } else if (r->kind == REQ_FCM) {
        const char *tok = fcm_token(s);
        if (!tok)
            return MQC_EUNAVAIL;
        snprintf(h, sizeof h, "authorization: Bearer %s", tok);
        l = curl_slist_append(l, h);
        sodium_memzero(h, sizeof h);
        l = curl_slist_append(l, "content-type: application/json");
    } else {
        l = curl_slist_append(l, "content-type: application/x-www-form-urlencoded");
    }
    if (!l)
        return MQC_ENOMEM;
    r->headers = l;
    return MQC_OK;
}

/* Put r's transfer (again) on the multi handle. */
static int start(struct request *r)
{
    struct mqc_sender *s = r->s;
    if (r->easy) {
        curl_multi_remove_handle(s->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    free(r->resp.data);
    r->resp.data = NULL;
    r->resp.len = 0;
    r->retry_after[0] = '\0';
    r->errbuf[0] = '\0';
    CURL *e = r->easy = curl_easy_init();
    if (!e)
        return MQC_ENOMEM;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &r->resp);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, s->cfg->request_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    tls_opts(s, e);
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK)
        return MQC_ENOMEM;
    return MQC_OK;
}

/* The final word on r: tell the caller, then free r. */
static void complete(struct request *r, enum mqc_push_outcome o, long status, const char *reason,
                     const char *detail, int64_t retry_after_ms)
{
    struct mqc_sender *s = r->s;
    s->in_flight--;
    r->cb(r->ctx, o, status, reason, detail, retry_after_ms);
    request_free(r);
}

/* OAuth token requests: start one (the assertion signed now). */
static int oauth_start(struct mqc_sender *s)
{
    struct request *r = calloc(1, sizeof *r);
    if (!r)
        return MQC_ENOMEM;
    r->s = s;
    r->kind = REQ_OAUTH;
    int rc = MQC_ENOMEM;
    if (!(r->url = strdup(s->fcm.token_uri)))
        goto fail;
    rc = mqc_fcm_token_form(&s->fcm, mqc_clock_wall_ms() / 1000, &r->body);
    if (rc != MQC_OK) {
        snprintf(s->oauth_err, sizeof s->oauth_err, "cannot sign the OAuth assertion: %s",
                 mqc_err_str(rc));
        goto fail;
    }
    if ((rc = build_headers(r, false)) != MQC_OK || (rc = start(r)) != MQC_OK) {
        snprintf(s->oauth_err, sizeof s->oauth_err, "out of memory");
        goto fail;
    }
    s->oauth = r;
    return MQC_OK;
fail:
    request_free(r);
    return rc;
}

/* Every parked FCM request: started with the new token, or (when fail is
 * set, the token request's failure) finished as a retry carrying it. */
static void release_parked(struct mqc_sender *s, const char *fail)
{
    struct request *list = s->parked;
    s->parked = NULL;
    char detail[320];
    if (fail)
        snprintf(detail, sizeof detail, "FCM OAuth token request failed: %s", fail);
    while (list) {
        struct request *r = list;
        list = r->next;
        r->next = NULL;
        if (!fail && build_headers(r, false) == MQC_OK && start(r) == MQC_OK)
            continue;
        complete(r, MQC_PUSH_RETRY, 0, fail ? "oauth_failed" : "start_failed",
                 fail ? detail : "FCM request could not be started (out of memory)", -1);
    }
}

static void oauth_finished(struct mqc_sender *s, struct request *r, CURLcode cc)
{
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    s->oauth = NULL;
    char *tok = NULL;
    int64_t life = 0;
    int rc = MQC_EUNAVAIL;
    if (cc != CURLE_OK)
        snprintf(s->oauth_err, sizeof s->oauth_err, "%s",
                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
    else
        rc = mqc_fcm_token_reply(status, r->resp.data, &tok, &life, s->oauth_err,
                                 sizeof s->oauth_err);
    request_free(r);
    if (rc == MQC_OK) {
        fcm_token_drop(s);
        s->fcm_access = tok;
        s->fcm_access_until = mqc_clock_wall_ms() + life;
        s->oauth_err[0] = '\0';
        release_parked(s, NULL);
        return;
    }
    s->oauth_retry_at = mqc_clock_mono_ms() + OAUTH_RETRY_MS;
    log_failure(s, "FCM OAuth", "FCM OAuth token request failed", s->oauth_err);
    release_parked(s, s->oauth_err);
}

/* Parked requests and no token: ask for one, or, shortly after a failed
 * request, fail them with its reason (they are retried with backoff).
 * may_finish false: only start a token request, never call back (for
 * mqc_sender_submit(), whose callbacks must come later). */
static void oauth_kick(struct mqc_sender *s, bool may_finish)
{
    if (!s->parked || s->oauth)
        return;
    if (fcm_token(s)) {
        if (may_finish)
            release_parked(s, NULL);
        return;
    }
    if (mqc_clock_mono_ms() >= s->oauth_retry_at) {
        if (oauth_start(s) == MQC_OK)
            return;
        s->oauth_retry_at = mqc_clock_mono_ms() + OAUTH_RETRY_MS;
        log_failure(s, "FCM OAuth", "FCM OAuth token request failed", s->oauth_err);
    }
    if (!may_finish)
        return;
    if (!s->oauth_err[0])
        snprintf(s->oauth_err, sizeof s->oauth_err, "no token yet");
    release_parked(s, s->oauth_err);
}

static void park(struct mqc_sender *s, struct request *r)
{
    r->next = s->parked;
    s->parked = r;
}

int mqc_sender_submit(struct mqc_sender *s, const struct mqc_push_job *job,
                      const struct mqc_push_device *dev, mqc_sender_done cb, void *ctx)
{
    bool apns = strcmp(dev->platform, "apns") == 0;
    if ((apns && !s->apns_key) || (!apns && !s->fcm_on))
        return MQC_ENOTFOUND;
    struct request *r = calloc(1, sizeof *r);
    if (!r)
        return MQC_ENOMEM;
    r->s = s;
    r->cb = cb;
    r->ctx = ctx;
    r->kind = apns ? REQ_APNS : REQ_FCM;
    size_t ulen = strlen(dev->token) + 512;
    r->url = malloc(ulen);
    if (!r->url)
        goto nomem;
    if (apns) {
        const char *base = dev->sandbox ? s->cfg->apns_sandbox_base_url : s->cfg->apns_base_url;
        snprintf(r->url, ulen, "%s/3/device/%s", base, dev->token);
        r->body = mqc_apns_payload(job, PAYLOAD_MAX);
        r->apns_topic = strdup(dev->app);
        r->collapse = strdup(job->conv);
        r->expiration = job->ts / 1000 + s->cfg->job_ttl_seconds;
        if (!r->apns_topic || !r->collapse)
            goto nomem;
    } else {
        snprintf(r->url, ulen, "%s/v1/projects/%s/messages:send", s->cfg->fcm_base_url,
                 s->fcm.project);
        r->body = mqc_fcm_payload(job, dev->token, PAYLOAD_MAX);
    }
    if (!r->body)
        goto nomem;
    if (!apns && !fcm_token(s)) {
        park(s, r); /* started by oauth_kick() once there is a token */
        s->in_flight++;
        oauth_kick(s, false);
        return MQC_OK;
    }
    int rc = build_headers(r, false);
    if (rc == MQC_OK)
        rc = start(r);
    if (rc != MQC_OK) {
        request_free(r);
        return rc == MQC_EUNAVAIL ? MQC_EUNAVAIL : MQC_ENOMEM;
    }
    s->in_flight++;
    return MQC_OK;
nomem:
    request_free(r);
    return MQC_ENOMEM;
}

static void finished(struct mqc_sender *s, struct request *r, CURLcode cc)
{
    long status = 0;
    char reason[128] = "", detail[CURL_ERROR_SIZE + 160];
    const char *svc = r->kind == REQ_APNS ? "APNs" : "FCM";
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(s->multi, r->easy);
    if (cc != CURLE_OK) {
        status = 0;
        /* The counter key: curl's short text; the detail: its error buffer. */
        snprintf(reason, sizeof reason, "%s", curl_easy_strerror(cc));
    }
    const char *body = r->resp.data ? r->resp.data : "";
    enum mqc_push_outcome o = cc != CURLE_OK ? MQC_PUSH_RETRY
                              : r->kind == REQ_APNS
                                  ? mqc_apns_outcome(status, body, reason, sizeof reason)
                                  : mqc_fcm_outcome(status, body, reason, sizeof reason);
    if (cc != CURLE_OK)
        snprintf(detail, sizeof detail, "%s", r->errbuf[0] ? r->errbuf : reason);
    else
        snprintf(detail, sizeof detail, "HTTP %ld %s", status, reason);
    if (o == MQC_PUSH_REFRESH_AUTH && !r->auth_retried) {
        /* Expired credentials: refresh once and send again right away. */
        r->auth_retried = true;
        mqc_log(MQC_LOG_NOTICE, "sender: refreshing %s credentials (%s)", svc, reason);
        if (r->kind == REQ_FCM) {
            fcm_token_drop(s);
            park(s, r);
            oauth_kick(s, true);
            return;
        }
        if (build_headers(r, true) == MQC_OK && start(r) == MQC_OK)
            return;
        o = MQC_PUSH_RETRY;
    } else if (o == MQC_PUSH_REFRESH_AUTH) {
        o = MQC_PUSH_RETRY;
    }
    if (o == MQC_PUSH_RETRY || o == MQC_PUSH_FAILED) {
        char cls[32], what[64];
        snprintf(cls, sizeof cls, "%s %s", svc, cc != CURLE_OK ? "transport" : "refused");
        snprintf(what, sizeof what, "%s request %s", svc,
                 o == MQC_PUSH_RETRY ? "failed" : "refused for good");
        log_failure(s, cls, what, detail);
    }
    int64_t after =
        mqc_retry_after_ms(r->retry_after[0] ? r->retry_after : NULL, mqc_clock_wall_ms());
    complete(r, o, status, reason, detail, after);
}

void mqc_sender_run(struct mqc_sender *s, int timeout_ms)
{
    int running = 0;
    curl_multi_perform(s->multi, &running);
    if (s->in_flight > 0)
        curl_multi_poll(s->multi, NULL, 0, timeout_ms, NULL);
    curl_multi_perform(s->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct request *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (!r)
            continue;
        if (r->kind == REQ_OAUTH)
            oauth_finished(s, r, m->data.result);
        else
            finished(s, r, m->data.result);
    }
    oauth_kick(s, true);
}
