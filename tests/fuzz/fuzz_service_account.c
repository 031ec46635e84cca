/* Fuzz target for the FCM service-account file: the input as JSON read the
 * way bridge/sender.c's load_service_account() reads it (cJSON_Parse, then
 * project_id, private_key, client_email, token_uri), and the private_key
 * string, when there is one, through mqc_jwt_load_key_pem(). Oracle: a key
 * that loads is EC or RSA. The PEM text alone is also tried when the input
 * is not JSON, so the corpus can hold bare PEM keys. */
#include <stdbool.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *text = fuzz_strndup(data, size);
    cJSON *j = cJSON_Parse(text);
    if (!j) {
        if (strncmp(text, "-----BEGIN", 10) == 0)
            try_key(text, size);
        free(text);
        return 0;
    }
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(j, "project_id");
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(j, "private_key");
    const cJSON *email = cJSON_GetObjectItemCaseSensitive(j, "client_email");
    const cJSON *uri = cJSON_GetObjectItemCaseSensitive(j, "token_uri");
    /* sender.c loads the key only when all four are strings and token_uri
     * is https; here the key is tried whenever it is a string, so the
     * fuzzer need not find the other three first. */
    bool usable = cJSON_IsString(pid) && cJSON_IsString(email) && cJSON_IsString(uri) &&
                  strncmp(uri->valuestring, "https://", 8) == 0;
    (void)usable;
    if (cJSON_IsString(key))
        try_key(key->valuestring, strlen(key->valuestring));
    cJSON_Delete(j);
    free(text);
    return 0;
}
