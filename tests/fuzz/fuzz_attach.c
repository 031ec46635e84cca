/* Fuzz target for what attachments read from the network: a download's key
 * (mqc_attach_key_valid), a file name sanitised into a key
 * (mqc_attach_sanitise_name, mqc_attach_key_new) and a message's raw attrs
 * text turned into a push preview (mqc_preview_make). Oracles: a sanitised
 * name has only [A-Za-z0-9._-], no leading dot, at most MQC_ATTACH_NAME_MAX
 * bytes; a new key is valid for its conversation and for no other; a key
 * accepted for "c1" starts with "c1/" and holds no ".." segment; a preview
 * is at most MQC_PREVIEW_MAX bytes of valid UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "core/attach.h"
#include "core/preview.h"
#include "core/utf8.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    if (mqc_attach_key_valid("c1", s)) {
        FUZZ_CHECK(!strncmp(s, "c1/", 3));
        FUZZ_CHECK(!strstr(s, "/..") && !strstr(s, "../"));
        FUZZ_CHECK(!mqc_attach_key_valid("c2", s));
    }

    char name[MQC_ATTACH_NAME_MAX + 1];
    mqc_attach_sanitise_name(s, name, sizeof name);
    FUZZ_CHECK(strlen(name) <= MQC_ATTACH_NAME_MAX);
    FUZZ_CHECK(name[0] != '.');
    for (const char *p = name; *p; p++)
        FUZZ_CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p));
    char key[MQC_ATTACH_KEY_MAX + 1];
    FUZZ_CHECK(mqc_attach_key_new("c1", s, key, sizeof key) == 0);
    FUZZ_CHECK(mqc_attach_key_valid("c1", key));
    FUZZ_CHECK(!mqc_attach_key_valid("c2", key));

    char pv[MQC_PREVIEW_MAX + 1];
    mqc_preview_make("", s, pv, sizeof pv);
    FUZZ_CHECK(strlen(pv) <= MQC_PREVIEW_MAX && mqc_utf8_valid(pv, strlen(pv)));
    free(s);
    return 0;
}
