/* Fuzz target for push jobs as the bridge reads them from the Redis stream:
 * the input split on NUL bytes, the first piece as the stream entry id and
 * the rest as the flat field, value, ... list, through mqc_push_job_parse();
 * a job that parses is rendered with mqc_apns_payload() and
 * mqc_fcm_payload() at the 4096-byte limit. Oracles: each body is NULL or
 * at most 4096 bytes, and is valid UTF-8 JSON. */
#include <string.h>

#include <cjson/cJSON.h>

#include "bridge/payload.h"
#include "core/err.h"
#include "core/utf8.h"
#include "tests/fuzz/fuzz.h"

#define MAX_PIECES 64
#define FCM_TOKEN "fcm-token:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"

static void check_body(char *body)
{
    if (!body)
        return;
    size_t n = strlen(body);
    FUZZ_CHECK(n <= MQC_PUSH_PAYLOAD_MAX);
    FUZZ_CHECK(mqc_utf8_valid(body, n));
    cJSON *j = cJSON_Parse(body);
    FUZZ_CHECK(cJSON_IsObject(j));
    cJSON_Delete(j);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    /* One NUL-terminated copy; each NUL in the input ends a piece. */
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';
    const char *pieces[MAX_PIECES];
    size_t n = 0;
    for (size_t start = 0; start <= size && n < MAX_PIECES;) {
        pieces[n++] = text + start;
        start += strlen(text + start) + 1;
    }
    struct mqc_push_job j;
    int rc = mqc_push_job_parse(pieces[0], n > 1 ? pieces + 1 : NULL, n - 1, &j);
    if (rc == MQC_OK) {
        FUZZ_CHECK(j.id && j.user && j.conv && j.kind && j.from);
        FUZZ_CHECK(j.seq >= 0);
        FUZZ_CHECK(j.preview == NULL || mqc_utf8_valid(j.preview, strlen(j.preview)));
        FUZZ_CHECK(mqc_push_generic_body(&j) != NULL);
        check_body(mqc_apns_payload(&j, MQC_PUSH_PAYLOAD_MAX));
        check_body(mqc_fcm_payload(&j, FCM_TOKEN, MQC_PUSH_PAYLOAD_MAX));
        /* A tight limit exercises the shortening path on every job. */
        char *small = mqc_apns_payload(&j, 160);
        FUZZ_CHECK(small == NULL || strlen(small) <= 160);
        free(small);
        small = mqc_fcm_payload(&j, FCM_TOKEN, 200);
        FUZZ_CHECK(small == NULL || strlen(small) <= 200);
        free(small);
        mqc_push_job_cleanup(&j);
    } else {
        FUZZ_CHECK(rc == MQC_EBADREQ || rc == MQC_ENOMEM);
    }
    free(text);
    return 0;
}
