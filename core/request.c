/* Request parsing: one table of ops, one function per op's fields. */
#include "core/request.h"

#include <stdlib.h>
#include <string.h>

#include "core/envelope.h"
#include "core/err.h"
#include "core/id.h"

static const struct {
    const char *name;
    enum mqc_op op;
} ops[] = {
    {"create", MQC_OP_CREATE}, {"add", MQC_OP_ADD},         {"remove", MQC_OP_REMOVE},
    {"leave", MQC_OP_LEAVE},   {"convs", MQC_OP_CONVS},     {"history", MQC_OP_HISTORY},
};

static const char *get_str(const cJSON *root, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int get_conv(const cJSON *root, struct mqc_req *r, const char **why)
{
    r->conv = get_str(root, "conv");
    if (!mqc_id_valid_str(r->conv)) {
        *why = "conv must be a conversation id";
        return MQC_EBADREQ;
    }
    return MQC_OK;
}

/* members: a non-empty array of distinct valid ids, at most max (plus me when
 * add_me, which is put first and never duplicated). */
static int get_members(const cJSON *root, const char *me, bool add_me, size_t max,
                       struct mqc_req *r, const char **why)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "members");
    if (!cJSON_IsArray(arr)) {
        *why = "members must be an array of user ids";
        return MQC_EBADREQ;
    }
    int n = cJSON_GetArraySize(arr);
    if ((n == 0 && !add_me) || (size_t)n > max) {
        *why = n == 0 ? "members must not be empty" : "too many members";
        return MQC_EBADREQ;
    }
    r->members = calloc((size_t)n + 1, sizeof *r->members);
    if (!r->members) {
        *why = "out of memory";
        return MQC_ENOMEM;
    }
    if (add_me)
        r->members[r->nmembers++] = me;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it) || !mqc_id_valid_str(it->valuestring)) {
            *why = "members must be an array of user ids";
            return MQC_EBADREQ;
        }
        bool dup = false;
        for (size_t i = 0; i < r->nmembers && !dup; i++)
            dup = strcmp(r->members[i], it->valuestring) == 0;
        if (!dup)
            r->members[r->nmembers++] = it->valuestring;
    }
    if (r->nmembers > max) {
        *why = "too many members";
        return MQC_EBADREQ;
    }
    return MQC_OK;
}

static int parse_create(const cJSON *root, const char *me, size_t max, struct mqc_req *r,
                        const char **why)
{
    const char *kind = get_str(root, "kind");
    if (kind && strcmp(kind, "direct") == 0) {
        r->with = get_str(root, "with");
        if (!mqc_id_valid_str(r->with)) {
            *why = "with must be a user id";
            return MQC_EBADREQ;
        }
        if (strcmp(r->with, me) == 0) {
            *why = "a direct conversation needs another user";
            return MQC_EBADREQ;
        }
        return MQC_OK;
    }
    if (!kind || strcmp(kind, "group") != 0) {
        *why = "kind must be \"direct\" or \"group\"";
        return MQC_EBADREQ;
    }
    r->group = true;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "title");
    if (t && !cJSON_IsNull(t)) {
        if (!cJSON_IsString(t) || strlen(t->valuestring) > MQC_TITLE_MAX) {
            *why = "title must be a string of at most 256 bytes";
            return MQC_EBADREQ;
        }
        r->title = t->valuestring;
    } else {
        r->title = "";
    }
    return get_members(root, me, true, max, r, why);
}

static int parse_history(const cJSON *root, struct mqc_req *r, const char **why)
{
    int rc = get_conv(root, r, why);
    if (rc != MQC_OK)
        return rc;
    r->before = -1;
    rc = mqc_envelope_int(root, "before", 0, MQC_SEQ_MAX, &r->before);
    if (rc == MQC_EBADREQ) {
        *why = "before must be a whole number >= 0";
        return rc;
    }
    r->limit = MQC_HISTORY_DEFAULT;
    rc = mqc_envelope_int(root, "limit", 1, MQC_SEQ_MAX, &r->limit);
    if (rc == MQC_EBADREQ) {
        *why = "limit must be a whole number >= 1";
        return rc;
    }
    if (r->limit > MQC_HISTORY_MAX)
        r->limit = MQC_HISTORY_MAX;
    return MQC_OK;
}

int mqc_req_parse(const cJSON *root, const char *me, size_t max_members, struct mqc_req *r,
                  const char **why)
{
    memset(r, 0, sizeof *r);
    r->req = mqc_envelope_ref(root, "req");
    if (!r->req) {
        *why = "req must be a string of 1-64 characters";
        return MQC_EBADREQ;
    }
    const char *op = get_str(root, "op");
    size_t i = 0;
    for (; op && i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(ops[i].name, op) == 0)
            break;
    }
    if (!op || i == sizeof ops / sizeof ops[0]) {
        *why = "unknown op";
        return MQC_EBADREQ;
    }
    r->op = ops[i].op;
    r->op_name = ops[i].name;
    switch (r->op) {
    case MQC_OP_CREATE:
        return parse_create(root, me, max_members, r, why);
    case MQC_OP_ADD:
    case MQC_OP_REMOVE: {
        int rc = get_conv(root, r, why);
        return rc != MQC_OK ? rc : get_members(root, me, false, max_members, r, why);
    }
    case MQC_OP_LEAVE:
        return get_conv(root, r, why);
    case MQC_OP_CONVS:
        return MQC_OK;
    case MQC_OP_HISTORY:
        return parse_history(root, r, why);
    }
    return MQC_EBADREQ;
}

void mqc_req_cleanup(struct mqc_req *r)
{
    if (!r)
        return;
    free(r->members);
    r->members = NULL;
    r->nmembers = 0;
}
