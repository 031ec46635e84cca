/* Fuzz target for the plugin's option table: the input split into lines of
 * "key value" (key up to the first space, the rest as the value, "" when
 * there is none), each fed to mqc_config_set() as mosquitto would pass a
 * plugin_opt_* pair, then mqc_config_finish() and mqc_config_cleanup().
 * Oracles: every refusal writes a terminated reason. */
#include <string.h>

#include "core/config.h"
#include "core/err.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *text = fuzz_strndup(data, size);
    struct mqc_config cfg;
    if (mqc_config_init(&cfg) != MQC_OK) {
        free(text);
        return 0;
    }
    char err[256];
    char *line = text;
    while (line) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *value = strchr(line, ' ');
        if (value)
            *value++ = '\0';
        else
            value = line + strlen(line);
        memset(err, 'x', sizeof err);
        err[0] = '\0';
        int rc = mqc_config_set(&cfg, line, value, err, sizeof err);
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
        if (rc != MQC_OK)
            FUZZ_CHECK(rc == MQC_EBADREQ || rc == MQC_ENOMEM);
        line = next;
    }
    err[0] = '\0';
    int rc = mqc_config_finish(&cfg, err, sizeof err);
    FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
    if (rc == MQC_OK)
        FUZZ_CHECK(cfg.key_prefix != NULL && cfg.redis_host != NULL);
    mqc_config_cleanup(&cfg);
    free(text);
    return 0;
}
