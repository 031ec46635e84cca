/* Fuzz target for sync tokens, which clients send back in `sync` requests:
 * mqc_synctoken_decode() of the input (as a NUL-terminated string) for
 * alice; a token that decodes must encode back to exactly itself, and must
 * not decode for another user. */
#include <string.h>

#include "core/err.h"
#include "core/password.h"
#include "core/synctoken.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        fuzz_quiet();
        FUZZ_CHECK(mqc_password_init() == MQC_OK);
        ready = 1;
    }
    char *token = fuzz_strndup(data, size);
    char sid[MQC_STREAMID_MAX + 1];
    if (mqc_synctoken_decode("alice", token, sid, sizeof sid) == MQC_OK) {
        FUZZ_CHECK(strlen(sid) < sizeof sid);
        char again[MQC_SYNCTOKEN_MAX + 1];
        FUZZ_CHECK(mqc_synctoken_encode("alice", sid, again, sizeof again) == MQC_OK);
        FUZZ_CHECK(strcmp(again, token) == 0);
        char other[MQC_STREAMID_MAX + 1];
        FUZZ_CHECK(mqc_synctoken_decode("bob", token, other, sizeof other) == MQC_EBADREQ);
    }
    /* Also as a stream id: whatever encodes must decode to itself. */
    char tok[MQC_SYNCTOKEN_MAX + 1];
    if (mqc_synctoken_encode("alice", token, tok, sizeof tok) == MQC_OK) {
        char back[MQC_STREAMID_MAX + 1];
        int rc = mqc_synctoken_decode("alice", tok, back, sizeof back);
        FUZZ_CHECK(rc == MQC_OK && strcmp(back, token) == 0);
    }
    free(token);
    return 0;
}
