/* Push previews (see preview.h): the body's start, or a line for an
 * attachment sent without text; attrs parsed with cJSON. */
#include "core/preview.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/utf8.h"

/* Copy the longest prefix of s (len bytes, valid UTF-8) that fits. */
static void put_prefix(char *out, size_t outsize, const char *s, size_t len)
{
    size_t max = outsize - 1 < MQC_PREVIEW_MAX ? outsize - 1 : MQC_PREVIEW_MAX;
    size_t n = mqc_utf8_prefix(s, len, max);
    memcpy(out, s, n);
    out[n] = '\0';
}

void mqc_preview_make(const char *body, const char *attrs, char *out, size_t outsize)
{
    if (!out || outsize == 0)
        return;
    out[0] = '\0';
    if (body && *body) {
        put_prefix(out, outsize, body, strlen(body));
        return;
    }
    cJSON *root = attrs ? cJSON_Parse(attrs) : NULL;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "attachment");
    if (cJSON_IsObject(a)) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(a, "type");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(a, "name");
        char line[MQC_PREVIEW_MAX * 2];
        if (cJSON_IsString(type) && !strncmp(type->valuestring, "image/", 6))
            snprintf(line, sizeof line, "\xf0\x9f\x93\xb7 Photo");
        else if (cJSON_IsString(name) && *name->valuestring &&
                 mqc_utf8_valid(name->valuestring, strlen(name->valuestring)))
            snprintf(line, sizeof line, "\xf0\x9f\x93\x8e %.*s",
                     (int)mqc_utf8_prefix(name->valuestring, strlen(name->valuestring),
                                          MQC_PREVIEW_MAX - 5),
                     name->valuestring);
        else
            snprintf(line, sizeof line, "\xf0\x9f\x93\x8e File");
        put_prefix(out, outsize, line, strlen(line));
    }
    cJSON_Delete(root);
}
