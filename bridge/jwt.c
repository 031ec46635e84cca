/* JWS signing for the push bridge: PEM key loading, ES256 (with
 * the DER-to-R||S conversion JWS requires) and RS256, and the Google
 * assertion claims. OpenSSL errors are cleared after every failure so a
 * stale entry never shows up in a later, unrelated TLS error. */
#include "bridge/jwt.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "core/base64url.h"
#include "core/err.h"
#include "core/jwtauth.h"

/* A key file is a few hundred bytes; a service account key a few KiB. */
#define MAX_KEY_FILE_BYTES (64 * 1024)
/* Largest iat/exp accepted: well inside a double's exact integers. */
#define MAX_SECONDS 1000000000000LL

/* Passphrase callback that refuses: an encrypted key is an error, and
 * OpenSSL must never prompt on a daemon's terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static bool key_is_p256(EVP_PKEY *key)
{
    return mqc_jwt_key_kind(key) == MQC_JWT_KEY_ES256;
}

static bool key_is_rsa(EVP_PKEY *key)
{
    return mqc_jwt_key_kind(key) == MQC_JWT_KEY_RS256;
}

int mqc_jwt_load_key_pem(const char *pem, size_t len, EVP_PKEY **out)
{
    if (!pem || len == 0 || len > MAX_KEY_FILE_BYTES)
        return MQC_EBADREQ;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return MQC_ENOMEM;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (!key) {
        ERR_clear_error();
        return MQC_EBADREQ;
    }
    if (!key_is_p256(key) && !key_is_rsa(key)) {
        EVP_PKEY_free(key);
        ERR_clear_error();
        return MQC_EBADREQ;
    }
    *out = key;
    return MQC_OK;
}

int mqc_jwt_load_key_file(const char *path, EVP_PKEY **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return MQC_ENOTFOUND;
    int rc;
    char *buf = malloc(MAX_KEY_FILE_BYTES + 1);
    if (!buf) {
        rc = MQC_ENOMEM;
        goto out;
    }
    size_t n = fread(buf, 1, MAX_KEY_FILE_BYTES + 1, f);
    if (ferror(f))
        rc = MQC_ENOTFOUND;
    else if (n > MAX_KEY_FILE_BYTES)
        rc = MQC_EBADREQ;
    else
        rc = mqc_jwt_load_key_pem(buf, n, out);
    OPENSSL_cleanse(buf, MAX_KEY_FILE_BYTES + 1);
out:
    free(buf);
    fclose(f); /* read-only: nothing to lose on a close error */
    return rc;
}

int mqc_jwt_ecdsa_der_to_raw(const unsigned char *der, size_t len, unsigned char raw[64])
{
    if (!der || len == 0 || len > 128)
        return MQC_EBADREQ;
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    int rc = MQC_EBADREQ;
    unsigned char *again = NULL;
    if (!sig || p != der + len)
        goto out;
    /* Strict DER only: re-encoding must give back the same bytes. */
    int n = i2d_ECDSA_SIG(sig, &again);
    if (n <= 0 || (size_t)n != len || memcmp(again, der, len) != 0)
        goto out;
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_is_zero(r) || BN_is_zero(s) || BN_is_negative(r) || BN_is_negative(s) ||
        BN_num_bytes(r) > 32 || BN_num_bytes(s) > 32)
        goto out;
    if (BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(s, raw + 32, 32) != 32)
        goto out;
    rc = MQC_OK;
out:
    OPENSSL_free(again);
    ECDSA_SIG_free(sig);
    if (rc != MQC_OK)
        ERR_clear_error();
    return rc;
}

/* Sign data (borrowed) with key (borrowed), SHA-256. *sig returned owned
 * (OPENSSL_free). */
static int sign(EVP_PKEY *key, const char *data, size_t len, unsigned char **sig, size_t *siglen)
{
    int rc = MQC_EINTERNAL;
    unsigned char *buf = NULL;
    size_t n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return MQC_ENOMEM;
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1)
        goto out;
    if (EVP_DigestSign(ctx, NULL, &n, (const unsigned char *)data, len) != 1 || n == 0)
        goto out;
    if (!(buf = OPENSSL_malloc(n))) {
        rc = MQC_ENOMEM;
        goto out;
    }
    if (EVP_DigestSign(ctx, buf, &n, (const unsigned char *)data, len) != 1)
        goto out;
    *sig = buf;
    *siglen = n;
    buf = NULL;
    rc = MQC_OK;
out:
    OPENSSL_free(buf);
    EVP_MD_CTX_free(ctx);
    if (rc != MQC_OK)
        ERR_clear_error();
    return rc;
}

/* "<b64url(header)>.<b64url(claims)>" returned owned in *out. */
static int signing_input(const char *header, const char *claims, char **out)
{
    char *h = mqc_b64url_encode((const unsigned char *)header, strlen(header));
    char *c = mqc_b64url_encode((const unsigned char *)claims, strlen(claims));
    int rc = MQC_ENOMEM;
    if (h && c) {
        size_t n = strlen(h) + 1 + strlen(c) + 1;
        char *s = malloc(n);
        if (s) {
            snprintf(s, n, "%s.%s", h, c);
            *out = s;
            rc = MQC_OK;
        }
    }
    free(h);
    free(c);
    return rc;
}

/* input (taken) + "." + b64url(sig) returned owned in *out. */
static int append_signature(char *input, const unsigned char *sig, size_t siglen, char **out)
{
    char *s64 = mqc_b64url_encode(sig, siglen);
    if (!s64) {
        free(input);
        return MQC_ENOMEM;
    }
    size_t n = strlen(input) + 1 + strlen(s64) + 1;
    char *tok = malloc(n);
    if (tok)
        snprintf(tok, n, "%s.%s", input, s64);
    free(input);
    free(s64);
    if (!tok)
        return MQC_ENOMEM;
    *out = tok;
    return MQC_OK;
}

/* cJSON text of obj (borrowed) in *out, returned owned (free()). */
static int print_json(const cJSON *obj, char **out)
{
    char *s = cJSON_PrintUnformatted(obj);
    if (!s)
        return MQC_ENOMEM;
    /* cJSON allocates with malloc by default; copy anyway so the caller's
     * free() is right whatever hooks are installed. */
    *out = strdup(s);
    cJSON_free(s);
    return *out ? MQC_OK : MQC_ENOMEM;
}

int mqc_jwt_es256(EVP_PKEY *key, const char *kid, const char *iss, int64_t iat, char **out)
{
    if (!key || !kid || !*kid || !iss || !*iss || iat < 0 || iat > MAX_SECONDS || !out)
        return MQC_EBADREQ;
    if (!key_is_p256(key)) {
        ERR_clear_error();
        return MQC_EBADREQ;
    }
    int rc = MQC_ENOMEM;
    char *header = NULL, *claims = NULL, *input = NULL;
    unsigned char *der = NULL;
    size_t derlen = 0;
    cJSON *h = cJSON_CreateObject(), *c = cJSON_CreateObject();
    if (!h || !c || !cJSON_AddStringToObject(h, "alg", "ES256") ||
        !cJSON_AddStringToObject(h, "kid", kid) || !cJSON_AddStringToObject(c, "iss", iss) ||
        !cJSON_AddNumberToObject(c, "iat", (double)iat))
        goto out;
    if ((rc = print_json(h, &header)) != MQC_OK || (rc = print_json(c, &claims)) != MQC_OK)
        goto out;
    if ((rc = signing_input(header, claims, &input)) != MQC_OK)
        goto out;
    if ((rc = sign(key, input, strlen(input), &der, &derlen)) != MQC_OK)
        goto out;
    unsigned char raw[64];
    if (mqc_jwt_ecdsa_der_to_raw(der, derlen, raw) != MQC_OK) {
        rc = MQC_EINTERNAL; /* OpenSSL gave us a signature we cannot read */
        goto out;
    }
    rc = append_signature(input, raw, sizeof raw, out);
    input = NULL;
out:
    cJSON_Delete(h);
    cJSON_Delete(c);
    free(header);
    free(claims);
    free(input);
    OPENSSL_free(der);
    return rc;
}

int mqc_jwt_rs256(EVP_PKEY *key, const char *json_claims, char **out)
{
    if (!key || !json_claims || !out)
        return MQC_EBADREQ;
    if (!key_is_rsa(key)) {
        ERR_clear_error();
        return MQC_EBADREQ;
    }
    cJSON *parsed = cJSON_Parse(json_claims);
    bool is_object = cJSON_IsObject(parsed);
    cJSON_Delete(parsed);
    if (!is_object)
        return MQC_EBADREQ;
    char *input = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int rc = signing_input("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", json_claims, &input);
    if (rc != MQC_OK)
        return rc;
    if ((rc = sign(key, input, strlen(input), &sig, &siglen)) != MQC_OK) {
        free(input);
        return rc;
    }
    rc = append_signature(input, sig, siglen, out);
    OPENSSL_free(sig);
    return rc;
}

int mqc_jwt_google_claims(const char *iss, const char *scope, const char *aud, int64_t iat,
                          int64_t exp, char **out)
{
    if (!iss || !*iss || !scope || !*scope || !aud || !*aud || !out || iat < 0 ||
        iat > MAX_SECONDS || exp <= iat || exp - iat > 3600)
        return MQC_EBADREQ;
    int rc = MQC_ENOMEM;
    cJSON *c = cJSON_CreateObject();
    if (c && cJSON_AddStringToObject(c, "iss", iss) && cJSON_AddStringToObject(c, "scope", scope) &&
        cJSON_AddStringToObject(c, "aud", aud) && cJSON_AddNumberToObject(c, "iat", (double)iat) &&
        cJSON_AddNumberToObject(c, "exp", (double)exp))
        rc = print_json(c, out);
    cJSON_Delete(c);
    return rc;
}
