/* Service account, token request and token reply for FCM (see
 * fcm_auth.h). Everything read from the file or the network is checked;
 * reasons are copied as printable ASCII (they end up in logs). */
#include "bridge/fcm_auth.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/jwt.h"
#include "core/err.h"

/* Service-account files are a few KB; token replies smaller still. */
#define MAX_ACCOUNT_BYTES (256 * 1024)
#define MAX_REPLY_BYTES 65536

static const char *str_member(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

int mqc_fcm_account_parse(const char *text, size_t len, struct mqc_fcm_account *out, char *why,
                          size_t whylen)
{
    memset(out, 0, sizeof *out);
    cJSON *j = cJSON_ParseWithLength(text, len);
    int rc = MQC_EBADREQ;
    if (!cJSON_IsObject(j)) {
        snprintf(why, whylen, "is not JSON (a service-account key file is a JSON object)");
        goto out;
    }
    static const char *const need[] = {"project_id", "private_key", "client_email", "token_uri"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (!str_member(j, need[i])) {
            snprintf(why, whylen, "lacks %s (a string)", need[i]);
            goto out;
        }
    }
    const char *uri = str_member(j, "token_uri"), *pem = str_member(j, "private_key");
    if (strncmp(uri, "https://", 8) != 0) {
        snprintf(why, whylen, "has a token_uri that is not https://");
        goto out;
    }
    rc = mqc_jwt_load_key_pem(pem, strlen(pem), &out->key);
    if (rc == MQC_OK && EVP_PKEY_get_base_id(out->key) != EVP_PKEY_RSA)
        rc = MQC_EBADREQ;
    if (rc != MQC_OK) {
        if (rc != MQC_ENOMEM)
            snprintf(why, whylen, "has a private_key that is not an RSA private key in PEM");
        goto out;
    }
    out->project = strdup(str_member(j, "project_id"));
    out->email = strdup(str_member(j, "client_email"));
    out->token_uri = strdup(uri);
    rc = out->project && out->email && out->token_uri ? MQC_OK : MQC_ENOMEM;
out:
    if (rc == MQC_ENOMEM)
        snprintf(why, whylen, "out of memory");
    if (rc != MQC_OK)
        mqc_fcm_account_cleanup(out);
    cJSON_Delete(j);
    return rc;
}

int mqc_fcm_account_load(const char *path, struct mqc_fcm_account *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whylen, "cannot read '%s': %s", path, strerror(errno));
        return MQC_ENOTFOUND;
    }
    char *buf = malloc(MAX_ACCOUNT_BYTES + 1);
    int rc;
    char reason[200] = "";
    if (!buf) {
        snprintf(why, whylen, "out of memory");
        fclose(f);
        return MQC_ENOMEM;
    }
    size_t n = fread(buf, 1, MAX_ACCOUNT_BYTES + 1, f);
    if (ferror(f)) {
        snprintf(why, whylen, "cannot read '%s': %s", path, strerror(errno));
        rc = MQC_ENOTFOUND;
    } else if (n > MAX_ACCOUNT_BYTES) {
        snprintf(why, whylen, "'%s' is larger than %d bytes", path, MAX_ACCOUNT_BYTES);
        rc = MQC_EBADREQ;
    } else {
        rc = mqc_fcm_account_parse(buf, n, out, reason, sizeof reason);
        if (rc != MQC_OK)
            snprintf(why, whylen, "'%s' %s", path, reason);
    }
    OPENSSL_cleanse(buf, MAX_ACCOUNT_BYTES + 1);
    free(buf);
    fclose(f); /* read-only: nothing to lose on a close error */
    return rc;
}

void mqc_fcm_account_cleanup(struct mqc_fcm_account *a)
{
    if (!a)
        return;
    EVP_PKEY_free(a->key);
    free(a->project);
    free(a->email);
    free(a->token_uri);
    memset(a, 0, sizeof *a);
}

int mqc_fcm_token_form(const struct mqc_fcm_account *a, int64_t now_s, char **out)
{
    char *claims = NULL, *jwt = NULL;
    *out = NULL;
    int rc =
        mqc_jwt_google_claims(a->email, MQC_FCM_SCOPE, a->token_uri, now_s, now_s + 3600, &claims);
    if (rc == MQC_OK)
        rc = mqc_jwt_rs256(a->key, claims, &jwt);
    free(claims);
    if (rc != MQC_OK)
        return rc;
    /* A JWT is base64url and dots: nothing in it needs form escaping. */
    static const char grant[] =
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
    size_t len = sizeof grant + strlen(jwt);
    if ((*out = malloc(len)))
        snprintf(*out, len, "%s%s", grant, jwt);
    free(jwt);
    return *out ? MQC_OK : MQC_ENOMEM;
}

/* Copy src (borrowed) into dst as printable ASCII, at most n bytes of it. */
static void printable(char *dst, size_t dstlen, const char *src, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; src && src[i] && i < n && o + 1 < dstlen; i++)
        dst[o++] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
    if (dstlen)
        dst[o] = '\0';
}

int mqc_fcm_token_reply(long status, const char *body, char **token, int64_t *life_ms, char *why,
                        size_t whylen)
{
    *token = NULL;
    size_t n = body ? strnlen(body, MAX_REPLY_BYTES + 1) : 0;
    cJSON *j = n > 0 && n <= MAX_REPLY_BYTES ? cJSON_ParseWithLength(body, n) : NULL;
    const char *tok = str_member(j, "access_token");
    int rc = MQC_EUNAVAIL;
    if (status == 200 && tok) {
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
        double life = cJSON_IsNumber(exp) && exp->valuedouble > 0 ? exp->valuedouble : 3600;
        if (life > 86400)
            life = 86400;
        *life_ms = (int64_t)(life > 120 ? life - 60 : life / 2) * 1000;
        *token = strdup(tok);
        rc = *token ? MQC_OK : MQC_ENOMEM;
        if (rc == MQC_ENOMEM)
            snprintf(why, whylen, "out of memory");
    } else {
        const char *err = str_member(j, "error"), *desc = str_member(j, "error_description");
        char e[64] = "", d[128] = "";
        printable(e, sizeof e, err, 63);
        printable(d, sizeof d, desc, 127);
        if (status == 200)
            snprintf(why, whylen, "HTTP 200 without an access_token");
        else if (err)
            snprintf(why, whylen, "HTTP %ld %s%s%s", status, e, desc ? ": " : "", d);
        else
            snprintf(why, whylen, "HTTP %ld", status);
    }
    cJSON_Delete(j);
    return rc;
}
