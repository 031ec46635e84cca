/* Fuzz target for the FCM credentials parsers (bridge/fcm_auth.h): the
 * input as a service-account file through mqc_fcm_account_parse(), and as
 * the token endpoint's reply through mqc_fcm_token_reply() (status 200 and
 * 400). Oracles: an accepted account has an RSA key, every string set and
 * an https token_uri; a refusal writes a terminated reason; an accepted
 * reply has a token and a positive lifetime of at most a day. The PEM text
 * alone is tried through mqc_jwt_load_key_pem() when the input starts like
 * one, so the corpus can hold bare PEM keys. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bridge/fcm_auth.h"
#include "bridge/jwt.h"
#include "core/err.h"
#include "tests/fuzz/fuzz.h"

static void try_key(const char *pem, size_t len)
{
    EVP_PKEY *key = NULL;
    int rc = mqc_jwt_load_key_pem(pem, len, &key);
    if (rc == MQC_OK) {
        FUZZ_CHECK(key != NULL);
        int id = EVP_PKEY_get_base_id(key);
        FUZZ_CHECK(id == EVP_PKEY_EC || id == EVP_PKEY_RSA);
        EVP_PKEY_free(key);
    } else {
        FUZZ_CHECK(rc == MQC_EBADREQ || rc == MQC_ENOMEM);
    }
}

static void try_reply(long status, const char *text)
{
    char *tok = NULL;
    int64_t life = 0;
    char why[128];
    memset(why, 'x', sizeof why);
    int rc = mqc_fcm_token_reply(status, text, &tok, &life, why, sizeof why);
    if (rc == MQC_OK) {
        FUZZ_CHECK(status == 200 && tok && *tok);
        FUZZ_CHECK(life > 0 && life <= 86400LL * 1000);
    } else {
        FUZZ_CHECK(rc == MQC_EUNAVAIL || rc == MQC_ENOMEM);
        FUZZ_CHECK(tok == NULL && memchr(why, '\0', sizeof why) != NULL);
    }
    free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *text = fuzz_strndup(data, size);
    if (strncmp(text, "-----BEGIN", 10) == 0)
        try_key(text, size);
    struct mqc_fcm_account a;
    char why[256];
    memset(why, 'x', sizeof why);
    int rc = mqc_fcm_account_parse(text, size, &a, why, sizeof why);
    if (rc == MQC_OK) {
        FUZZ_CHECK(a.key && EVP_PKEY_get_base_id(a.key) == EVP_PKEY_RSA);
        FUZZ_CHECK(a.project && a.email && a.token_uri);
        FUZZ_CHECK(strncmp(a.token_uri, "https://", 8) == 0);
        mqc_fcm_account_cleanup(&a);
    } else {
        FUZZ_CHECK(rc == MQC_EBADREQ || rc == MQC_ENOMEM);
        FUZZ_CHECK(memchr(why, '\0', sizeof why) != NULL);
        FUZZ_CHECK(a.key == NULL);
    }
    try_reply(200, text);
    try_reply(400, text);
    free(text);
    return 0;
}
