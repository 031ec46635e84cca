/* JWT passwords: a client may present a signed token instead of a password
 * (PROTOCOL.md, Identity). The verifier holds the configured keys and pins
 * each token's "alg" to them: HS256 only with the shared secret, RS256 only
 * with an RSA public key, ES256 only with an EC P-256 public key; "none" and
 * every other alg are refused, so no token can make one key type stand in for
 * another. Claims: "sub" must equal the MQTT username, "exp" is required,
 * "nbf" is honoured, both with a small leeway; "iss" and "aud" are checked
 * when configured. OpenSSL 3 EVP; no clock (the caller passes the time) and
 * no I/O except reading the public key file once in mqc_jwtauth_new(). */
#ifndef MQC_JWTAUTH_H
#define MQC_JWTAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* Longest token accepted, in bytes. */
#define MQC_JWT_MAX 8192

struct mqc_jwtauth;

/* The JWS algorithm a key (borrowed) is fit for: RS256 for RSA of 2048 bits
 * or more, ES256 for EC P-256, none otherwise. Shared with the push bridge,
 * which signs with such keys. */
enum mqc_jwt_key { MQC_JWT_KEY_NONE, MQC_JWT_KEY_RS256, MQC_JWT_KEY_ES256 };
enum mqc_jwt_key mqc_jwt_key_kind(EVP_PKEY *key);

struct mqc_jwtauth_opts {
    const char *secret;          /* HS256 shared secret, or NULL */
    const char *public_key_path; /* PEM "PUBLIC KEY" file (RSA >= 2048 bits or EC P-256), or NULL */
    const char *issuer;          /* required "iss", or NULL */
    const char *audience;        /* required in "aud", or NULL */
    long leeway_s;               /* clock skew allowed on exp and nbf */
};

/* A verifier for opts (all strings borrowed; at least one of secret and
 * public_key_path set). *out (borrowed) gets it, returned owned. On error a
 * reason naming the option goes into err: MQC_EBADREQ (unreadable file, not a
 * usable public key) or MQC_ENOMEM. */
int mqc_jwtauth_new(const struct mqc_jwtauth_opts *opts, struct mqc_jwtauth **out, char *err,
                    size_t errlen);
void mqc_jwtauth_free(struct mqc_jwtauth *a);

/* True if pw (borrowed, NUL-terminated) has the shape of a JWS compact token
 * whose first part decodes to a JSON object with an "alg" member: such a
 * password is judged as a token, never as a password. */
bool mqc_jwtauth_is_token(const char *pw);

/* Verify token (borrowed) for user (borrowed) at now_s (UNIX seconds).
 * MQC_OK, or MQC_EAUTH with *why (borrowed, static) set to a short reason
 * for the operator's log (never the token). MQC_ENOMEM when out of memory. */
int mqc_jwtauth_verify(const struct mqc_jwtauth *a, const char *token, const char *user,
                       int64_t now_s, const char **why);

#endif
