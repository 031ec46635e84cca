/* Conversation id minting (libsodium: SHA-256 and the system CSPRNG). */
#include "core/convid.h"

#include <sodium.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"

static int encode(const char *tag, const unsigned char *bytes, char *out, size_t size)
{
    if (size < MQC_CONVID_LEN + 1)
        return MQC_EINTERNAL;
    memcpy(out, tag, 2);
    sodium_bin2hex(out + 2, size - 2, bytes, 16);
    return MQC_OK;
}

int mqc_convid_direct(const char *a, const char *b, char *out, size_t size)
{
    if (!mqc_id_valid_str(a) || !mqc_id_valid_str(b))
        return MQC_EBADREQ;
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)a, strlen(a));
    crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)b, strlen(b));
    crypto_hash_sha256_final(&st, h);
    return encode("d-", h, out, size);
}

int mqc_convid_group(char *out, size_t size)
{
    unsigned char r[16];
    randombytes_buf(r, sizeof r);
    return encode("g-", r, out, size);
}
