/* APNs and FCM over HTTP/2 with libcurl (see sender.h). */
#include "bridge/sender.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/jwt.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#define PAYLOAD_MAX 4096
#define FCM_SCOPE "https://www.googleapis.com/auth/firebase.messaging"

struct growbuf {
    char *data;
    size_t len;
};

struct request {
    CURL *easy;
    struct curl_slist *headers;
    char *url, *body;
    struct growbuf resp;
    char retry_after[64];
    bool apns, auth_retried;
    char token_prefix[9];
    mqc_sender_done cb;
    void *ctx;
    struct mqc_sender *s;
    char *apns_topic, *collapse; /* for rebuilding headers */
    int64_t expiration;
};

struct mqc_sender {
    const struct mqc_bridge_config *cfg;
    CURLM *multi;
    int in_flight;
    /* APNs */
    EVP_PKEY *apns_key;
    char *apns_jwt;
    int64_t apns_jwt_at;
    /* FCM */
    EVP_PKEY *fcm_key;
    char *fcm_project, *fcm_email, *fcm_token_uri;
    char *fcm_access;
    int64_t fcm_access_until;
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

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got < 4096)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static int load_service_account(struct mqc_sender *s, const char *path)
{
    char *text = read_file(path);
    if (!text) {
        mqc_log(MQC_LOG_ERR, "sender: cannot read fcm_service_account_file (path=%s)", path);
        return MQC_EBADREQ;
    }
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(j, "project_id");
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(j, "private_key");
    const cJSON *email = cJSON_GetObjectItemCaseSensitive(j, "client_email");
    const cJSON *uri = cJSON_GetObjectItemCaseSensitive(j, "token_uri");
    int rc = MQC_EBADREQ;
    if (cJSON_IsString(pid) && cJSON_IsString(key) && cJSON_IsString(email) &&
        cJSON_IsString(uri) && strncmp(uri->valuestring, "https://", 8) == 0 &&
        mqc_jwt_load_key_pem(key->valuestring, strlen(key->valuestring), &s->fcm_key) ==
            MQC_OK) {
        s->fcm_project = strdup(pid->valuestring);
        s->fcm_email = strdup(email->valuestring);
        s->fcm_token_uri = strdup(uri->valuestring);
        rc = (s->fcm_project && s->fcm_email && s->fcm_token_uri) ? MQC_OK : MQC_ENOMEM;
    } else {
        mqc_log(MQC_LOG_ERR, "sender: service account JSON lacks project_id, private_key, "
                             "client_email or an https token_uri (path=%s)", path);
    }
    cJSON_Delete(j);
    return rc;
}

struct mqc_sender *mqc_sender_new(const struct mqc_bridge_config *cfg)
{
    struct mqc_sender *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = cfg;
    s->multi = curl_multi_init();
    if (!s->multi)
        goto fail;
    curl_multi_setopt(s->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 4L);
    if (mqc_bridge_apns_enabled(cfg) &&
        mqc_jwt_load_key_file(cfg->apns_key_file, &s->apns_key) != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "sender: cannot load the APNs key (path=%s)", cfg->apns_key_file);
        goto fail;
    }
    if (mqc_bridge_fcm_enabled(cfg) &&
        load_service_account(s, cfg->fcm_service_account_file) != MQC_OK)
        goto fail;
    return s;
fail:
    mqc_sender_free(s);
    return NULL;
}

void mqc_sender_free(struct mqc_sender *s)
{
    if (!s)
        return;
    if (s->multi)
        curl_multi_cleanup(s->multi);
    EVP_PKEY_free(s->apns_key);
    EVP_PKEY_free(s->fcm_key);
    free(s->apns_jwt);
    free(s->fcm_project);
    free(s->fcm_email);
    free(s->fcm_token_uri);
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
    return s->fcm_key != NULL;
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

/* Fetch an OAuth2 access token for FCM (blocking, bounded by the request
 * timeout; the token lives an hour). */
static const char *fcm_access(struct mqc_sender *s, bool force)
{
    int64_t now = mqc_clock_wall_ms();
    if (!force && s->fcm_access && now < s->fcm_access_until)
        return s->fcm_access;
    char *claims = NULL, *jwt = NULL;
    int64_t iat = now / 1000;
    if (mqc_jwt_google_claims(s->fcm_email, FCM_SCOPE, s->fcm_token_uri, iat, iat + 3600,
                              &claims) != MQC_OK ||
        mqc_jwt_rs256(s->fcm_key, claims, &jwt) != MQC_OK) {
        free(claims);
        mqc_log(MQC_LOG_ERR, "sender: cannot sign the FCM OAuth assertion");
        return NULL;
    }
    free(claims);
    CURL *e = curl_easy_init();
    struct growbuf resp = {0};
    char *form = NULL;
    const char *result = NULL;
    if (!e)
        goto out;
    char *enc = curl_easy_escape(e, jwt, 0);
    size_t flen = strlen(enc ? enc : "") + 128;
    form = malloc(flen);
    if (!enc || !form) {
        curl_free(enc);
        goto out;
    }
    snprintf(form, flen, "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer"
                         "&assertion=%s", enc);
    curl_free(enc);
    curl_easy_setopt(e, CURLOPT_URL, s->fcm_token_uri);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, s->cfg->request_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    tls_opts(s, e);
    CURLcode cc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK || status != 200) {
        mqc_log(MQC_LOG_ERR, "sender: OAuth token request failed: %s (status=%ld)",
                cc != CURLE_OK ? curl_easy_strerror(cc) : "refused", status);
        goto out;
    }
    cJSON *j = cJSON_Parse(resp.data ? resp.data : "");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "access_token");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
    if (cJSON_IsString(tok)) {
        free(s->fcm_access);
        s->fcm_access = strdup(tok->valuestring);
        int64_t life = cJSON_IsNumber(exp) ? (int64_t)exp->valuedouble : 3600;
        s->fcm_access_until = now + (life > 120 ? life - 60 : life / 2) * 1000;
        result = s->fcm_access;
    } else {
        mqc_log(MQC_LOG_ERR, "sender: OAuth reply has no access_token");
    }
    cJSON_Delete(j);
out:
    free(form);
    free(jwt);
    free(resp.data);
    if (e)
        curl_easy_cleanup(e);
    return result;
}

/* (Re)build the request headers with the current credentials. */
static int build_headers(struct request *r, bool force_auth)
{
    struct mqc_sender *s = r->s;
    char h[8192];
    curl_slist_free_all(r->headers);
    r->headers = NULL;
    struct curl_slist *l = NULL;
    if (r->apns) {
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
    } else {
        const char *tok = fcm_access(s, force_auth);
        if (!tok)
            return MQC_EUNAVAIL;
        snprintf(h, sizeof h, "authorization: Bearer %s", tok);
        l = curl_slist_append(l, h);
    }
    l = curl_slist_append(l, "content-type: application/json");
    if (!l)
        return MQC_ENOMEM;
    r->headers = l;
    return MQC_OK;
}

static void request_free(struct request *r)
{
    if (!r)
        return;
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->url);
    free(r->body);
    free(r->resp.data);
    free(r->apns_topic);
    free(r->collapse);
    free(r);
}

static int start(struct request *r)
{
    struct mqc_sender *s = r->s;
    if (r->easy) {
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    free(r->resp.data);
    r->resp.data = NULL;
    r->resp.len = 0;
    r->retry_after[0] = '\0';
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
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, s->cfg->request_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    tls_opts(s, e);
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK)
        return MQC_ENOMEM;
    return MQC_OK;
}

int mqc_sender_submit(struct mqc_sender *s, const struct mqc_push_job *job,
                      const struct mqc_push_device *dev, mqc_sender_done cb, void *ctx)
{
    bool apns = strcmp(dev->platform, "apns") == 0;
    if ((apns && !s->apns_key) || (!apns && !s->fcm_key))
        return MQC_ENOTFOUND;
    struct request *r = calloc(1, sizeof *r);
    if (!r)
        return MQC_ENOMEM;
    r->s = s;
    r->cb = cb;
    r->ctx = ctx;
    r->apns = apns;
    snprintf(r->token_prefix, sizeof r->token_prefix, "%.8s", dev->token);
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
                 s->fcm_project);
        r->body = mqc_fcm_payload(job, dev->token, PAYLOAD_MAX);
    }
    if (!r->body)
        goto nomem;
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
    char reason[128] = "";
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(s->multi, r->easy);
    if (cc != CURLE_OK) {
        status = 0;
        snprintf(reason, sizeof reason, "%s", curl_easy_strerror(cc));
    }
    const char *body = r->resp.data ? r->resp.data : "";
    enum mqc_push_outcome o = cc != CURLE_OK ? MQC_PUSH_RETRY
                              : r->apns     ? mqc_apns_outcome(status, body, reason, sizeof reason)
                                            : mqc_fcm_outcome(status, body, reason, sizeof reason);
    if (o == MQC_PUSH_REFRESH_AUTH && !r->auth_retried) {
        /* Expired credentials: refresh once and send again right away. */
        r->auth_retried = true;
        mqc_log(MQC_LOG_NOTICE, "sender: refreshing %s credentials (%s)",
                r->apns ? "APNs" : "FCM", reason);
        if (build_headers(r, true) == MQC_OK && start(r) == MQC_OK)
            return;
        o = MQC_PUSH_RETRY;
    } else if (o == MQC_PUSH_REFRESH_AUTH) {
        o = MQC_PUSH_RETRY;
    }
    int64_t after = mqc_retry_after_ms(r->retry_after[0] ? r->retry_after : NULL,
                                       mqc_clock_wall_ms());
    s->in_flight--;
    r->cb(r->ctx, o, status, reason, after);
    request_free(r);
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
        if (r)
            finished(s, r, m->data.result);
    }
}
