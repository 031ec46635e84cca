/* FCM credentials, the pure parts: the Google service account (read from
 * its JSON file), the OAuth2 JWT-bearer token request body signed with its
 * key, and the token endpoint's reply. The request itself runs on the
 * sender's libcurl multi handle (sender.c), never blocking the loop. */
#ifndef MQC_BRIDGE_FCM_AUTH_H
#define MQC_BRIDGE_FCM_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define MQC_FCM_SCOPE "https://www.googleapis.com/auth/firebase.messaging"

struct mqc_fcm_account {
    EVP_PKEY *key;                     /* RSA, owned */
    char *project, *email, *token_uri; /* owned; token_uri is https:// */
};

/* Parse service-account JSON (text borrowed, len bytes) into *out
 * (borrowed, overwritten; clean it up after MQC_OK). MQC_EBADREQ with the
 * reason in why (borrowed, whylen bytes): not JSON, a member missing, a
 * token_uri that is not https, a private_key that is not a usable key.
 * MQC_ENOMEM. */
int mqc_fcm_account_parse(const char *text, size_t len, struct mqc_fcm_account *out, char *why,
                          size_t whylen);

/* The same from the file at path (borrowed). A file that cannot be read is
 * MQC_ENOTFOUND with "cannot read '<path>': <why>"; other reasons are
 * prefixed with '<path>'. The file's bytes are wiped after use. */
int mqc_fcm_account_load(const char *path, struct mqc_fcm_account *out, char *why, size_t whylen);

/* Free what *a (borrowed) owns; NULL and twice are fine. */
void mqc_fcm_account_cleanup(struct mqc_fcm_account *a);

/* The form body POSTed to token_uri at now_s (UNIX seconds):
 * grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<RS256
 * JWT, valid an hour>. *out (borrowed) gets it, returned owned (free()).
 * MQC_OK, or the mqc_jwt_rs256() errors. */
int mqc_fcm_token_form(const struct mqc_fcm_account *a, int64_t now_s, char **out);

/* Read the token endpoint's answer: HTTP status and body (borrowed, may be
 * NULL). MQC_OK: *token (borrowed) gets the access token, returned owned,
 * and *life_ms how long to use it (expires_in less a minute of margin, an
 * hour when absent). MQC_EUNAVAIL with the reason in why (the endpoint's
 * "error" and "error_description" when it gives them, else the status);
 * MQC_ENOMEM. */
int mqc_fcm_token_reply(long status, const char *body, char **token, int64_t *life_ms, char *why,
                        size_t whylen);

#endif
