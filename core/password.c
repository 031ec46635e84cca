/* argon2id password hashing via libsodium's crypto_pwhash_str_alg. */
#include "core/password.h"

#include <sodium.h>
#include <string.h>

#include "core/err.h"

#define OPSLIMIT 2ULL
#define MEMLIMIT (19ULL * 1024 * 1024)

int mqc_password_init(void)
{
    return sodium_init() < 0 ? MQC_EINTERNAL : MQC_OK;
}

int mqc_password_hash(const char *pw, size_t len, char *out, size_t size)
{
    if (!pw || len == 0 || len > MQC_PASSWORD_MAX)
        return MQC_EBADREQ;
    if (size < crypto_pwhash_STRBYTES)
        return MQC_EINTERNAL;
    if (crypto_pwhash_str_alg(out, pw, len, OPSLIMIT, MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return MQC_ENOMEM;
    return MQC_OK;
}

bool mqc_password_verify(const char *stored, const char *pw, size_t len)
{
    if (!stored || !pw || len == 0 || len > MQC_PASSWORD_MAX)
        return false;
    if (strnlen(stored, crypto_pwhash_STRBYTES) >= crypto_pwhash_STRBYTES)
        return false;
    if (strncmp(stored, "$argon2id$", 10) != 0)
        return false;
    return crypto_pwhash_str_verify(stored, pw, len) == 0;
}
