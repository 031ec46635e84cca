/* Sync token encoding (see synctoken.h). */
#include "core/synctoken.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"

/* First 4 bytes of SHA-256("mqchat-sync\n" + user), as 8 hex digits. */
static void fingerprint(const char *user, char out[9])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)"mqchat-sync\n", 12);
    crypto_hash_sha256_update(&st, (const unsigned char *)user, strlen(user));
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(out, 9, h, 4);
}

/* Is s a stream id: digits "-" digits, each at most 20 digits? */
static int stream_id_valid(const char *s, size_t len)
{
    size_t i = 0, a = 0, b = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, a++;
    if (i >= len || s[i] != '-')
        return 0;
    i++;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, b++;
    return i == len && a >= 1 && a <= 20 && b >= 1 && b <= 20;
}

int mqc_synctoken_encode(const char *user, const char *stream_id, char *out, size_t size)
{
    if (!mqc_id_valid_str(user) || !stream_id || !stream_id_valid(stream_id, strlen(stream_id)))
        return MQC_EBADREQ;
    char fp[9];
    fingerprint(user, fp);
    int n = snprintf(out, size, "t1.%s.%s", stream_id, fp);
    return (n < 0 || (size_t)n >= size) ? MQC_EINTERNAL : MQC_OK;
}

int mqc_synctoken_decode(const char *user, const char *token, char *stream_id, size_t size)
{
    if (!mqc_id_valid_str(user) || !token || strncmp(token, "t1.", 3) != 0)
        return MQC_EBADREQ;
    const char *id = token + 3;
    const char *dot = strchr(id, '.');
    if (!dot || strlen(dot + 1) != 8)
        return MQC_EBADREQ;
    size_t len = (size_t)(dot - id);
    if (!stream_id_valid(id, len) || len >= size)
        return MQC_EBADREQ;
    char fp[9];
    fingerprint(user, fp);
    if (strcmp(fp, dot + 1) != 0)
        return MQC_EBADREQ;
    memcpy(stream_id, id, len);
    stream_id[len] = '\0';
    return MQC_OK;
}
