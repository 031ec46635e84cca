/* Fuzz target for relation payloads: mqc_envelope_parse(), then
 * mqc_relation_parse() and, when it accepts, the event builder. Oracles: an
 * accepted relation has the fields its kind promises (a target >= 1 for
 * edit/delete/react, at most MQC_REACT_MAX distinct emojis of 1-32 bytes),
 * a refusal has a reason, and the built event is one JSON object. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/envelope.h"
#include "core/err.h"
#include "core/relation.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    cJSON *root = NULL;
    const char *why = NULL;
    if (mqc_envelope_parse(data, size, 65536, &root, &why) != MQC_OK)
        return 0;
    struct mqc_relation r;
    why = NULL;
    int rc = mqc_relation_parse(root, &r, &why);
    if (rc != MQC_OK) {
        FUZZ_CHECK(rc == MQC_EBADREQ && why != NULL);
        cJSON_Delete(root);
        return 0;
    }
    FUZZ_CHECK(r.kind == MQC_SEND_MSG ? r.target == 0 : r.target >= 1);
    FUZZ_CHECK(r.nemojis <= MQC_REACT_MAX);
    for (size_t i = 0; i < r.nemojis; i++) {
        size_t len = strlen(r.emojis[i]);
        FUZZ_CHECK(len >= 1 && len <= MQC_EMOJI_BYTES_MAX);
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(r.emojis[i], r.emojis[j]) != 0);
    }
    const cJSON *body = NULL, *attrs = NULL;
    struct mqc_send s;
    if (r.kind == MQC_SEND_MSG || r.kind == MQC_SEND_EDIT) {
        if (mqc_send_parse(root, &s, &why) != MQC_OK) {
            cJSON_Delete(root);
            return 0;
        }
        body = s.body;
        attrs = s.attrs;
    }
    char *p = NULL, *x = NULL;
    if (mqc_relation_event_parts("c1", "i", "u", 1, &r, body, attrs, &p, &x) == MQC_OK) {
        size_t n = strlen(p) + strlen(x) + 4;
        char *ev = malloc(n);
        if (ev) {
            snprintf(ev, n, "%s7%s", p, x);
            cJSON *back = cJSON_Parse(ev);
            FUZZ_CHECK(cJSON_IsObject(back));
            cJSON_Delete(back);
            free(ev);
        }
    }
    free(p);
    free(x);
    cJSON_Delete(root);
    return 0;
}
