/* JWT password verification (core/jwtauth.c): tokens signed here with
 * OpenSSL for HS256, RS256 and ES256, then every way a token must be refused:
 * wrong key, alg confusion, alg none, crit, tampering, sub/exp/nbf/iss/aud. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "bridge/jwt.h"
#include "core/base64url.h"
#include "core/err.h"
#include "core/jwtauth.h"
#include "tests/unit/test.h"

#define NOW 1800000000LL
static const char *SECRET = "0123456789abcdef0123456789abcdef-test";
static EVP_PKEY *ec_key, *rsa_key, *rsa_small;
static char ec_pub[64], rsa_pub[64], small_pub[64], bad_pub[64];

/* header.claims as base64url (header and claims are JSON text, borrowed). */
static char *signing_input(const char *header, const char *claims)
{
    char *h = mqc_b64url_encode((const unsigned char *)header, strlen(header));
    char *c = mqc_b64url_encode((const unsigned char *)claims, strlen(claims));
    char *out = malloc(strlen(h) + strlen(c) + 2);
    sprintf(out, "%s.%s", h, c);
    free(h);
    free(c);
    return out;
}

static char *append_sig(char *input, const unsigned char *sig, size_t siglen)
{
    char *s = mqc_b64url_encode(sig, siglen);
    char *out = malloc(strlen(input) + strlen(s) + 2);
    sprintf(out, "%s.%s", input, s);
    free(s);
    free(input);
    return out;
}

static char *hs256(const char *header, const char *claims, const char *secret)
{
    char *in = signing_input(header, claims);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)in, strlen(in), mac, &n);
    return append_sig(in, mac, n);
}

/* RS256 or ES256 (R||S) with key. */
static char *pk_sign(const char *header, const char *claims, EVP_PKEY *key)
{
    char *in = signing_input(header, claims);
    unsigned char sig[1024], raw[64];
    size_t n = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, sig, &n, (unsigned char *)in, strlen(in)) != 1)
        n = 0;
    EVP_MD_CTX_free(ctx);
    if (EVP_PKEY_is_a(key, "EC")) {
        if (mqc_jwt_ecdsa_der_to_raw(sig, n, raw) != MQC_OK)
            return append_sig(in, (const unsigned char *)"", 0);
        return append_sig(in, raw, 64);
    }
    return append_sig(in, sig, n);
}

static void write_pub(EVP_PKEY *key, char *path)
{
    strcpy(path, "/tmp/mqc-jwtauth-XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    PEM_write_PUBKEY(f, key);
    fclose(f);
}

static struct mqc_jwtauth *make(const char *secret, const char *pub, const char *iss,
                                const char *aud)
{
    struct mqc_jwtauth_opts o = {secret, pub, iss, aud, 30};
    struct mqc_jwtauth *a = NULL;
    char err[256];
    if (mqc_jwtauth_new(&o, &a, err, sizeof err) != MQC_OK) {
        fprintf(stderr, "jwtauth_new: %s\n", err);
        return NULL;
    }
    return a;
}

/* Verify token as user at NOW; returns the reason ("" = accepted). The
 * token is taken. */
static const char *verdict(const struct mqc_jwtauth *a, char *token, const char *user)
{
    const char *why = NULL;
    int rc = mqc_jwtauth_verify(a, token, user, NOW, &why);
    free(token);
    return rc == MQC_OK ? "" : (why ? why : "(no reason)");
}

static const char *HS = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char *RS = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
static const char *ES = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
static const char *GOOD = "{\"sub\":\"alice\",\"exp\":1800000600,\"iat\":1799999000}";

TEST(hs256_accepts_and_refuses)
{
    struct mqc_jwtauth *a = make(SECRET, NULL, NULL, NULL);
    if (!CHECK(a != NULL))
        return;
    CHECK_STR(verdict(a, hs256(HS, GOOD, SECRET), "alice"), "");
    CHECK_STR(verdict(a, hs256(HS, GOOD, "another-secret-another-secret-xx"), "alice"),
              "bad signature");
    CHECK_STR(verdict(a, hs256(HS, GOOD, SECRET), "bob"), "sub is not the username");
    CHECK_STR(verdict(a, hs256(HS, "{\"sub\":\"alice\"}", SECRET), "alice"), "no valid exp claim");
    CHECK_STR(verdict(a, hs256(HS, "{\"sub\":\"alice\",\"exp\":\"soon\"}", SECRET), "alice"),
              "no valid exp claim");
    CHECK_STR(verdict(a, hs256(HS, "{\"exp\":1800000600}", SECRET), "alice"), "no sub claim");
    /* exp with 30 s leeway: 29 s past is fine, 30 s past is not. */
    CHECK_STR(verdict(a, hs256(HS, "{\"sub\":\"alice\",\"exp\":1799999971}", SECRET), "alice"), "");
    CHECK_STR(verdict(a, hs256(HS, "{\"sub\":\"alice\",\"exp\":1799999970}", SECRET), "alice"),
              "expired");
    CHECK_STR(
        verdict(a, hs256(HS, "{\"sub\":\"alice\",\"exp\":1800000600,\"nbf\":1800000031}", SECRET),
                "alice"),
        "not yet valid (nbf)");
    CHECK_STR(
        verdict(a, hs256(HS, "{\"sub\":\"alice\",\"exp\":1800000600,\"nbf\":1800000029}", SECRET),
                "alice"),
        "");
    CHECK_STR(verdict(a, hs256(HS, "{\"sub\":\"alice\",\"exp\":1e300}", SECRET), "alice"),
              "no valid exp claim");
    /* An RS256 or ES256 token means nothing to a secret-only verifier. */
    CHECK_STR(verdict(a, pk_sign(RS, GOOD, rsa_key), "alice"),
              "alg not accepted by the configured keys");
    mqc_jwtauth_free(a);
}

TEST(alg_none_crit_and_malformed)
{
    struct mqc_jwtauth *a = make(SECRET, NULL, NULL, NULL);
    if (!CHECK(a != NULL))
        return;
    char *in = signing_input("{\"alg\":\"none\"}", GOOD);
    CHECK_STR(verdict(a, append_sig(in, (const unsigned char *)"x", 1), "alice"),
              "alg not accepted by the configured keys");
    in = signing_input("{\"alg\":\"none\"}", GOOD);
    char *unsigned_tok = malloc(strlen(in) + 2);
    sprintf(unsigned_tok, "%s.", in);
    free(in);
    CHECK_STR(verdict(a, unsigned_tok, "alice"), "malformed token");
    CHECK_STR(verdict(a, hs256("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", GOOD, SECRET), "alice"),
              "crit header not understood");
    CHECK_STR(verdict(a, hs256("{\"alg\":\"hs256\"}", GOOD, SECRET), "alice"),
              "alg not accepted by the configured keys");
    CHECK_STR(verdict(a, hs256(HS, "[1,2]", SECRET), "alice"), "malformed claims");
    CHECK_STR(verdict(a, strdup("a.b.c.d"), "alice"), "malformed token");
    CHECK_STR(verdict(a, strdup("..."), "alice"), "malformed token");
    CHECK_STR(verdict(a, strdup(""), "alice"), "malformed token");
    /* Tampering with the claims breaks the signature. */
    char *tok = hs256(HS, GOOD, SECRET);
    char *evil = signing_input(HS, "{\"sub\":\"mallory\",\"exp\":1800000600}");
    char *dot = strrchr(tok, '.');
    char *forged = malloc(strlen(evil) + strlen(dot) + 1);
    sprintf(forged, "%s%s", evil, dot);
    free(evil);
    free(tok);
    CHECK_STR(verdict(a, forged, "mallory"), "bad signature");
    /* Over MQC_JWT_MAX. */
    char *big = malloc(MQC_JWT_MAX + 200);
    memset(big, 'a', MQC_JWT_MAX + 199);
    big[MQC_JWT_MAX + 199] = '\0';
    big[10] = big[20] = '.';
    CHECK_STR(verdict(a, big, "alice"), "malformed token");
    mqc_jwtauth_free(a);
}

/* A claim or header given twice could name one user to this verifier and
 * another to the next (cJSON keeps the first, many parsers the last):
 * refused, however the second is spelled (RFC 7519 section 4). */
TEST(duplicate_claims_refused)
{
    struct mqc_jwtauth *a = make(SECRET, NULL, NULL, NULL);
    if (!CHECK(a != NULL))
        return;
    CHECK_STR(
        verdict(a, hs256(HS, "{\"sub\":\"alice\",\"sub\":\"mallory\",\"exp\":1800000600}", SECRET),
                "alice"),
        "malformed claims");
    CHECK_STR(verdict(a,
                      hs256(HS, "{\"sub\":\"alice\",\"s\\u0075b\":\"mallory\",\"exp\":1800000600}",
                            SECRET),
                      "alice"),
              "malformed claims");
    CHECK_STR(
        verdict(a, hs256(HS, "{\"sub\":\"alice\",\"exp\":1,\"exp\":1800000600}", SECRET), "alice"),
        "malformed claims");
    CHECK(strcmp(verdict(a, hs256("{\"alg\":\"HS256\",\"alg\":\"none\"}", GOOD, SECRET), "alice"),
                 "") != 0);
    /* the same claims, once each, are fine */
    CHECK_STR(verdict(a, hs256(HS, "{\"sub\":\"alice\",\"exp\":1800000600}", SECRET), "alice"), "");
    mqc_jwtauth_free(a);
}

TEST(rs256_pinned_to_rsa_key)
{
    struct mqc_jwtauth *a = make(NULL, rsa_pub, NULL, NULL);
    if (!CHECK(a != NULL))
        return;
    CHECK_STR(verdict(a, pk_sign(RS, GOOD, rsa_key), "alice"), "");
    EVP_PKEY *other = EVP_RSA_gen(2048);
    CHECK_STR(verdict(a, pk_sign(RS, GOOD, other), "alice"), "bad signature");
    EVP_PKEY_free(other);
    CHECK_STR(verdict(a, pk_sign(ES, GOOD, ec_key), "alice"),
              "alg not accepted by the configured keys");
    /* The classic confusion: HS256 "signed" with the public key's PEM text. */
    FILE *f = fopen(rsa_pub, "r");
    char pem[4096] = "";
    size_t n = fread(pem, 1, sizeof pem - 1, f);
    fclose(f);
    pem[n] = '\0';
    CHECK_STR(verdict(a, hs256(HS, GOOD, pem), "alice"), "alg not accepted by the configured keys");
    mqc_jwtauth_free(a);
}

TEST(es256_pinned_to_ec_key)
{
    struct mqc_jwtauth *a = make(SECRET, ec_pub, NULL, NULL);
    if (!CHECK(a != NULL))
        return;
    CHECK_STR(verdict(a, pk_sign(ES, GOOD, ec_key), "alice"), "");
    CHECK_STR(verdict(a, hs256(HS, GOOD, SECRET), "alice"), ""); /* both configured */
    CHECK_STR(verdict(a, pk_sign(RS, GOOD, rsa_key), "alice"),
              "alg not accepted by the configured keys");
    EVP_PKEY *other = EVP_EC_gen("P-256");
    CHECK_STR(verdict(a, pk_sign(ES, GOOD, other), "alice"), "bad signature");
    EVP_PKEY_free(other);
    /* A DER signature where JWS wants R||S. */
    char *in = signing_input(ES, GOOD);
    CHECK_STR(verdict(a, append_sig(in, (const unsigned char *)"0123456789", 10), "alice"),
              "bad signature");
    mqc_jwtauth_free(a);
}

TEST(issuer_and_audience)
{
    struct mqc_jwtauth *a = make(SECRET, NULL, "https://auth.example", "mqchat");
    if (!CHECK(a != NULL))
        return;
    const char *ok1 = "{\"sub\":\"alice\",\"exp\":1800000600,\"iss\":\"https://"
                      "auth.example\",\"aud\":\"mqchat\"}";
    const char *ok2 = "{\"sub\":\"alice\",\"exp\":1800000600,\"iss\":\"https://auth.example\","
                      "\"aud\":[\"web\",\"mqchat\"]}";
    const char *bad_iss =
        "{\"sub\":\"alice\",\"exp\":1800000600,\"iss\":\"https://evil\",\"aud\":\"mqchat\"}";
    const char *bad_aud =
        "{\"sub\":\"alice\",\"exp\":1800000600,\"iss\":\"https://auth.example\",\"aud\":[\"web\"]}";
    CHECK_STR(verdict(a, hs256(HS, ok1, SECRET), "alice"), "");
    CHECK_STR(verdict(a, hs256(HS, ok2, SECRET), "alice"), "");
    CHECK_STR(verdict(a, hs256(HS, bad_iss, SECRET), "alice"), "wrong issuer");
    CHECK_STR(verdict(a, hs256(HS, bad_aud, SECRET), "alice"), "wrong audience");
    CHECK_STR(verdict(a, hs256(HS, GOOD, SECRET), "alice"), "wrong issuer");
    mqc_jwtauth_free(a);
}

TEST(is_token)
{
    char *tok = hs256(HS, GOOD, SECRET);
    CHECK(mqc_jwtauth_is_token(tok));
    free(tok);
    CHECK(!mqc_jwtauth_is_token("my.pass.word"));
    CHECK(!mqc_jwtauth_is_token("correct horse battery staple"));
    CHECK(!mqc_jwtauth_is_token(""));
    tok = hs256("{\"typ\":\"JWT\"}", GOOD, SECRET); /* no alg: a password */
    CHECK(!mqc_jwtauth_is_token(tok));
    free(tok);
}

TEST(bad_keys_refused_at_start)
{
    struct mqc_jwtauth_opts o = {NULL, "/nonexistent/key.pem", NULL, NULL, 30};
    struct mqc_jwtauth *a = NULL;
    char err[256] = "";
    CHECK_EQ_INT(mqc_jwtauth_new(&o, &a, err, sizeof err), MQC_EBADREQ);
    CHECK(strstr(err, "plugin_opt_jwt_public_key: cannot read") != NULL);
    o.public_key_path = small_pub;
    CHECK_EQ_INT(mqc_jwtauth_new(&o, &a, err, sizeof err), MQC_EBADREQ);
    CHECK(strstr(err, "neither an RSA key") != NULL);
    o.public_key_path = bad_pub;
    CHECK_EQ_INT(mqc_jwtauth_new(&o, &a, err, sizeof err), MQC_EBADREQ);
    CHECK(strstr(err, "no PEM public key") != NULL);
    CHECK(a == NULL);
}

int main(void)
{
    ec_key = EVP_EC_gen("P-256");
    rsa_key = EVP_RSA_gen(2048);
    rsa_small = EVP_RSA_gen(1024);
    if (!ec_key || !rsa_key || !rsa_small) {
        fprintf(stderr, "cannot generate test keys\n");
        return 1;
    }
    write_pub(ec_key, ec_pub);
    write_pub(rsa_key, rsa_pub);
    write_pub(rsa_small, small_pub);
    strcpy(bad_pub, "/tmp/mqc-jwtauth-XXXXXX");
    int fd = mkstemp(bad_pub);
    if (write(fd, "not a key\n", 10) != 10)
        return 1;
    close(fd);
    RUN(hs256_accepts_and_refuses);
    RUN(alg_none_crit_and_malformed);
    RUN(duplicate_claims_refused);
    RUN(rs256_pinned_to_rsa_key);
    RUN(es256_pinned_to_ec_key);
    RUN(issuer_and_audience);
    RUN(is_token);
    RUN(bad_keys_refused_at_start);
    unlink(ec_pub);
    unlink(rsa_pub);
    unlink(small_pub);
    unlink(bad_pub);
    EVP_PKEY_free(ec_key);
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(rsa_small);
    return test_finish();
}
