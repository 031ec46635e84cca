/* Fuzz target for client payloads: mqc_envelope_parse() with the default
 * 64 KiB cap, then every payload parser (send, receipt, typing) and the
 * helpers the message path uses on the tree. Oracles: a parsed tree is an
 * object; a parser that succeeds fills its fields as promised, one that
 * fails gives a reason. */
#include <stdbool.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/envelope.h"
#include "core/err.h"
#include "core/json.h"
#include "core/utf8.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    cJSON *root = NULL;
    const char *why = NULL;
    int rc = mqc_envelope_parse(data, size, 65536, &root, &why);
    if (rc != MQC_OK) {
        FUZZ_CHECK(rc == MQC_EBADREQ || rc == MQC_ETOOLARGE || rc == MQC_ENOMEM);
        FUZZ_CHECK(rc != MQC_ETOOLARGE || size > 65536);
        FUZZ_CHECK(rc == MQC_ENOMEM || why != NULL);
        return 0;
    }
    FUZZ_CHECK(cJSON_IsObject(root));
    FUZZ_CHECK(size <= 65536);

    const char *ref = mqc_envelope_ref(root, "id");
    if (ref)
        FUZZ_CHECK(strlen(ref) >= 1 && mqc_utf8_count(ref, strlen(ref)) <= MQC_REF_MAX);
    (void)mqc_envelope_ref(root, "req");

    why = NULL;
    struct mqc_send send;
    if (mqc_send_parse(root, &send, &why) == MQC_OK) {
        FUZZ_CHECK(send.id != NULL && cJSON_IsString(send.body));
        /* attrs is kept as the client's text: an object that scans clean
         * again, and parses to the object cJSON would have read. */
        if (send.attrs) {
            const char *t = send.attrs->valuestring;
            struct mqc_json_scan sc = {.max_depth = MQC_ENVELOPE_DEPTH_MAX};
            FUZZ_CHECK(cJSON_IsRaw(send.attrs) && t != NULL);
            FUZZ_CHECK(mqc_json_scan(t, strlen(t), &sc) == MQC_OK && sc.type == MQC_JSON_OBJECT);
            cJSON *again = cJSON_Parse(t);
            FUZZ_CHECK(cJSON_IsObject(again));
            cJSON_Delete(again);
        }
        /* The body is re-sent to every member: escapes must not have made
         * it invalid UTF-8. */
        const char *body = send.body->valuestring;
        FUZZ_CHECK(body != NULL && mqc_utf8_valid(body, strlen(body)));
    } else {
        FUZZ_CHECK(why != NULL);
    }

    why = NULL;
    struct mqc_receipt rcpt;
    if (mqc_receipt_parse(root, &rcpt, &why) == MQC_OK) {
        FUZZ_CHECK(rcpt.seq >= 0 && rcpt.seq <= MQC_SEQ_MAX);
        FUZZ_CHECK(mqc_receipt_type_name(rcpt.type) != NULL);
    } else {
        FUZZ_CHECK(why != NULL);
    }

    why = NULL;
    struct mqc_typing typing;
    if (mqc_typing_parse(root, &typing, &why) != MQC_OK)
        FUZZ_CHECK(why != NULL);

    int64_t v;
    rc = mqc_envelope_int(root, "seq", 0, MQC_SEQ_MAX, &v);
    FUZZ_CHECK(rc == MQC_OK || rc == MQC_ENOTFOUND || rc == MQC_EBADREQ);
    if (rc == MQC_OK)
        FUZZ_CHECK(v >= 0 && v <= MQC_SEQ_MAX);
    rc = mqc_envelope_int(root, "until", -5, 5, &v);
    if (rc == MQC_OK)
        FUZZ_CHECK(v >= -5 && v <= 5);

    cJSON_Delete(root);
    return 0;
}
