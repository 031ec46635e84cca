/* Device session tokens: format, keyed hash and stored record (see
 * session_token.h). */
#include "core/session_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/err.h"
#include "core/utf8.h"

static const char PREFIX[] = "s1.";

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static bool b64url_span(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!b64url_char(s[i]))
            return false;
    }
    return true;
}

bool mqc_sess_is_token(const char *s, size_t len)
{
    return s && len == MQC_SESS_TOKEN_LEN && memcmp(s, PREFIX, 3) == 0;
}

int mqc_sess_parse(const char *s, size_t len, struct mqc_sess_token *out)
{
    memset(out, 0, sizeof *out);
    if (!s || len > MQC_SESS_TOKEN_MAX || !mqc_sess_is_token(s, len))
        return MQC_EBADREQ;
    const char *dev = s + 3, *dot = dev + MQC_SESS_DEVICE_LEN, *sec = dot + 1;
    if (*dot != '.' || !b64url_span(dev, MQC_SESS_DEVICE_LEN) ||
        !b64url_span(sec, MQC_SESS_SECRET_LEN))
        return MQC_EBADREQ;
    memcpy(out->device, dev, MQC_SESS_DEVICE_LEN);
    memcpy(out->secret, sec, MQC_SESS_SECRET_LEN);
    return MQC_OK;
}

bool mqc_sess_device_valid(const char *s)
{
    return s && strlen(s) == MQC_SESS_DEVICE_LEN && b64url_span(s, MQC_SESS_DEVICE_LEN);
}

/* base64url (no padding) of n random bytes into out (enc chars + NUL). */
static void random_text(size_t n, char *out, size_t enc)
{
    unsigned char raw[32];
    randombytes_buf(raw, n);
    sodium_bin2base64(out, enc + 1, raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

int mqc_sess_new(const char *device, struct mqc_sess_token *t, char *buf, size_t size)
{
    if (size < MQC_SESS_TOKEN_LEN + 1 || (device && !mqc_sess_device_valid(device)))
        return MQC_EBADREQ;
    if (device)
        memcpy(t->device, device, MQC_SESS_DEVICE_LEN + 1);
    else
        random_text(8, t->device, MQC_SESS_DEVICE_LEN);
    random_text(32, t->secret, MQC_SESS_SECRET_LEN);
    snprintf(buf, size, "%s%s.%s", PREFIX, t->device, t->secret);
    return MQC_OK;
}

void mqc_sess_key(const char *text, unsigned char key[MQC_SESS_KEY_BYTES])
{
    crypto_hash_sha256(key, (const unsigned char *)text, strlen(text));
}

void mqc_sess_key_text_new(char out[MQC_SESS_SECRET_LEN + 1])
{
    random_text(32, out, MQC_SESS_SECRET_LEN);
}

void mqc_sess_hash(const unsigned char key[MQC_SESS_KEY_BYTES], const char *user,
                   const struct mqc_sess_token *t, char out[MQC_SESS_HASH_LEN + 1])
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, key, MQC_SESS_KEY_BYTES);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)user, strlen(user));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)t->device, MQC_SESS_DEVICE_LEN);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)t->secret, MQC_SESS_SECRET_LEN);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(out, MQC_SESS_HASH_LEN + 1, mac, sizeof mac,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(&st, sizeof st);
}

bool mqc_sess_hash_equal(const char *a, const char *b)
{
    return sodium_memcmp(a, b, MQC_SESS_HASH_LEN) == 0;
}

bool mqc_sess_label_valid(const char *label)
{
    if (!label)
        return false;
    size_t len = strlen(label);
    if (!mqc_utf8_valid(label, len) || mqc_utf8_count(label, len) > MQC_SESS_LABEL_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)label[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* A decimal ms time of [s, s+len): MQC_OK or MQC_EBADREQ. */
static int parse_ms(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 18)
        return MQC_EBADREQ;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return MQC_EBADREQ;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return MQC_OK;
}

int mqc_sess_record_parse(const char *s, size_t len, struct mqc_sess_record *out)
{
    memset(out, 0, sizeof *out);
    if (!s || len < MQC_SESS_HASH_LEN + 1 || s[MQC_SESS_HASH_LEN] != '\t' ||
        !b64url_span(s, MQC_SESS_HASH_LEN))
        return MQC_EBADREQ;
    memcpy(out->hash, s, MQC_SESS_HASH_LEN);
    const char *p = s + MQC_SESS_HASH_LEN + 1, *end = s + len;
    int64_t *times[] = {&out->created, &out->last_used, &out->expires};
    for (size_t i = 0; i < 3; i++) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        if (!tab || parse_ms(p, (size_t)(tab - p), times[i]) != MQC_OK)
            return MQC_EBADREQ;
        p = tab + 1;
    }
    size_t ll = (size_t)(end - p);
    if (ll >= sizeof out->label)
        return MQC_EBADREQ;
    memcpy(out->label, p, ll);
    out->label[ll] = '\0';
    return mqc_sess_label_valid(out->label) ? MQC_OK : MQC_EBADREQ;
}

int mqc_sess_record_format(const struct mqc_sess_record *r, char *buf, size_t size)
{
    if (!mqc_sess_label_valid(r->label) || strlen(r->hash) != MQC_SESS_HASH_LEN)
        return MQC_EBADREQ;
    int n = snprintf(buf, size, "%s\t%lld\t%lld\t%lld\t%s", r->hash, (long long)r->created,
                     (long long)r->last_used, (long long)r->expires, r->label);
    return n < 0 || (size_t)n >= size ? MQC_EBADREQ : MQC_OK;
}
