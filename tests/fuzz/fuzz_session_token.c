/* Fuzz target for device session tokens, which arrive as MQTT passwords at
 * CONNECT, and for the session records read back from Redis: a token that
 * parses must have the exact shape (its parts rebuild the input), and a
 * record that parses must format back to exactly itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/password.h"
#include "core/session_token.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        fuzz_quiet();
        FUZZ_CHECK(mqc_password_init() == MQC_OK);
        ready = 1;
    }
    struct mqc_sess_token t;
    if (mqc_sess_parse((const char *)data, size, &t) == MQC_OK) {
        FUZZ_CHECK(size == MQC_SESS_TOKEN_LEN);
        char again[MQC_SESS_TOKEN_LEN + 1];
        snprintf(again, sizeof again, "s1.%s.%s", t.device, t.secret);
        FUZZ_CHECK(memcmp(again, data, size) == 0);
        FUZZ_CHECK(mqc_sess_device_valid(t.device));
        unsigned char key[MQC_SESS_KEY_BYTES];
        char h[MQC_SESS_HASH_LEN + 1];
        mqc_sess_key("k", key);
        mqc_sess_hash(key, "alice", &t, h);
        FUZZ_CHECK(strlen(h) == MQC_SESS_HASH_LEN);
    }
    struct mqc_sess_record r;
    if (mqc_sess_record_parse((const char *)data, size, &r) == MQC_OK) {
        char buf[MQC_SESS_RECORD_MAX];
        FUZZ_CHECK(mqc_sess_record_format(&r, buf, sizeof buf) == MQC_OK);
        /* Times may have had leading zeros; the rest must be identical. */
        FUZZ_CHECK(strcmp(r.label, buf + strlen(buf) - strlen(r.label)) == 0);
    }
    char *s = fuzz_strndup(data, size);
    (void)mqc_sess_label_valid(s);
    free(s);
    return 0;
}
