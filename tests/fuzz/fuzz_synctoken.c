/* Fuzz target for sync tokens, which clients send back in `sync` requests:
 * mqc_synctoken_decode() of the input (as a NUL-terminated string) for
 * alice; a version 2 token that decodes must encode back to exactly itself,
 * and no token may decode for another user. */
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
    struct mqc_syncpos pos;
    if (mqc_synctoken_decode("alice", token, &pos) == MQC_OK) {
        if (!pos.legacy) {
            char again[MQC_SYNCTOKEN_MAX + 1];
            FUZZ_CHECK(mqc_synctoken_encode("alice", &pos, again, sizeof again) == MQC_OK);
            FUZZ_CHECK(strcmp(again, token) == 0);
        }
        struct mqc_syncpos other;
        FUZZ_CHECK(mqc_synctoken_decode("bob", token, &other) == MQC_EBADREQ);
    }
    free(token);
    return 0;
}
