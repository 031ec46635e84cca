/* JWT password verification: see jwtauth.h. The signature is checked before
 * any claim is read, and every failure clears OpenSSL's error queue so that a
 * hostile token never leaves an entry behind for an unrelated later call. */
#include "core/jwtauth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "core/base64url.h"
#include "core/err.h"
#include "core/json.h"

#define MAX_KEY_FILE_BYTES (64 * 1024)
/* Claims beyond this are not times a token may carry (year 33658). */
#define MAX_SECONDS 1e12
/* JWT headers and claims are flat objects; a little nesting for custom claims. */
#define JWT_DEPTH_MAX 16

enum alg { ALG_NONE, ALG_HS256, ALG_RS256, ALG_ES256 };

struct mqc_jwtauth {
    unsigned char *secret; /* owned; NULL = no HS256 */
    size_t secretlen;
    EVP_PKEY *key;    /* owned; NULL = no RS256/ES256 */
    enum alg key_alg; /* ALG_RS256 or ALG_ES256 when key is set */
    char *issuer;     /* owned or NULL */
    char *audience;   /* owned or NULL */
    long leeway_s;
};

static char *dup_or_null(const char *s, bool *fail)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *fail = true;
    return d;
}

enum mqc_jwt_key mqc_jwt_key_kind(EVP_PKEY *key)
{
    char group[64] = "";
    size_t glen = 0;
    if (EVP_PKEY_is_a(key, "RSA"))
        return EVP_PKEY_get_bits(key) >= 2048 ? MQC_JWT_KEY_RS256 : MQC_JWT_KEY_NONE;
    if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_group_name(key, group, sizeof group, &glen) &&
        strcmp(group, SN_X9_62_prime256v1) == 0)
        return MQC_JWT_KEY_ES256;
    return MQC_JWT_KEY_NONE;
}

/* Read the PEM public key at path into a->key and pin its alg. */
static int load_public_key(struct mqc_jwtauth *a, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "plugin_opt_jwt_public_key: cannot read '%s'", path);
        return MQC_EBADREQ;
    }
    EVP_PKEY *key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f); /* read-only: nothing to lose on a close error */
    if (!key) {
        ERR_clear_error();
        snprintf(err, errlen,
                 "plugin_opt_jwt_public_key: '%s' holds no PEM public key (-----BEGIN PUBLIC "
                 "KEY-----)",
                 path);
        return MQC_EBADREQ;
    }
    enum mqc_jwt_key kind = mqc_jwt_key_kind(key);
    if (kind == MQC_JWT_KEY_NONE) {
        EVP_PKEY_free(key);
        ERR_clear_error();
        snprintf(err, errlen,
                 "plugin_opt_jwt_public_key: '%s' is neither an RSA key of 2048 bits or more "
                 "(RS256) nor an EC P-256 key (ES256)",
                 path);
        return MQC_EBADREQ;
    }
    a->key_alg = kind == MQC_JWT_KEY_RS256 ? ALG_RS256 : ALG_ES256;
    a->key = key;
    return MQC_OK;
}

int mqc_jwtauth_new(const struct mqc_jwtauth_opts *opts, struct mqc_jwtauth **out, char *err,
                    size_t errlen)
{
    struct mqc_jwtauth *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return MQC_ENOMEM;
    }
    bool fail = false;
    a->leeway_s = opts->leeway_s;
    a->issuer = dup_or_null(opts->issuer, &fail);
    a->audience = dup_or_null(opts->audience, &fail);
    if (opts->secret) {
        a->secretlen = strlen(opts->secret);
        a->secret = (unsigned char *)dup_or_null(opts->secret, &fail);
    }
    if (fail) {
        mqc_jwtauth_free(a);
        snprintf(err, errlen, "out of memory");
        return MQC_ENOMEM;
    }
    if (opts->public_key_path) {
        int rc = load_public_key(a, opts->public_key_path, err, errlen);
        if (rc != MQC_OK) {
            mqc_jwtauth_free(a);
            return rc;
        }
    }
    *out = a;
    return MQC_OK;
}

void mqc_jwtauth_free(struct mqc_jwtauth *a)
{
    if (!a)
        return;
    if (a->secret) {
        OPENSSL_cleanse(a->secret, a->secretlen);
        free(a->secret);
    }
    EVP_PKEY_free(a->key);
    free(a->issuer);
    free(a->audience);
    free(a);
}

/* Decode the base64url text in[0..len) and parse it as a JSON object.
 * Returns the object owned (cJSON_Delete) or NULL. */
static cJSON *decode_object(const char *in, size_t len)
{
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    if (mqc_b64url_decode(in, len, &raw, &rawlen) != MQC_OK)
        return NULL;
    /* NUL-terminated copy: cJSON's "nothing after the value" check reads
     * one byte past the value. */
    char *text = malloc(rawlen + 1);
    if (!text) {
        free(raw);
        return NULL;
    }
    memcpy(text, raw, rawlen);
    text[rawlen] = '\0';
    free(raw);
    /* The strict scan refuses duplicate claims ({"sub":"a","sub":"b"}, which
     * cJSON would read as "a" and another verifier as "b": RFC 7519 section 4
     * allows refusing them) and whatever else two parsers may read apart. */
    struct mqc_json_scan sc = {.max_depth = JWT_DEPTH_MAX};
    cJSON *j = mqc_json_scan(text, rawlen, &sc) == MQC_OK && sc.type == MQC_JSON_OBJECT
                   ? cJSON_ParseWithOpts(text, NULL, 1)
                   : NULL;
    free(text);
    if (j && !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* Split token into its three parts: the dots' offsets go to d1, d2. */
static bool split(const char *token, size_t len, size_t *d1, size_t *d2)
{
    const char *a = memchr(token, '.', len);
    if (!a)
        return false;
    const char *b = memchr(a + 1, '.', len - (size_t)(a + 1 - token));
    if (!b || memchr(b + 1, '.', len - (size_t)(b + 1 - token)))
        return false;
    *d1 = (size_t)(a - token);
    *d2 = (size_t)(b - token);
    return *d1 > 0 && *d2 > *d1 + 1 && *d2 + 1 < len;
}

bool mqc_jwtauth_is_token(const char *pw)
{
    size_t len = strlen(pw), d1, d2;
    if (len > MQC_JWT_MAX || !split(pw, len, &d1, &d2))
        return false;
    cJSON *h = decode_object(pw, d1);
    bool yes = h && cJSON_GetObjectItemCaseSensitive(h, "alg");
    cJSON_Delete(h);
    return yes;
}

static enum alg alg_of(const cJSON *header)
{
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(header, "alg");
    if (!cJSON_IsString(alg))
        return ALG_NONE;
    if (!strcmp(alg->valuestring, "HS256"))
        return ALG_HS256;
    if (!strcmp(alg->valuestring, "RS256"))
        return ALG_RS256;
    if (!strcmp(alg->valuestring, "ES256"))
        return ALG_ES256;
    return ALG_NONE;
}

/* JWS ES256 signatures are R||S (32 bytes each); OpenSSL verifies DER.
 * *der (borrowed) gets the DER form, returned owned (OPENSSL_free). */
static int es256_raw_to_der(const unsigned char *raw, size_t len, unsigned char **der, int *derlen)
{
    if (len != 64)
        return MQC_EBADREQ;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    int rc = MQC_ENOMEM;
    if (!sig || !r || !s)
        goto out;
    if (!ECDSA_SIG_set0(sig, r, s))
        goto out;
    r = s = NULL; /* now owned by sig */
    *der = NULL;
    *derlen = i2d_ECDSA_SIG(sig, der);
    rc = *derlen > 0 ? MQC_OK : MQC_ENOMEM;
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return rc;
}

/* Check sig over data with the key that alg is pinned to. */
static bool signature_ok(const struct mqc_jwtauth *a, enum alg alg, const char *data,
                         size_t datalen, const unsigned char *sig, size_t siglen)
{
    if (alg == ALG_HS256) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;
        if (!HMAC(EVP_sha256(), a->secret, (int)a->secretlen, (const unsigned char *)data, datalen,
                  mac, &maclen))
            return false;
        return siglen == maclen && CRYPTO_memcmp(mac, sig, maclen) == 0;
    }
    unsigned char *der = NULL;
    int derlen = 0;
    if (alg == ALG_ES256) {
        if (es256_raw_to_der(sig, siglen, &der, &derlen) != MQC_OK)
            return false;
        sig = der;
        siglen = (size_t)derlen;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, a->key) == 1 &&
              EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)data, datalen) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok;
}

/* A NumericDate claim: absent (*present = false), or a finite number. */
static bool numeric_date(const cJSON *claims, const char *name, bool *present, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, name);
    *present = v != NULL;
    if (!v)
        return true;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > MAX_SECONDS)
        return false;
    *out = v->valuedouble;
    return true;
}

static bool audience_ok(const cJSON *claims, const char *want)
{
    const cJSON *aud = cJSON_GetObjectItemCaseSensitive(claims, "aud");
    if (cJSON_IsString(aud))
        return strcmp(aud->valuestring, want) == 0;
    if (!cJSON_IsArray(aud))
        return false;
    const cJSON *it;
    cJSON_ArrayForEach(it, aud)
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, want) == 0)
            return true;
    }
    return false;
}

/* The claims' verdict: NULL when they admit user at now_s, else a reason. */
static const char *claims_verdict(const struct mqc_jwtauth *a, const cJSON *claims,
                                  const char *user, int64_t now_s)
{
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
    if (!cJSON_IsString(sub))
        return "no sub claim";
    if (strcmp(sub->valuestring, user) != 0)
        return "sub is not the username";
    bool has_exp, has_nbf;
    double exp = 0, nbf = 0;
    if (!numeric_date(claims, "exp", &has_exp, &exp) || !has_exp)
        return "no valid exp claim";
    if (!numeric_date(claims, "nbf", &has_nbf, &nbf))
        return "bad nbf claim";
    double now = (double)now_s, leeway = (double)a->leeway_s;
    if (now >= exp + leeway)
        return "expired";
    if (has_nbf && now + leeway < nbf)
        return "not yet valid (nbf)";
    if (a->issuer) {
        const cJSON *iss = cJSON_GetObjectItemCaseSensitive(claims, "iss");
        if (!cJSON_IsString(iss) || strcmp(iss->valuestring, a->issuer) != 0)
            return "wrong issuer";
    }
    if (a->audience && !audience_ok(claims, a->audience))
        return "wrong audience";
    return NULL;
}

int mqc_jwtauth_verify(const struct mqc_jwtauth *a, const char *token, const char *user,
                       int64_t now_s, const char **why)
{
    size_t len = strlen(token), d1, d2;
    cJSON *header = NULL, *claims = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int rc = MQC_EAUTH;

    *why = "malformed token";
    if (len > MQC_JWT_MAX || !split(token, len, &d1, &d2))
        goto out;
    if (!(header = decode_object(token, d1)))
        goto out;
    enum alg alg = alg_of(header);
    if (cJSON_GetObjectItemCaseSensitive(header, "crit")) {
        *why = "crit header not understood";
        goto out;
    }
    if (!(alg == ALG_HS256 && a->secret) && !(alg != ALG_NONE && a->key && alg == a->key_alg)) {
        *why = "alg not accepted by the configured keys";
        goto out;
    }
    int drc = mqc_b64url_decode(token + d2 + 1, len - d2 - 1, &sig, &siglen);
    if (drc != MQC_OK) {
        rc = drc == MQC_ENOMEM ? MQC_ENOMEM : MQC_EAUTH;
        goto out;
    }
    if (!signature_ok(a, alg, token, d2, sig, siglen)) {
        ERR_clear_error();
        *why = "bad signature";
        goto out;
    }
    if (!(claims = decode_object(token + d1 + 1, d2 - d1 - 1))) {
        *why = "malformed claims";
        goto out;
    }
    const char *verdict = claims_verdict(a, claims, user, now_s);
    if (verdict) {
        *why = verdict;
        goto out;
    }
    *why = NULL;
    rc = MQC_OK;
out:
    cJSON_Delete(header);
    cJSON_Delete(claims);
    free(sig);
    return rc;
}
