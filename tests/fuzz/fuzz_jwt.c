/* Fuzz target for JWT passwords, which any client can send in CONNECT:
 * mqc_jwtauth_is_token() and mqc_jwtauth_verify() of the input (as a
 * NUL-terminated string) for alice, with an HS256 secret and an EC P-256
 * public key configured. Whatever verifies must have the shape of a token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/err.h"
#include "core/jwtauth.h"
#include "tests/fuzz/fuzz.h"

static struct mqc_jwtauth *verifier(void)
{
    char path[] = "/tmp/mqc-fuzz-jwt-XXXXXX";
    int fd = mkstemp(path);
    FUZZ_CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    EVP_PKEY *key = EVP_EC_gen("P-256");
    FUZZ_CHECK(f && key && PEM_write_PUBKEY(f, key) == 1);
    fclose(f);
    EVP_PKEY_free(key);
    struct mqc_jwtauth_opts o = {"fuzz-secret-fuzz-secret-fuzz-secret", path, "iss", "aud", 30};
    struct mqc_jwtauth *a = NULL;
    char err[256];
    FUZZ_CHECK(mqc_jwtauth_new(&o, &a, err, sizeof err) == MQC_OK);
    unlink(path);
    return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mqc_jwtauth *a;
    if (!a) {
        fuzz_quiet();
        a = verifier();
    }
    char *token = fuzz_strndup(data, size);
    bool shaped = mqc_jwtauth_is_token(token);
    const char *why = NULL;
    int rc = mqc_jwtauth_verify(a, token, "alice", 1800000000, &why);
    FUZZ_CHECK(rc == MQC_OK || rc == MQC_EAUTH || rc == MQC_ENOMEM);
    FUZZ_CHECK(rc != MQC_OK || shaped);
    FUZZ_CHECK(rc == MQC_OK || why != NULL);
    free(token);
    return 0;
}
