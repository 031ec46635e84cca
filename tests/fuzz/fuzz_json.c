/* Fuzz target for the strict JSON scanner (core/json.h) that every client
 * payload and JWT passes before cJSON reads it. Oracles, with cJSON as the
 * reference reader: whatever the scanner accepts, cJSON parses too, and the
 * tree has no object with two equal keys (cJSON decodes keys, so escaped
 * and plain spellings meet); the span of the top-level "attrs" member is a
 * value that scans alone and reads as the tree's attrs; minify keeps the
 * value (same tree), scans clean and is idempotent. A refusal gives a
 * reason and an offset inside the text. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/json.h"
#include "tests/fuzz/fuzz.h"

/* Does any object in the tree hold two members with the same name? */
static bool tree_has_duplicate(const cJSON *j)
{
    for (const cJSON *c = j ? j->child : NULL; c; c = c->next) {
        if (cJSON_IsObject(j))
            for (const cJSON *d = c->next; d; d = d->next)
                if (strcmp(c->string, d->string) == 0)
                    return true;
        if (tree_has_duplicate(c))
            return true;
    }
    return false;
}

/* The same value: types, names and order, strings byte for byte, numbers
 * as doubles (1e400 reads as infinity on both sides, which cJSON_Compare
 * would call unequal). */
static bool same(const cJSON *a, const cJSON *b)
{
    if ((a->type & 0xFF) != (b->type & 0xFF))
        return false;
    if ((a->string == NULL) != (b->string == NULL) || (a->string && strcmp(a->string, b->string)))
        return false;
    if (cJSON_IsNumber(a))
        return a->valuedouble == b->valuedouble ||
               (a->valuedouble != a->valuedouble && b->valuedouble != b->valuedouble);
    if (cJSON_IsString(a))
        return strcmp(a->valuestring, b->valuestring) == 0;
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next)
        if (!same(x, y))
            return false;
    return !x && !y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    const char *text = (const char *)data;
    /* the first byte picks a depth limit, so shallow limits are hit too */
    struct mqc_json_scan sc = {.max_depth = size ? 1 + data[0] % 70 : 64, .member = "attrs"};
    int rc = mqc_json_scan(text, size, &sc);
    if (rc != MQC_OK) {
        FUZZ_CHECK(rc == MQC_EBADREQ || rc == MQC_ENOMEM);
        FUZZ_CHECK(rc == MQC_ENOMEM || (sc.why != NULL && sc.err_off <= size));
        return 0;
    }
    cJSON *tree = cJSON_ParseWithLength(text, size);
    FUZZ_CHECK(tree != NULL);
    FUZZ_CHECK(!tree_has_duplicate(tree));
    switch (sc.type) {
    case MQC_JSON_OBJECT:
        FUZZ_CHECK(cJSON_IsObject(tree));
        break;
    case MQC_JSON_ARRAY:
        FUZZ_CHECK(cJSON_IsArray(tree));
        break;
    case MQC_JSON_STRING:
        FUZZ_CHECK(cJSON_IsString(tree));
        break;
    case MQC_JSON_NUMBER:
        FUZZ_CHECK(cJSON_IsNumber(tree));
        break;
    case MQC_JSON_LITERAL:
        FUZZ_CHECK(cJSON_IsBool(tree) || cJSON_IsNull(tree));
        break;
    }

    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(tree, "attrs");
    FUZZ_CHECK((sc.member_len != 0) == (sc.type == MQC_JSON_OBJECT && attrs != NULL));
    if (sc.member_len) {
        FUZZ_CHECK(sc.member_off + sc.member_len <= size);
        struct mqc_json_scan one = {.max_depth = 64};
        FUZZ_CHECK(mqc_json_scan(text + sc.member_off, sc.member_len, &one) == MQC_OK);
        cJSON *alone = cJSON_ParseWithLength(text + sc.member_off, sc.member_len);
        FUZZ_CHECK(alone != NULL);
        /* the member's name is not part of its value */
        const char *name = attrs->string;
        ((cJSON *)attrs)->string = NULL;
        FUZZ_CHECK(same(alone, attrs));
        ((cJSON *)attrs)->string = (char *)name;
        cJSON_Delete(alone);
    }

    char *min = malloc(size ? size : 1);
    FUZZ_CHECK(min != NULL);
    size_t n = mqc_json_minify(text, size, min);
    FUZZ_CHECK(n <= size);
    struct mqc_json_scan again = {.max_depth = sc.max_depth};
    FUZZ_CHECK(mqc_json_scan(min, n, &again) == MQC_OK && again.type == sc.type);
    cJSON *mtree = cJSON_ParseWithLength(min, n);
    FUZZ_CHECK(mtree != NULL && same(mtree, tree));
    cJSON_Delete(mtree);
    char *min2 = malloc(n ? n : 1);
    FUZZ_CHECK(min2 != NULL);
    FUZZ_CHECK(mqc_json_minify(min, n, min2) == n && memcmp(min, min2, n) == 0);
    free(min2);
    free(min);
    cJSON_Delete(tree);
    return 0;
}
