/* Fuzz target for the push bridge's config file: the input as file text
 * through mqc_bridge_config_init/parse/finish/cleanup. Oracles: every
 * refusal writes a terminated reason; after a successful finish the base
 * URLs start with https:// and do not end in '/', the APNs trio is all set
 * or all unset, and consumer is set. */
#include <stdbool.h>
#include <string.h>

#include "bridge/config.h"
#include "core/err.h"
#include "tests/fuzz/fuzz.h"

static void check_url(const char *u)
{
    if (!u)
        return;
    FUZZ_CHECK(strncmp(u, "https://", 8) == 0);
    size_t n = strlen(u);
    FUZZ_CHECK(n == 0 || u[n - 1] != '/');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *text = fuzz_strndup(data, size);
    struct mqc_bridge_config c;
    if (mqc_bridge_config_init(&c) != MQC_OK) {
        free(text);
        return 0;
    }
    char err[256];
    memset(err, 'x', sizeof err);
    int rc = mqc_bridge_config_parse(&c, text, err, sizeof err);
    if (rc != MQC_OK) {
        FUZZ_CHECK(rc == MQC_EBADREQ || rc == MQC_ENOMEM);
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
    } else {
        memset(err, 'x', sizeof err);
        rc = mqc_bridge_config_finish(&c, err, sizeof err);
        if (rc == MQC_OK) {
            check_url(c.apns_base_url);
            check_url(c.apns_sandbox_base_url);
            check_url(c.fcm_base_url);
            bool a = c.apns_key_file != NULL, b = c.apns_key_id != NULL, d = c.apns_team_id != NULL;
            FUZZ_CHECK(a == b && b == d);
            FUZZ_CHECK(c.consumer != NULL);
            FUZZ_CHECK(mqc_bridge_apns_enabled(&c) == a);
            (void)mqc_bridge_fcm_enabled(&c);
        } else {
            FUZZ_CHECK(rc == MQC_EBADREQ || rc == MQC_ENOMEM);
            FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
        }
    }
    mqc_bridge_config_cleanup(&c);
    free(text);
    return 0;
}
