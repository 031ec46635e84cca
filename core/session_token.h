/* Device session tokens (PROTOCOL.md "Device sessions"): the token format,
 * its keyed hash and the stored record. Pure: no I/O, no clock (callers pass
 * the time); randomness and HMAC-SHA256 come from libsodium.
 *
 *   token  = "s1." <device id: 11 chars> "." <secret: 43 chars>   (58 chars)
 *
 * Both parts are base64url without padding of random bytes (8 and 32). The
 * device id names the record <p>{u:U}:sess[device]; the secret is never
 * stored: the record holds HMAC-SHA256(key, user "\n" device "\n" secret),
 * so a token is bound to its user and a leaked Redis copy logs nobody in.
 *
 *   record = <hash: 43 chars> "\t" created "\t" last_used "\t" expires "\t" label
 *
 * (times in ms since the epoch; the label last, so it may hold anything but
 * control characters). */
#ifndef MQC_SESSION_TOKEN_H
#define MQC_SESSION_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQC_SESS_DEVICE_LEN 11 /* base64url of 8 random bytes */
#define MQC_SESS_SECRET_LEN 43 /* base64url of 32 random bytes */
#define MQC_SESS_HASH_LEN 43   /* base64url of an HMAC-SHA256 */
#define MQC_SESS_TOKEN_LEN (3 + MQC_SESS_DEVICE_LEN + 1 + MQC_SESS_SECRET_LEN)
#define MQC_SESS_TOKEN_MAX 200 /* the wire contract's bound on any token */
#define MQC_SESS_LABEL_MAX 64  /* characters (UTF-8) */
#define MQC_SESS_KEY_BYTES 32
#define MQC_SESS_PER_USER_MAX 100 /* live sessions one user may hold */
/* A record's largest size: hash, three times, a label of 64 4-byte chars. */
#define MQC_SESS_RECORD_MAX (MQC_SESS_HASH_LEN + 3 * 21 + 4 + 4 * MQC_SESS_LABEL_MAX + 1)

struct mqc_sess_token {
    char device[MQC_SESS_DEVICE_LEN + 1];
    char secret[MQC_SESS_SECRET_LEN + 1];
};

struct mqc_sess_record {
    char hash[MQC_SESS_HASH_LEN + 1];
    int64_t created, last_used, expires;
    char label[4 * MQC_SESS_LABEL_MAX + 1];
};

/* Whether s (len bytes, borrowed) has the shape of a session token: the
 * "s1." prefix and the exact length. A password of that shape is taken for
 * a token (none of the 2^-300 odds a random password has matter here). */
bool mqc_sess_is_token(const char *s, size_t len);

/* Parse len bytes of s (borrowed; untrusted, need not be NUL-terminated)
 * into *out. MQC_OK, or MQC_EBADREQ for anything but a well-formed token
 * (wrong prefix or length, a character outside base64url, an embedded NUL,
 * longer than MQC_SESS_TOKEN_MAX). */
int mqc_sess_parse(const char *s, size_t len, struct mqc_sess_token *out);

/* A new token: a random secret, and a random device id unless device is
 * given (a rotation keeps the device: borrowed, must be a valid device id).
 * Writes the token text into buf (at least MQC_SESS_TOKEN_LEN + 1 bytes).
 * MQC_OK or MQC_EBADREQ (bad device, small buf). */
int mqc_sess_new(const char *device, struct mqc_sess_token *t, char *buf, size_t size);

/* Whether s is a device id (MQC_SESS_DEVICE_LEN base64url characters). */
bool mqc_sess_device_valid(const char *s);

/* The secret key from its text (the option, or what Redis keeps): SHA-256
 * of the text, so any length works. text borrowed. */
void mqc_sess_key(const char *text, unsigned char key[MQC_SESS_KEY_BYTES]);

/* Random key text for Redis to keep (43 base64url chars + NUL in out). */
void mqc_sess_key_text_new(char out[MQC_SESS_SECRET_LEN + 1]);

/* The stored hash of token t for user (borrowed): base64url into out. */
void mqc_sess_hash(const unsigned char key[MQC_SESS_KEY_BYTES], const char *user,
                   const struct mqc_sess_token *t, char out[MQC_SESS_HASH_LEN + 1]);

/* Constant-time comparison of two hashes (MQC_SESS_HASH_LEN chars each). */
bool mqc_sess_hash_equal(const char *a, const char *b);

/* Whether label (borrowed, NUL-terminated) may name a device: valid UTF-8,
 * at most MQC_SESS_LABEL_MAX characters, no control characters. */
bool mqc_sess_label_valid(const char *label);

/* Parse a stored record (len bytes, borrowed; Redis data is trusted less
 * than our own, so checked as strictly as input). MQC_OK or MQC_EBADREQ. */
int mqc_sess_record_parse(const char *s, size_t len, struct mqc_sess_record *out);

/* Format r into buf. MQC_OK, or MQC_EBADREQ when it does not fit or the
 * label is invalid. */
int mqc_sess_record_format(const struct mqc_sess_record *r, char *buf, size_t size);

#endif
