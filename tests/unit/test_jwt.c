/* Unit tests for bridge/jwt.h. Keys are made here with EVP; every token is
 * checked independently of the code under test: split, base64url-decoded,
 * header and claims read as JSON, and the signature verified with
 * EVP_DigestVerify (ES256: R||S turned back into DER with ECDSA_SIG_set0 and
 * i2d). ES256 is signed in a loop until R and S shorter than 32 bytes have
 * both occurred (about 1 in 256 each), so the padding is exercised for real;
 * crafted DER covers short and 0x00-prefixed integers and malformed input. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <unistd.h>

#include "bridge/jwt.h"
#include "core/base64url.h"
#include "core/err.h"
#include "tests/unit/test.h"

static EVP_PKEY *ec_key, *rsa_key;

/* A JWT split into its three parts, the first two decoded. */
struct parts {
    char *header, *claims; /* NUL-terminated JSON */
    unsigned char *sig;
    size_t siglen;
    char *input; /* "<h64>.<c64>", the signed bytes */
};

static void parts_free(struct parts *p)
{
    free(p->header);
    free(p->claims);
    free(p->sig);
    free(p->input);
    memset(p, 0, sizeof *p);
}

static char *decode_str(const char *s, size_t n)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    if (mqc_b64url_decode(s, n, &buf, &len) != MQC_OK)
        return NULL;
    char *str = malloc(len + 1);
    if (str) {
        memcpy(str, buf, len);
        str[len] = '\0';
    }
    free(buf);
    return str;
}

static bool split(const char *tok, struct parts *p)
{
    memset(p, 0, sizeof *p);
    const char *d1 = strchr(tok, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2 || strchr(d2 + 1, '.') || strchr(tok, '='))
        return false;
    p->header = decode_str(tok, (size_t)(d1 - tok));
    p->claims = decode_str(d1 + 1, (size_t)(d2 - d1 - 1));
    p->input = strndup(tok, (size_t)(d2 - tok));
    if (mqc_b64url_decode(d2 + 1, strlen(d2 + 1), &p->sig, &p->siglen) != MQC_OK)
        p->sig = NULL;
    if (!p->header || !p->claims || !p->input || !p->sig) {
        parts_free(p);
        return false;
    }
    return true;
}

static bool verify_der(EVP_PKEY *key, const char *input, const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
              EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)input, strlen(input)) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* Verify an ES256 raw R||S signature the independent way. */
static bool verify_raw(EVP_PKEY *key, const char *input, const unsigned char raw[64])
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    unsigned char *der = NULL;
    bool ok = false;
    if (sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1) {
        r = s = NULL; /* owned by sig now */
        int n = i2d_ECDSA_SIG(sig, &der);
        ok = n > 0 && verify_der(key, input, der, (size_t)n);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    OPENSSL_free(der);
    return ok;
}

TEST(b64url)
{
    struct {
        const char *in, *out;
    } v[] = {{"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
             {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}, {"\xfb\xff", "-_8"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char *e = mqc_b64url_encode((const unsigned char *)v[i].in, strlen(v[i].in));
        CHECK_STR(e, v[i].out);
        char *d = e ? decode_str(e, strlen(e)) : NULL;
        CHECK_STR(d, v[i].in);
        free(e);
        free(d);
    }
    unsigned char *out = NULL;
    size_t n = 0;
    CHECK_EQ_INT(mqc_b64url_decode("Zg==", 4, &out, &n), MQC_EBADREQ); /* padding */
    CHECK_EQ_INT(mqc_b64url_decode("Z", 1, &out, &n), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_b64url_decode("Zh", 2, &out, &n), MQC_EBADREQ);   /* stray bits */
    CHECK_EQ_INT(mqc_b64url_decode("Zm+v", 4, &out, &n), MQC_EBADREQ); /* not url-safe */
    CHECK(out == NULL);
}

TEST(es256_header_claims_and_signature)
{
    char *tok = NULL;
    if (!CHECK_EQ_INT(mqc_jwt_es256(ec_key, "ABC123DEFG", "TEAM123456", 1764294000, &tok), MQC_OK))
        return;
    struct parts p;
    if (!CHECK(split(tok, &p))) {
        free(tok);
        return;
    }
    CHECK_STR(p.header, "{\"alg\":\"ES256\",\"kid\":\"ABC123DEFG\"}");
    CHECK_STR(p.claims, "{\"iss\":\"TEAM123456\",\"iat\":1764294000}");
    CHECK_EQ_INT(p.siglen, 64);
    if (p.siglen == 64) {
        CHECK(verify_raw(ec_key, p.input, p.sig));
        /* a different input must not verify: the check can fail */
        p.input[0] ^= 1;
        CHECK(!verify_raw(ec_key, p.input, p.sig));
    }
    parts_free(&p);
    free(tok);

    /* JSON escaping of odd ids */
    if (CHECK_EQ_INT(mqc_jwt_es256(ec_key, "k\"1", "t\\2", 0, &tok), MQC_OK)) {
        if (CHECK(split(tok, &p))) {
            cJSON *h = cJSON_Parse(p.header), *c = cJSON_Parse(p.claims);
            CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h, "kid")), "k\"1");
            CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "iss")), "t\\2");
            cJSON_Delete(h);
            cJSON_Delete(c);
            parts_free(&p);
        }
        free(tok);
    }
}

TEST(es256_many_signatures_with_short_r_and_s)
{
    int short_r = 0, short_s = 0, signed_n = 0, bad = 0;
    /* Stop once both short cases were seen (and at least 200 signatures);
     * the cap makes a miss (probability ~1e-30) fail instead of hang. */
    for (int i = 0; i < 30000 && (i < 200 || !short_r || !short_s); i++) {
        char *tok = NULL;
        if (mqc_jwt_es256(ec_key, "ABC123DEFG", "TEAM123456", 1764294000 + i, &tok) != MQC_OK) {
            bad++;
            continue;
        }
        struct parts p;
        if (!split(tok, &p) || p.siglen != 64) {
            bad++;
            free(tok);
            continue;
        }
        signed_n++;
        if (!verify_raw(ec_key, p.input, p.sig))
            bad++;
        if (p.sig[0] == 0)
            short_r++;
        if (p.sig[32] == 0)
            short_s++;
        parts_free(&p);
        free(tok);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(signed_n >= 200);
    CHECK(short_r > 0);
    CHECK(short_s > 0);
}

TEST(es256_refuses)
{
    char *tok = NULL;
    CHECK_EQ_INT(mqc_jwt_es256(rsa_key, "K", "T", 1, &tok), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_jwt_es256(ec_key, "", "T", 1, &tok), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_jwt_es256(ec_key, "K", NULL, 1, &tok), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_jwt_es256(ec_key, "K", "T", -1, &tok), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_jwt_es256(NULL, "K", "T", 1, &tok), MQC_EBADREQ);
    CHECK(tok == NULL);
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    if (CHECK(p384 != NULL)) {
        CHECK_EQ_INT(mqc_jwt_es256(p384, "K", "T", 1, &tok), MQC_EBADREQ);
        EVP_PKEY_free(p384);
    }
}

/* DER builder for the crafted cases. */
struct der {
    unsigned char b[160];
    size_t n;
};

static void der_int(struct der *d, const unsigned char *v, size_t n)
{
    d->b[d->n++] = 0x02;
    d->b[d->n++] = (unsigned char)n;
    memcpy(d->b + d->n, v, n);
    d->n += n;
}

/* SEQUENCE { INTEGER r, INTEGER s } with r, s given as content bytes. */
static struct der der_sig(const unsigned char *r, size_t rn, const unsigned char *s, size_t sn)
{
    struct der body = {{0}, 0}, out = {{0}, 0};
    der_int(&body, r, rn);
    der_int(&body, s, sn);
    out.b[out.n++] = 0x30;
    out.b[out.n++] = (unsigned char)body.n;
    memcpy(out.b + out.n, body.b, body.n);
    out.n += body.n;
    return out;
}

TEST(der_to_raw_crafted)
{
    unsigned char r31[31], r33[33], s32[32], s20[20], raw[64], want[64];
    memset(r31, 0x7f, sizeof r31);
    r33[0] = 0x00;
    memset(r33 + 1, 0x80, 32);
    memset(s32, 0x12, sizeof s32);
    memset(s20, 0x34, sizeof s20);

    /* short R: padded with one zero */
    struct der d = der_sig(r31, 31, s32, 32);
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(d.b, d.n, raw), MQC_OK);
    memset(want, 0, sizeof want);
    memcpy(want + 1, r31, 31);
    memcpy(want + 32, s32, 32);
    CHECK(memcmp(raw, want, 64) == 0);

    /* R with its sign byte 0x00 (33 bytes in DER): the zero is dropped */
    d = der_sig(r33, 33, s32, 32);
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(d.b, d.n, raw), MQC_OK);
    memcpy(want, r33 + 1, 32);
    memcpy(want + 32, s32, 32);
    CHECK(memcmp(raw, want, 64) == 0);

    /* short S, and S with a sign byte */
    d = der_sig(r33, 33, s20, 20);
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(d.b, d.n, raw), MQC_OK);
    memset(want, 0, sizeof want);
    memcpy(want, r33 + 1, 32);
    memcpy(want + 44, s20, 20);
    CHECK(memcmp(raw, want, 64) == 0);
    d = der_sig(r31, 31, r33, 33);
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(d.b, d.n, raw), MQC_OK);
    CHECK(raw[0] == 0 && raw[1] == 0x7f && raw[32] == 0x80 && raw[63] == 0x80);

    /* one-byte integers */
    unsigned char one = 1;
    d = der_sig(&one, 1, &one, 1);
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(d.b, d.n, raw), MQC_OK);
    memset(want, 0, sizeof want);
    want[31] = 1;
    want[63] = 1;
    CHECK(memcmp(raw, want, 64) == 0);
}

TEST(der_to_raw_refuses_malformed)
{
    unsigned char raw[64] = {0}, r32[32], s32[32], big[33], nonmin[33], zero = 0;
    memset(r32, 0x11, sizeof r32);
    memset(s32, 0x22, sizeof s32);
    big[0] = 0x01; /* 2^256 + ...: too large for P-256 */
    memset(big + 1, 0x80, 32);
    nonmin[0] = 0x00; /* a sign byte that is not needed: not DER */
    memset(nonmin + 1, 0x12, 32);
    unsigned char neg[32];
    memset(neg, 0x90, sizeof neg); /* high bit set without 0x00: negative */

    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(raw, 0, raw), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(NULL, 8, raw), MQC_EBADREQ);

    struct der good = der_sig(r32, 32, s32, 32);
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(good.b, good.n, raw), MQC_OK);          /* the baseline */
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(good.b, good.n - 1, raw), MQC_EBADREQ); /* truncated */
    struct der d = good;
    d.b[d.n++] = 0x00; /* trailing byte */
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(d.b, d.n, raw), MQC_EBADREQ);
    d = good;
    d.b[0] = 0x31; /* SET, not SEQUENCE */
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(d.b, d.n, raw), MQC_EBADREQ);
    d = good;
    d.b[1]++; /* sequence length wrong */
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(d.b, d.n, raw), MQC_EBADREQ);
    d = good;
    d.b[2] = 0x04; /* OCTET STRING, not INTEGER */
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(d.b, d.n, raw), MQC_EBADREQ);

    d = der_sig(big, 33, s32, 32);
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(d.b, d.n, raw), MQC_EBADREQ);
    d = der_sig(r32, 32, nonmin, 33);
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(d.b, d.n, raw), MQC_EBADREQ);
    d = der_sig(neg, 32, s32, 32);
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(d.b, d.n, raw), MQC_EBADREQ);
    d = der_sig(&zero, 1, s32, 32);
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(d.b, d.n, raw), MQC_EBADREQ);

    /* long-form length where the short form fits: BER, not DER */
    struct der lf = {{0}, 0};
    lf.b[lf.n++] = 0x30;
    lf.b[lf.n++] = 0x81;
    lf.b[lf.n++] = good.b[1];
    memcpy(lf.b + lf.n, good.b + 2, good.n - 2);
    lf.n += good.n - 2;
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(lf.b, lf.n, raw), MQC_EBADREQ);

    /* three integers */
    struct der three = {{0}, 0}, body = {{0}, 0};
    der_int(&body, r32, 32);
    der_int(&body, s32, 32);
    der_int(&body, s32, 1);
    three.b[three.n++] = 0x30;
    three.b[three.n++] = (unsigned char)body.n;
    memcpy(three.b + three.n, body.b, body.n);
    three.n += body.n;
    CHECK_EQ_INT(mqc_jwt_ecdsa_der_to_raw(three.b, three.n, raw), MQC_EBADREQ);
}

TEST(google_claims)
{
    char *c = NULL;
    const char *scope = "https://www.googleapis.com/auth/firebase.messaging";
    const char *aud = "https://oauth2.googleapis.com/token";
    if (!CHECK_EQ_INT(mqc_jwt_google_claims("sa@p.iam.gserviceaccount.com", scope, aud, 1764294000,
                                            1764297600, &c),
                      MQC_OK))
        return;
    cJSON *j = cJSON_Parse(c);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "iss")), "sa@p.iam.gserviceaccount.com");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "scope")), scope);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "aud")), aud);
    CHECK(test_contains(c, "\"iat\":1764294000"));
    CHECK(test_contains(c, "\"exp\":1764297600"));
    cJSON_Delete(j);
    free(c);
    c = NULL;
    CHECK_EQ_INT(mqc_jwt_google_claims("i", scope, aud, 100, 3701, &c), MQC_EBADREQ); /* > 1 h */
    CHECK_EQ_INT(mqc_jwt_google_claims("i", scope, aud, 100, 100, &c), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_jwt_google_claims("", scope, aud, 100, 200, &c), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_jwt_google_claims("i", scope, NULL, 100, 200, &c), MQC_EBADREQ);
    CHECK(c == NULL);
}

TEST(rs256_verifies)
{
    char *claims = NULL, *tok = NULL;
    if (!CHECK_EQ_INT(mqc_jwt_google_claims("sa@x", "s", "https://a/token", 1000, 4600, &claims),
                      MQC_OK))
        return;
    if (CHECK_EQ_INT(mqc_jwt_rs256(rsa_key, claims, &tok), MQC_OK)) {
        struct parts p;
        if (CHECK(split(tok, &p))) {
            CHECK_STR(p.header, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
            CHECK_STR(p.claims, claims);
            CHECK_EQ_INT(p.siglen, 256);
            CHECK(verify_der(rsa_key, p.input, p.sig, p.siglen));
            p.sig[10] ^= 0x40;
            CHECK(!verify_der(rsa_key, p.input, p.sig, p.siglen));
            parts_free(&p);
        }
        free(tok);
    }
    tok = NULL;
    CHECK_EQ_INT(mqc_jwt_rs256(ec_key, claims, &tok), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_jwt_rs256(rsa_key, "not json", &tok), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_jwt_rs256(rsa_key, "[1]", &tok), MQC_EBADREQ);
    CHECK(tok == NULL);
    free(claims);
}

/* key as PEM text (PKCS#8 unless cipher is given: then encrypted). */
static char *to_pem(EVP_PKEY *key, const EVP_CIPHER *cipher, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    int ok = b && (cipher ? PEM_write_bio_PKCS8PrivateKey(b, key, cipher, "pw", 2, NULL, NULL)
                          : PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL));
    char *data = NULL;
    long n = ok ? BIO_get_mem_data(b, &data) : 0;
    if (n > 0 && (out = malloc((size_t)n + 1))) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
        *len = (size_t)n;
    }
    BIO_free(b);
    return out;
}

TEST(load_keys)
{
    size_t len = 0;
    EVP_PKEY *k = NULL;
    char *pem = to_pem(ec_key, NULL, &len);
    if (CHECK(pem != NULL)) {
        CHECK(test_contains(pem, "-----BEGIN PRIVATE KEY-----"));
        if (CHECK_EQ_INT(mqc_jwt_load_key_pem(pem, len, &k), MQC_OK)) {
            CHECK_EQ_INT(EVP_PKEY_eq(k, ec_key), 1);
            EVP_PKEY_free(k);
            k = NULL;
        }
        /* the same through a file */
        char path[] = "/tmp/mqc_jwt_key_XXXXXX";
        int fd = mkstemp(path);
        if (CHECK(fd >= 0)) {
            CHECK_EQ_INT(write(fd, pem, len), (long long)len);
            close(fd);
            if (CHECK_EQ_INT(mqc_jwt_load_key_file(path, &k), MQC_OK)) {
                CHECK_EQ_INT(EVP_PKEY_eq(k, ec_key), 1);
                EVP_PKEY_free(k);
                k = NULL;
            }
            unlink(path);
            CHECK_EQ_INT(mqc_jwt_load_key_file(path, &k), MQC_ENOTFOUND);
        }
        CHECK_EQ_INT(mqc_jwt_load_key_pem(pem, len / 2, &k), MQC_EBADREQ); /* truncated */
        free(pem);
    }
    pem = to_pem(rsa_key, NULL, &len);
    if (CHECK(pem != NULL)) {
        if (CHECK_EQ_INT(mqc_jwt_load_key_pem(pem, len, &k), MQC_OK)) {
            CHECK_EQ_INT(EVP_PKEY_eq(k, rsa_key), 1);
            EVP_PKEY_free(k);
            k = NULL;
        }
        free(pem);
    }
    /* encrypted: refused, never prompted for */
    pem = to_pem(ec_key, EVP_aes_256_cbc(), &len);
    if (CHECK(pem != NULL)) {
        CHECK(test_contains(pem, "ENCRYPTED"));
        CHECK_EQ_INT(mqc_jwt_load_key_pem(pem, len, &k), MQC_EBADREQ);
        free(pem);
    }
    /* other curves, small RSA, other key types: refused */
    EVP_PKEY *others[3] = {EVP_EC_gen("P-384"), EVP_RSA_gen(1024),
                           EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")};
    for (int i = 0; i < 3; i++) {
        if (!CHECK(others[i] != NULL))
            continue;
        pem = to_pem(others[i], NULL, &len);
        if (CHECK(pem != NULL)) {
            CHECK_EQ_INT(mqc_jwt_load_key_pem(pem, len, &k), MQC_EBADREQ);
            free(pem);
        }
        EVP_PKEY_free(others[i]);
    }
    const char junk[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    CHECK_EQ_INT(mqc_jwt_load_key_pem(junk, sizeof junk - 1, &k), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_jwt_load_key_pem("", 0, &k), MQC_EBADREQ);
    CHECK(k == NULL);
}

int main(void)
{
    ec_key = EVP_EC_gen("P-256");
    rsa_key = EVP_RSA_gen(2048);
    if (!ec_key || !rsa_key) {
        fprintf(stderr, "cannot generate test keys\n");
        return 1;
    }
    RUN(b64url);
    RUN(es256_header_claims_and_signature);
    RUN(es256_many_signatures_with_short_r_and_s);
    RUN(es256_refuses);
    RUN(der_to_raw_crafted);
    RUN(der_to_raw_refuses_malformed);
    RUN(google_claims);
    RUN(rs256_verifies);
    RUN(load_keys);
    EVP_PKEY_free(ec_key);
    EVP_PKEY_free(rsa_key);
    return test_finish();
}
