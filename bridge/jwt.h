/* JSON Web Tokens the bridge signs: the APNs provider token (ES256 with the
 * team's .p8 key) and the Google OAuth2 assertion (RS256 with the service
 * account's key), with OpenSSL 3 EVP. Pure: no network, no clock (the
 * caller passes the times); only mqc_jwt_load_key_file() reads a file. */
#ifndef MQC_BRIDGE_JWT_H
#define MQC_BRIDGE_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* Load a private key (EC P-256 or RSA of 2048 bits or more) from PEM text
 * (pem borrowed, len bytes; PKCS#8 "PRIVATE KEY", or the traditional EC/RSA
 * forms). Encrypted keys are refused, never prompted for. *out (borrowed)
 * gets the key, returned owned: EVP_PKEY_free() it. Returns MQC_OK,
 * MQC_EBADREQ (not a usable key) or MQC_ENOMEM. */
int mqc_jwt_load_key_pem(const char *pem, size_t len, EVP_PKEY **out);
/* The same from the file at path (borrowed). MQC_ENOTFOUND if it cannot be
 * read. The file's bytes are wiped from memory after use. */
int mqc_jwt_load_key_file(const char *path, EVP_PKEY **out);

/* APNs provider token for key (borrowed; EC P-256), key id kid and team id
 * iss (borrowed, non-empty), issued at iat (UNIX seconds):
 * base64url({"alg":"ES256","kid":kid}).base64url({"iss":iss,"iat":iat}).
 * base64url(R||S). *out (borrowed) gets the token, returned owned (free()).
 * Returns MQC_OK, MQC_EBADREQ (wrong key type, bad argument),
 * MQC_EINTERNAL (OpenSSL failed) or MQC_ENOMEM. */
int mqc_jwt_es256(EVP_PKEY *key, const char *kid, const char *iss, int64_t iat, char **out);

/* Convert an ECDSA P-256 signature from DER (der borrowed, len bytes:
 * SEQUENCE { INTEGER r, INTEGER s }) to the JWS form: r and s as unsigned
 * 32-byte big-endian numbers, left-padded with zeros, into raw (borrowed).
 * Refuses (MQC_EBADREQ) anything that is not exactly one such DER value with
 * 0 < r, s < 2^256. */
int mqc_jwt_ecdsa_der_to_raw(const unsigned char *der, size_t len, unsigned char raw[64]);

/* RS256 JWT over json_claims (borrowed, the claims object as text) with
 * header {"alg":"RS256","typ":"JWT"}, for key (borrowed; RSA). *out
 * (borrowed) gets the token, returned owned (free()). Same returns as
 * mqc_jwt_es256(). */
int mqc_jwt_rs256(EVP_PKEY *key, const char *json_claims, char **out);

/* Claims of the Google OAuth2 JWT-bearer assertion:
 * {"iss":iss,"scope":scope,"aud":aud,"iat":iat,"exp":exp} (strings borrowed,
 * non-empty; iat < exp <= iat + 3600). *out (borrowed) gets the JSON text,
 * returned owned (free()). MQC_OK, MQC_EBADREQ or MQC_ENOMEM. */
int mqc_jwt_google_claims(const char *iss, const char *scope, const char *aud, int64_t iat,
                          int64_t exp, char **out);

#endif
