/* Fuzz target for requests on chat/u/{me}/req: mqc_envelope_parse() then
 * mqc_req_parse() as alice with a 100-member cap, and mqc_req_cleanup()
 * whatever the outcome. Oracles: a failure gives a reason; a success has a
 * request id and at most max_members members, each a non-NULL string. */
#include <string.h>

#include <cjson/cJSON.h>

#include "core/envelope.h"
#include "core/err.h"
#include "core/request.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    cJSON *root = NULL;
    if (mqc_envelope_parse(data, size, 65536, &root, NULL) != MQC_OK)
        return 0;
    struct mqc_req r;
    const char *why = NULL;
    int rc = mqc_req_parse(root, "alice", 100, &r, &why);
    if (rc == MQC_OK) {
        FUZZ_CHECK(r.req != NULL && r.op_name != NULL);
        FUZZ_CHECK(r.nmembers <= 100);
        FUZZ_CHECK(r.nmembers == 0 || r.members != NULL);
        for (size_t i = 0; i < r.nmembers; i++)
            FUZZ_CHECK(r.members[i] != NULL);
        if (r.op == MQC_OP_HISTORY)
            FUZZ_CHECK(r.limit >= 1 && r.limit <= MQC_HISTORY_MAX);
        if (r.op == MQC_OP_SYNC)
            FUZZ_CHECK(r.limit >= 1 && r.limit <= MQC_SYNC_MAX);
        if (r.op == MQC_OP_DEVICE || r.op == MQC_OP_UNDEVICE)
            FUZZ_CHECK(r.token != NULL && strlen(r.token) <= MQC_PUSH_TOKEN_MAX);
    } else {
        FUZZ_CHECK(rc == MQC_EBADREQ || rc == MQC_ENOMEM);
        FUZZ_CHECK(why != NULL);
    }
    mqc_req_cleanup(&r);
    cJSON_Delete(root);
    return 0;
}
